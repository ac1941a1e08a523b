"""Choosing a local model through the retrieval front door: the time estimate, the old
vectors kept until the new index is complete, and the vector file written by the index run."""

from __future__ import annotations

import contextlib
from pathlib import Path

from desktop.progress import Cancelled, CancelToken, drive, run_to_end
from desktop.providers.client import ProviderAccess
from desktop.retrieval.service import RATE_META, EmbedderChoice, RetrievalService
from desktop.retrieval.vector_store import open_segment, vector_path
from desktop.settings import EnvOverrides, Settings
from desktop.workspace import Workspace
from tests.retrieval.conftest import import_texts

DOCS = {
    "refunds.md": "# Refunds\n\nRefunds reach your card within 14 days of the return.",
    "ports.md": "# Network\n\nThe Hub listens on TCP port 47120 for the desktop app.",
    "cats.md": "# Cats\n\nCats sleep for most of the day and hunt at dusk.",
}
MINILM, STATIC = "minilm-l6-v2-int8", "minilm-l6-v2-static256"


def service_for(workspace: Workspace, holder: dict[str, Settings]) -> RetrievalService:
    return RetrievalService(
        workspace,
        lambda: holder["settings"],
        ProviderAccess(lambda: holder["settings"], None, EnvOverrides(None, None)),
    )


def test_changing_the_model_estimates_the_time_and_keeps_the_old_vectors_until_complete(
    workspace: Workspace, tmp_path: Path
) -> None:
    import_texts(workspace, tmp_path / "docs", DOCS)
    holder = {"settings": Settings(retrieval_embedder="local", local_model=MINILM)}
    service = service_for(workspace, holder)
    embedder, plan = service.plan()
    assert "at the rate measured on 2 cores" in plan.describe() and plan.seconds is not None
    run_to_end(service.index(embedder, plan))
    assert service.active() == EmbedderChoice("local", MINILM)
    # The index run left the vector file behind: the next process maps it.
    base = open_segment(vector_path(workspace, embedder.key, "base"), embedder.key, "base")
    assert base.rows == 3

    holder["settings"] = holder["settings"].replace(local_model=STATIC)
    new, plan = service.plan()
    assert new.key.model == STATIC and len(plan.missing) == 3
    cancel = CancelToken()
    steps = service.index(new, plan)
    cancel.cancel()
    with contextlib.suppress(Cancelled):
        drive(steps, lambda _step: None, cancel)
    assert service.active() == EmbedderChoice("local", MINILM)  # still the complete one
    result = service.search("How long do refunds take?")
    assert result.indexed_chunks == 3 and "minilm-l6-v2-int8" in service.status().embedder

    workspace.set_meta(RATE_META + f"local/{STATIC}", "1000.0")
    _, plan = service.plan()
    assert "at the rate measured on this computer" in plan.describe()
    run_to_end(service.index(new, plan))
    assert service.active() == EmbedderChoice("local", STATIC)
    assert service.search("refunds").results[0].document == "Refunds"


def test_the_compact_vectors_setting_chooses_the_approximate_index_storage(
    workspace: Workspace,
) -> None:
    holder = {"settings": Settings(retrieval_embedder="local", local_model=STATIC)}
    service = service_for(workspace, holder)
    index = service.retriever().index
    assert index is not None and index.storage == "int8"  # on by default
    holder["settings"] = holder["settings"].replace(compact_vectors=False)
    assert service.retriever().index is index and index.storage == "float32"
