from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.logs import setup_logging
from desktop.providers.secrets import SecretStore, account_for
from desktop.ui.settings_dialog import SettingsDialog
from desktop.workers import TaskManager
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.files import files_containing
from tests.helpers.keychain import BlockingKeyring
from tests.helpers.responsiveness import Heartbeat


@pytest.fixture
def dialog(qtbot: QtBot, app_context: AppContext, tasks: TaskManager) -> SettingsDialog:
    dialog = SettingsDialog(app_context, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: "checking" not in dialog.keychain_label.text(), timeout=5000)
    return dialog


def use_server(dialog: SettingsDialog, base_url: str) -> None:
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("custom"))
    dialog.base_url_edit.setText(base_url)


def run_test_connection(qtbot: QtBot, dialog: SettingsDialog) -> str:
    dialog.test_result.clear()
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.test_result.text()[:1] in ("✓", "✗"), timeout=10_000)
    return dialog.test_result.text()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_test_connection_success_then_401_then_unreachable(
    qtbot: QtBot, dialog: SettingsDialog, fake_openai: FakeOpenAI
) -> None:
    use_server(dialog, fake_openai.base_url)
    dialog.key_edit.setText("sk-test-connection-key")

    ok = run_test_connection(qtbot, dialog)
    assert ok.startswith("✓ Connected to 127.0.0.1:")
    assert "models available" in ok
    # The model pickers are filled from the server's list.
    chat_models = [
        dialog.chat_model_combo.itemText(i) for i in range(dialog.chat_model_combo.count())
    ]
    embedding_models = [
        dialog.embedding_model_combo.itemText(i)
        for i in range(dialog.embedding_model_combo.count())
    ]
    assert "gpt-4.1-mini" in chat_models and "text-embedding-3-small" not in chat_models
    assert "text-embedding-3-small" in embedding_models

    fake_openai.inject("/v1/models", 401)
    unauthorized = run_test_connection(qtbot, dialog)
    assert unauthorized.startswith("✗")
    assert "rejected the API key (401 Unauthorized)" in unauthorized

    use_server(dialog, f"http://127.0.0.1:{closed_port()}/v1")
    unreachable = run_test_connection(qtbot, dialog)
    assert unreachable.startswith("✗ Could not reach 127.0.0.1:")
    assert "server is running" in unreachable
    assert unreachable != unauthorized
    assert "sk-test-connection-key" not in unauthorized + unreachable


def test_a_timeout_is_reported_as_one(
    qtbot: QtBot, dialog: SettingsDialog, fake_openai: FakeOpenAI
) -> None:
    use_server(dialog, fake_openai.base_url)
    dialog.timeout_spin.setValue(1)
    fake_openai.inject("/v1/models", delay=3)
    text = run_test_connection(qtbot, dialog)
    assert "did not answer within 1 s (timeout)" in text


def test_without_a_secure_keychain_the_user_is_warned_and_nothing_reaches_disk(
    qtbot: QtBot, dialog: SettingsDialog, app_context: AppContext, fake_openai: FakeOpenAI
) -> None:
    setup_logging(app_context.paths.log_dir)
    assert "No secure keychain" in dialog.keychain_label.text()
    assert "session only" in dialog.keychain_label.text()
    # The warning arrives after the dialog was laid out and wraps: all of its lines show.
    label = dialog.keychain_label
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=2000)
    secret = "sk-session-only-key-987654321"
    use_server(dialog, fake_openai.base_url)
    dialog.key_edit.setText(secret)
    run_test_connection(qtbot, dialog)
    with qtbot.waitSignal(dialog.settings_saved, timeout=5000):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert "session only" in dialog.keychain_label.text()
    # The key works for this session...
    assert app_context.secrets.get(account_for(fake_openai.base_url)) == secret
    assert app_context.provider_config().api_key == secret
    # ...and the Authorization header reached the server, but no file holds the key.
    assert any(secret in r.headers.get("authorization", "") for r in fake_openai.requests)
    app_context.workspace.set_meta("touched", "yes")
    assert app_context.settings_store.load().base_url == fake_openai.base_url
    assert files_containing(app_context.paths.data_dir, secret) == []


@pytest.fixture
def locked_keychain() -> Iterator[BlockingKeyring]:
    backend = BlockingKeyring()
    yield backend
    backend.release.set()


def test_a_locked_keychain_neither_hangs_nor_freezes_the_window(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, locked_keychain: BlockingKeyring
) -> None:
    app_context.secrets = SecretStore(locked_keychain, timeout=1.0, trust_backend=True)
    with Heartbeat() as heartbeat:
        dialog = SettingsDialog(app_context, tasks)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: "did not answer" in dialog.keychain_label.text(), timeout=5000)
    assert "locked" in dialog.keychain_label.text()
    heartbeat.assert_kept_ticking()


def test_saving_a_key_records_that_one_was_saved_without_storing_it(
    qtbot: QtBot, dialog: SettingsDialog, app_context: AppContext, fake_openai: FakeOpenAI
) -> None:
    """The flag lets start-up choose the embedder without opening the keychain."""

    assert app_context.retrieval().choice().kind == "local"  # nothing set up yet
    app_context.save_settings(app_context.settings.replace(base_url=fake_openai.base_url))
    assert app_context.retrieval().choice().kind == "openai"  # a local server needs no key
    app_context.save_settings(app_context.settings.replace(base_url="https://api.openai.com/v1"))
    dialog.base_url_edit.setText("https://api.openai.com/v1")
    dialog.key_edit.setText("sk-flag-test-123456")
    with qtbot.waitSignal(dialog.settings_saved, timeout=5000):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    # Session-only (no secure keychain here): nothing was saved to a keychain.
    assert app_context.settings.api_key_saved is False
    assert app_context.retrieval().choice().kind == "local"


def test_switching_to_ollama_drops_the_old_server_s_models_and_result(
    qtbot: QtBot, dialog: SettingsDialog, fake_openai: FakeOpenAI
) -> None:
    use_server(dialog, fake_openai.base_url)
    dialog.key_edit.setText("sk-a-key")
    assert run_test_connection(qtbot, dialog).startswith("✓ Connected")
    assert dialog.chat_model_combo.currentText() == "gpt-4.1-mini"

    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("ollama"))
    assert dialog.base_url_edit.text() == "http://localhost:11434/v1"
    assert dialog.chat_model_combo.currentText() == "llama3.2"
    assert dialog.embedding_model_combo.currentText() == "nomic-embed-text"
    assert "Connected" not in dialog.test_result.text()


def test_the_models_are_listed_without_pressing_test_connection(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, fake_openai: FakeOpenAI
) -> None:
    app_context.save_settings(
        app_context.settings.replace(provider="custom", base_url=fake_openai.base_url)
    )
    dialog = SettingsDialog(app_context, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.chat_model_combo.count() > 0, timeout=10_000)
    assert dialog.embedding_model_combo.findText("text-embedding-3-small") >= 0
    assert dialog.test_result.text().startswith("✓ Connected")


def test_the_embedder_chosen_here_is_the_one_the_library_tab_indexes_with(
    qtbot: QtBot, dialog: SettingsDialog, app_context: AppContext
) -> None:
    local = dialog.embedder_combo.findData("local:minilm-l6-v2-int8")
    assert local >= 0
    dialog.embedder_combo.setCurrentIndex(local)
    dialog.auto_index_check.setChecked(True)
    assert dialog.compact_check.isChecked()  # compact vectors: on by default
    dialog.compact_check.setChecked(False)
    with qtbot.waitSignal(dialog.settings_saved, timeout=5000):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert app_context.settings.retrieval_embedder == "local"
    assert app_context.settings.auto_index is True
    assert app_context.settings.compact_vectors is False
    target = app_context.retrieval().target()
    assert (target.kind, target.model) == ("local", "minilm-l6-v2-int8")


def test_an_empty_model_or_a_bad_address_is_refused_with_the_rule(
    qtbot: QtBot, dialog: SettingsDialog, app_context: AppContext
) -> None:
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData("custom"))
    dialog.base_url_edit.setText("localhost:1234")
    dialog.chat_model_combo.setCurrentText("")
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert "base_url must start with http:// or https://" in dialog.test_result.text()
    assert "chat_model cannot be empty" in dialog.test_result.text()
    assert dialog.isVisible()
    assert app_context.settings_store.load().base_url != "localhost:1234"
