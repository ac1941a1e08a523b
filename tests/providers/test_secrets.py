from __future__ import annotations

import logging
import time

import keyring.backends.fail
import pytest

from desktop.logs import redact, register_secret, setup_logging
from desktop.providers.secrets import SecretStore, SecretStoreError, account_for
from tests.helpers.keychain import BlockingKeyring


def test_without_a_secure_backend_the_key_is_kept_for_the_session_only() -> None:
    backend = keyring.backends.fail.Keyring()
    store = SecretStore(backend, detect=lambda: backend)
    info = store.info()
    assert not info.secure
    assert "session only" in info.description
    assert store.set(account_for("http://x/v1"), "sk-session-123456") is False
    assert store.get(account_for("http://x/v1")) == "sk-session-123456"
    assert store.get(account_for("http://other/v1")) is None


def test_a_secure_backend_that_appears_later_receives_the_session_key() -> None:
    fail = keyring.backends.fail.Keyring()
    store = SecretStore(fail, detect=lambda: fail)
    store.set("acct", "sk-moved-123456")

    class Memory(BlockingKeyring):
        def __init__(self) -> None:
            super().__init__()
            self.data: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.data.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.data[(service, username)] = password

    memory = Memory()
    store._detect = lambda: memory  # the Secret Service started meanwhile
    store._trust = True
    store.redetect()
    assert memory.data == {("RAGTune", "acct"): "sk-moved-123456"}


def test_a_locked_keychain_times_out_instead_of_hanging() -> None:
    backend = BlockingKeyring()
    store = SecretStore(backend, timeout=0.3, trust_backend=True)
    started = time.monotonic()
    with pytest.raises(SecretStoreError, match="did not answer"):
        store.get("acct")
    assert time.monotonic() - started < 2
    backend.release.set()


def test_the_key_is_redacted_from_logs(tmp_path) -> None:
    register_secret("custom-secret-abc")
    assert "custom-secret-abc" not in redact("key=custom-secret-abc")
    assert "sk-proj-abcdef123456" not in redact("bad key sk-proj-abcdef123456 here")
    assert "tok123" not in redact('{"Authorization": "Bearer tok123"}')
    path = setup_logging(tmp_path)
    logging.getLogger("desktop.test").warning("using key custom-secret-abc")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "using key «redacted»" in text
    assert "custom-secret-abc" not in text
