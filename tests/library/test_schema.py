"""The library's tables across schema versions, and how chunks are looked up."""

from __future__ import annotations

from pathlib import Path

from desktop.workspace import Workspace
from desktop.workspace.schema import LATEST_VERSION
from tests.helpers.old_workspace import old_workspace
from tests.retrieval.conftest import import_texts


def _indexes(workspace: Workspace) -> set[str]:
    rows = workspace.connection().execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    return {str(name) for (name,) in rows}


def test_a_version_12_library_keeps_its_chunks_without_the_text_hash_index(
    tmp_path: Path,
) -> None:
    """Nothing looks chunks up by text hash any more (texts are fetched by chunk id), and
    the index cost ~6% of an import: version 13 drops it and keeps every chunk."""
    path = old_workspace(tmp_path / "old.ragtune.sqlite", 12)
    notes = {
        "a.md": "# Pumps\n\nThe pump primes in ten seconds.\n",
        "b.md": "# Valves\n\nClose the valve before you open the pump.\n",
    }
    with Workspace(path) as workspace:
        assert workspace.schema_version == LATEST_VERSION == 14
        assert "chunks_by_text_hash" not in _indexes(workspace)
        service = import_texts(workspace, tmp_path / "notes", notes)
        chunks = service.chunks()
        texts = service.library.chunk_texts([c.id for c in chunks] + [10_000])
        # with each text's hash; a chunk that is gone is left out
        assert texts == {c.id: (c.text_hash, c.text) for c in chunks}
        assert any("primes in ten seconds" in text for _, text in texts.values())


def test_a_new_library_has_no_text_hash_index(tmp_path: Path) -> None:
    with Workspace(tmp_path / "new.ragtune.sqlite") as workspace:
        assert "chunks_by_document" in _indexes(workspace)
        assert "chunks_by_text_hash" not in _indexes(workspace)
