"""Against the real Secret Service (gnome-keyring) that the test command starts."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.context import AppContext
from desktop.logs import setup_logging
from desktop.providers.secrets import SecretStore, SecretStoreError, account_for
from tests.helpers.files import files_containing
from tests.helpers.secret_service import (
    lock_default_collection,
    require_secret_service,
    unlock_default_collection,
)

pytestmark = pytest.mark.keychain
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_secrets() -> Iterator[SecretStore]:
    require_secret_service()
    store = SecretStore()
    yield store
    for url in ("http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"):
        store.delete(account_for(url))


def test_the_key_round_trips_and_comes_back_after_a_restart(
    real_secrets: SecretStore, tmp_path: Path
) -> None:
    secret = "sk-keychain-roundtrip-0123456789"
    account = account_for("http://127.0.0.1:1/v1")
    assert real_secrets.info().secure
    assert "SecretService" in real_secrets.info().name
    assert real_secrets.set(account, secret) is True
    assert real_secrets.get(account) == secret

    # A new process (the app restarted) finds the key in the keychain.
    code = textwrap.dedent(f"""
        import hashlib
        from desktop.providers.secrets import SecretStore
        key = SecretStore().get({account!r})
        print(hashlib.sha256(key.encode()).hexdigest() if key else "missing")
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert result.stdout.strip() == hashlib.sha256(secret.encode()).hexdigest(), result.stderr


def test_the_key_is_in_no_file_of_the_data_config_and_log_dirs(
    real_secrets: SecretStore, tmp_path: Path
) -> None:
    secret = "sk-keychain-nowhere-on-disk-42"
    context = AppContext.create(data_dir=str(tmp_path / "data"), secrets=real_secrets)
    setup_logging(context.paths.log_dir)
    settings = context.settings.replace(base_url="http://127.0.0.1:2/v1", provider="custom")
    context.save_settings(settings)
    assert real_secrets.set(account_for(settings.base_url), secret)
    config = context.provider_config()
    assert config.api_key == secret
    import logging

    logging.getLogger("desktop.test").info("config in use: %s key=%s", config.redacted(), secret)
    context.workspace.set_meta("touched", "yes")
    context.close()
    assert files_containing(tmp_path, secret) == []


def test_a_locked_keychain_answers_at_once_with_a_readable_reason(
    real_secrets: SecretStore,
) -> None:
    account = account_for("http://127.0.0.1:1/v1")
    real_secrets.set(account, "sk-locked-case-0123456789")
    lock_default_collection()
    try:
        started = time.monotonic()
        with pytest.raises(SecretStoreError, match="locked"):
            SecretStore().get(account)
        assert time.monotonic() - started < 5
    finally:
        unlock_default_collection()
    assert real_secrets.get(account) == "sk-locked-case-0123456789"
