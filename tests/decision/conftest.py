from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.workspace import Workspace
from tests.decision.builders import Builder


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(tmp_path / "decide.ragtune.sqlite")
    yield ws
    ws.close()


@pytest.fixture
def build(workspace: Workspace) -> Builder:
    return Builder(workspace)
