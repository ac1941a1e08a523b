from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.finetune.store import DatasetStore
from desktop.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATASET = ROOT / "resources" / "datasets" / "support-replies.jsonl"
MODEL = "gpt-4o-mini"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(tmp_path / "finetune.ragtune.sqlite")
    yield ws
    ws.close()


@pytest.fixture
def store(workspace: Workspace) -> DatasetStore:
    ticks = iter(range(1_000_000))
    return DatasetStore(workspace, clock=lambda: float(next(ticks)))
