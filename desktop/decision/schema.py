"""The Decide tab's tables: checklist answers, inputs and snapshots."""

from __future__ import annotations

from desktop.workspace.migration import Migration

TABLES = ("decision_answers", "decision_inputs", "decision_snapshots")
"""The tables this package owns: no module outside it names them."""

DECISION_V7 = Migration(
    7,
    "decision: checklist answers, inputs and snapshots",
    """
CREATE TABLE decision_answers (
    question_id TEXT PRIMARY KEY,
    answer      TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'unsure')),
    updated_at  REAL NOT NULL
) STRICT;
CREATE TABLE decision_inputs (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    latency_budget_ms REAL,
    requests_per_day  INTEGER,
    system_prompt     TEXT NOT NULL DEFAULT '',
    updated_at        REAL NOT NULL
) STRICT;
CREATE TABLE decision_snapshots (
    id             INTEGER PRIMARY KEY,
    at             REAL NOT NULL,
    answers        TEXT NOT NULL,
    evidence       TEXT NOT NULL,
    recommendation TEXT NOT NULL
) STRICT;
CREATE INDEX decision_snapshots_by_time ON decision_snapshots(at);
""",
)
