from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from desktop.library.service import LibraryService
from desktop.progress import run_to_end
from desktop.retrieval.embedders import OpenAIEmbedder
from desktop.retrieval.indexing import plan_index, run_index
from desktop.retrieval.search import Retriever
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


DOCS = {
    "refunds.md": "# Refunds\n\nMoney is returned within 14 days after the device arrives "
    "back at our warehouse.",
    "ports.md": "# Network\n\nThe Hub listens on TCP port 47120 for Agents on the LAN.",
    "errors.md": "# Errors\n\nLFS-4012 means the shelf quota is exhausted; free space or "
    "raise the quota.",
    "pricing.md": "# Plans\n\nThe Business plan costs 12 euros per user per month.",
}


@pytest.fixture
def indexed(workspace: Workspace, tmp_path: Path, client: openai.OpenAI) -> Retriever:
    import_texts(workspace, tmp_path / "docs", DOCS)
    embedder = OpenAIEmbedder(client, "text-embedding-3-small")
    run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    return Retriever(workspace, embedder)
