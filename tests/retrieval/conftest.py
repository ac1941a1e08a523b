from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from desktop.library.service import LibraryService
from desktop.progress import run_to_end
from desktop.settings import Settings
from desktop.workspace import Workspace
from tests.helpers.fake_openai import FakeOpenAI


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(tmp_path / "r.ragtune.sqlite")
    yield ws
    ws.close()


@pytest.fixture
def client(fake_openai: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=fake_openai.base_url, api_key="sk-test", max_retries=0, timeout=10
    ) as c:
        yield c


def import_texts(workspace: Workspace, folder: Path, texts: dict[str, str]) -> LibraryService:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    service = LibraryService(workspace, Settings())
    run_to_end(service.import_paths([folder]))
    return service
