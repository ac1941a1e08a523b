"""Access to the real Secret Service the test command starts (gnome-keyring under
dbus-run-session, see packaging/test-session.sh)."""

from __future__ import annotations

import os

import keyring
import pytest

from desktop.providers.secrets import is_secure

UNLOCK_PASSWORD = b"ragtune-test"  # the throwaway keyring's password, set by the test script


def require_secret_service() -> None:
    """Skip when no Secret Service runs, unless the test command demanded one (then a
    missing keychain is a failure, so CI cannot silently skip these tests)."""
    if is_secure(keyring.get_keyring()):
        return
    message = "no Secret Service is running (run the tests with the README's test command)"
    if os.environ.get("RAGTUNE_FULL_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def lock_default_collection() -> None:
    import secretstorage

    with secretstorage.dbus_init() as conn:  # type: ignore[attr-defined]
        secretstorage.get_default_collection(conn).lock()


def unlock_default_collection() -> None:
    """gnome-keyring's own unlock call: no prompt, which a headless test cannot answer."""
    import secretstorage
    from jeepney import DBusAddress, new_method_call
    from secretstorage.util import format_secret, open_session

    with secretstorage.dbus_init() as conn:  # type: ignore[attr-defined]
        collection = secretstorage.get_default_collection(conn)
        secret = format_secret(open_session(conn), UNLOCK_PASSWORD, "text/plain")
        address = DBusAddress(
            "/org/freedesktop/secrets",
            bus_name="org.gnome.keyring",
            interface="org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
        )
        conn.send_and_get_reply(
            new_method_call(
                address,
                "UnlockWithMasterPassword",
                "o(oayays)",
                (collection.collection_path, secret),
            )
        )
        assert not collection.is_locked()
