from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.finetune.store import DATASET_MIGRATION_SQL, DatasetStore
from desktop.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATASET = ROOT / "resources" / "datasets" / "support-replies.jsonl"
MODEL = "gpt-4o-mini"


def add_dataset_tables(workspace: Workspace) -> None:
    """Create the dataset tables the way the lead's migration will (until it is in
    desktop/workspace/schema.py); executescript commits on its own."""
    conn = workspace.connection()
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'datasets'"
    ).fetchone()
    if exists is None:
        conn.executescript(DATASET_MIGRATION_SQL)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(tmp_path / "finetune.ragtune.sqlite")
    add_dataset_tables(ws)
    yield ws
    ws.close()


@pytest.fixture
def store(workspace: Workspace) -> DatasetStore:
    ticks = iter(range(1_000_000))
    return DatasetStore(workspace, clock=lambda: float(next(ticks)))
