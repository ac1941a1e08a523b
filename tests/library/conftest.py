from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.library.service import LibraryService
from desktop.settings import Settings
from desktop.workspace import Workspace


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LibraryService]:
    workspace = Workspace(tmp_path / "library.ragtune.sqlite")
    yield LibraryService(workspace, Settings())
    workspace.close()
