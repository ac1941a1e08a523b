"""The workspace's schema versions, in order. Each package declares its tables and
migrations in its own ``schema.py``; this list only orders them. ``meta`` (version 1) is
the workspace's own key/value table."""

from __future__ import annotations

from desktop.chat import schema as chat
from desktop.decision import schema as decision
from desktop.evaluation import schema as evaluation
from desktop.finetune import schema as finetune
from desktop.library import schema as library
from desktop.retrieval import schema as retrieval
from desktop.workspace.migration import Migration

TABLES = ("meta",)

META_V1 = Migration(
    1,
    "workspace metadata",
    """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;
        """,
)

MIGRATIONS: tuple[Migration, ...] = (
    META_V1,
    library.LIBRARY_V2,
    retrieval.RETRIEVAL_V3,
    chat.CHAT_V4,
    finetune.DATASETS_V5,
    finetune.JOBS_V6,
    decision.DECISION_V7,
    retrieval.RETRIEVAL_V8,
    retrieval.RETRIEVAL_V9,
    library.LIBRARY_V10,
    retrieval.stemmed_index(11),
    evaluation.EVALUATION_V12,
    library.LIBRARY_V13,
    retrieval.RETRIEVAL_V14,
)

LATEST_VERSION = MIGRATIONS[-1].version

OWNERS: dict[str, str] = {
    table: package
    for package, module in (
        ("desktop.workspace", None),
        ("desktop.library", library),
        ("desktop.retrieval", retrieval),
        ("desktop.chat", chat),
        ("desktop.finetune", finetune),
        ("desktop.decision", decision),
        ("desktop.evaluation", evaluation),
    )
    for table in (TABLES if module is None else module.TABLES)
}
"""Which package owns each table (the layer guard checks SQL against it)."""

assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
