"""Fixtures: a workspace with a small indexed library, pointed at the fake server
(registered for every test through ``pytest_plugins`` in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.chat.session import ChatSession
from desktop.context import AppContext
from desktop.progress import run_to_end
from desktop.retrieval.service import RetrievalService
from tests.helpers.fake_openai import FakeOpenAI

DOCS = {
    "refunds.md": "# Refunds\n\nMoney is returned within 14 days after the device arrives "
    "back at our warehouse.",
    "ports.md": "# Network\n\nThe Hub listens on TCP port 47120 for Agents on the LAN.",
    "errors.md": "# Errors\n\nLFS-4012 means the shelf quota is exhausted; free space or "
    "raise the quota.",
}


@pytest.fixture
def chat_context(app_context: AppContext, fake_openai: FakeOpenAI, tmp_path: Path) -> AppContext:
    """A workspace with a small indexed library, pointed at the fake server."""
    settings = app_context.settings.replace(
        provider="custom",
        base_url=fake_openai.base_url,
        chat_model="gpt-4.1-mini",
        retrieval_embedder="local",
        request_timeout=5.0,
        similarity_threshold=0.0,
        search_k=3,
    )
    app_context.save_settings(settings)
    app_context.secrets.set(f"api-key:{fake_openai.base_url}", "sk-chat-test")
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    run_to_end(app_context.library().import_paths([folder]))
    return app_context


@pytest.fixture
def retrieval(chat_context: AppContext) -> RetrievalService:
    service = chat_context.retrieval()
    embedder, plan = service.plan()
    run_to_end(service.index(embedder, plan))
    return service


def session(context: AppContext, retrieval: RetrievalService | None) -> ChatSession:
    """The chat's front door over ``context``'s workspace, with ``retrieval``."""
    return ChatSession(context.workspace, context.current_settings, context.provider, retrieval)
