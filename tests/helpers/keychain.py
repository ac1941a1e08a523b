"""Keychain doubles for tests.

Per shared NOTES: a KeyringBackend subclass registers itself globally and may be picked
as the default for the whole session, so these backends refuse auto-selection
(priority < 0) and are only ever passed explicitly."""

from __future__ import annotations

import threading

import keyring.backend
import keyring.backends.fail

from desktop.providers.secrets import SecretStore


class BlockingKeyring(keyring.backend.KeyringBackend):
    """Behaves like a locked keychain showing an unlock prompt: every call blocks until
    ``release`` is set."""

    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(30)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(30)

    def delete_password(self, service: str, username: str) -> None:
        self.release.wait(30)


def session_only_secrets() -> SecretStore:
    backend = keyring.backends.fail.Keyring()
    return SecretStore(backend, detect=lambda: backend)
