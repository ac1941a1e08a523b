from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.evaluation.store import EvalStore
from desktop.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(tmp_path / "eval.ragtune.sqlite")
    yield ws
    ws.close()


@pytest.fixture
def store(workspace: Workspace) -> EvalStore:
    ticks = iter(range(1, 1_000_000))
    return EvalStore(workspace, clock=lambda: float(next(ticks)))
