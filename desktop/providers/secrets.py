"""The API key's one home: the OS keychain, through ``keyring``.

When no secure backend exists (a headless Linux box without a Secret Service) the key is
kept in memory for this session only and the user is told so; it is never written to a
file. Every keyring call runs on a helper thread with a timeout, because a locked
keychain with a display can open an unlock prompt and block for as long as it is open.
``keyring`` itself is imported on first use, off the start-up path."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import keyring.backend

log = logging.getLogger(__name__)

SERVICE = "RAGTune"
T = TypeVar("T")

# Backends that keep secrets encrypted by the OS. Anything else (fail, null, keyrings.alt's
# plain files) does not count as a keychain.
_SECURE_MODULES = (
    "keyring.backends.SecretService",
    "keyring.backends.libsecret",
    "keyring.backends.kwallet",
    "keyring.backends.macOS",
    "keyring.backends.Windows",
)


class SecretStoreError(Exception):
    """The keychain failed in a way the user should hear about (locked, not answering)."""


@dataclass(frozen=True)
class BackendInfo:
    name: str
    secure: bool

    @property
    def description(self) -> str:
        if self.secure:
            return f"OS keychain ({self.name})"
        return (
            "No secure keychain is available on this system "
            f"(backend: {self.name}). The API key is kept for this session only and "
            "will be asked for again next time."
        )


def _leaf_backends(backend: keyring.backend.KeyringBackend) -> list[keyring.backend.KeyringBackend]:
    children = getattr(backend, "backends", None)
    if isinstance(children, list | tuple):
        return [leaf for child in children for leaf in _leaf_backends(child)]
    return [backend]


def is_secure(backend: keyring.backend.KeyringBackend) -> bool:
    return any(
        type(leaf).__module__.startswith(_SECURE_MODULES) for leaf in _leaf_backends(backend)
    )


def describe(backend: keyring.backend.KeyringBackend) -> BackendInfo:
    leaves = _leaf_backends(backend)
    secure = [leaf for leaf in leaves if is_secure(leaf)]
    shown = secure[0] if secure else backend
    name = f"{type(shown).__module__.removeprefix('keyring.backends.')}.{type(shown).__name__}"
    return BackendInfo(name=name, secure=bool(secure))


def account_for(base_url: str) -> str:
    """One key per server: the OpenAI key must not be sent to a local test server."""
    return f"api-key:{base_url.rstrip('/')}"


class SecretStore:
    def __init__(
        self,
        backend: keyring.backend.KeyringBackend | None = None,
        *,
        timeout: float = 5.0,
        detect: Callable[[], keyring.backend.KeyringBackend] | None = None,
        trust_backend: bool = False,
    ) -> None:
        """``trust_backend`` treats the given backend as a secure keychain even though
        RAGTune does not know it (a third-party keyring plug-in the user chose)."""
        self._trust = trust_backend and backend is not None
        self._detect = detect
        self._backend = backend
        self._timeout = timeout
        self._session: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        import keyring

        if self._backend is None:
            self._backend = self._detect() if self._detect else keyring.get_keyring()
        return self._backend

    def info(self) -> BackendInfo:
        info = describe(self.backend)
        return BackendInfo(info.name, True) if self._trust else info

    @property
    def secure(self) -> bool:
        return self._trust or is_secure(self.backend)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        import keyring.errors

        box: dict[str, object] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=run, name=f"keyring-{what}", daemon=True)
        thread.start()
        thread.join(self._timeout)
        if thread.is_alive():
            raise SecretStoreError(
                f"The keychain did not answer within {self._timeout:g} s ({what}). It may be "
                "locked and waiting for its password; unlock it and try again."
            )
        if "error" in box:
            exc = box["error"]
            if isinstance(exc, keyring.errors.KeyringLocked):
                raise SecretStoreError(
                    "The keychain is locked. Unlock it (or log in again) and try again."
                ) from exc
            if isinstance(exc, keyring.errors.KeyringError):
                raise SecretStoreError(f"The keychain refused to {what}: {exc}") from exc
            raise exc  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]

    def get(self, account: str) -> str | None:
        with self._lock:
            if account in self._session:
                return self._session[account]
        if not self.secure:
            return None
        return self._call("read the key", lambda: self.backend.get_password(SERVICE, account))

    def set(self, account: str, secret: str) -> bool:
        """Store the secret; True when it went to a secure keychain, False when it is kept
        for this session only."""
        if not self.secure:
            self.redetect()
        if self.secure:
            self._call("store the key", lambda: self.backend.set_password(SERVICE, account, secret))
            with self._lock:
                self._session.pop(account, None)
            return True
        log.warning("No secure keychain: the API key is kept in memory for this session only")
        with self._lock:
            self._session[account] = secret
        return False

    def delete(self, account: str) -> None:
        import keyring.errors

        with self._lock:
            self._session.pop(account, None)
        if not self.secure:
            return

        def remove() -> None:
            # Nothing stored is already the state we want.
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                self.backend.delete_password(SERVICE, account)

        self._call("delete the key", remove)

    def redetect(self) -> BackendInfo:
        """Look for a secure backend again (a Secret Service may have started since), and
        move session-only keys into it when one appears."""
        import keyring
        import keyring.core

        try:
            if self._detect is None:
                keyring.core.init_backend()
                self._backend = keyring.get_keyring()
            else:
                self._backend = self._detect()
        except Exception:
            log.exception("keyring backend detection failed")
        info = self.info()
        if info.secure:
            with self._lock:
                pending = dict(self._session)
            for account, secret in pending.items():
                self.set(account, secret)
        return info
