"""Settings: provider, API key (kept in the OS keychain), models listed from the server
(as soon as it can be reached), the embedder, timeouts, and a "Test connection" that runs
on a worker and says exactly what failed. Ranges and choices come from
``desktop.settings.RULES``, the rules ``ragtune settings set`` applies too."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.providers.check import ConnectionReport, check_connection
from desktop.providers.client import is_embedding_model, resolve_config
from desktop.providers.secrets import BackendInfo, SecretStoreError, account_for
from desktop.settings import PROVIDER_PRESETS, RULES, Settings, SettingsError, check_setting, preset
from desktop.workers import SETTINGS_QUEUE, TaskError, TaskManager

_OK_STYLE = "color:#1b5e20;"
_ERROR_STYLE = "color:#b71c1c;"
_WARN_STYLE = "color:#8a5300;"


@dataclass(frozen=True)
class KeychainState:
    info: BackendInfo
    has_key: bool
    error: str | None = None


class SettingsDialog(QDialog):
    settings_saved = Signal()

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.tasks = tasks
        self._stored_key = False
        self._listed_once = False
        self._report_seq = 0
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        settings = context.settings

        provider_box = QGroupBox("Provider")
        form = QFormLayout(provider_box)
        self.provider_combo = QComboBox()
        for item in PROVIDER_PRESETS:
            self.provider_combo.addItem(item.label, item.key)
        self.base_url_edit = QLineEdit(settings.base_url)
        self.base_url_edit.setPlaceholderText("https://host:port/v1")
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("checking the keychain…")
        self.show_key = self.key_edit.addAction(
            self.style().standardIcon(self.style().StandardPixmap.SP_FileDialogContentsView),
            QLineEdit.ActionPosition.TrailingPosition,
        )
        self.show_key.setCheckable(True)
        self.show_key.setToolTip("Show the key")
        self.show_key.toggled.connect(
            lambda on: self.key_edit.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        self.remove_key_button = QPushButton("Remove stored key")
        self.remove_key_button.setEnabled(False)
        self.remove_key_button.clicked.connect(self._remove_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.remove_key_button)
        self.keychain_label = QLabel("Keychain: checking…")
        self.keychain_label.setWordWrap(True)
        self.env_label = QLabel()
        self.env_label.setWordWrap(True)
        self.env_label.setStyleSheet(_WARN_STYLE)
        form.addRow("Preset:", self.provider_combo)
        form.addRow("Base URL:", self.base_url_edit)
        form.addRow("API key:", key_row)
        form.addRow("", self.keychain_label)
        form.addRow("", self.env_label)

        models_box = QGroupBox("Models (listed from the server)")
        models_form = QFormLayout(models_box)
        self.chat_model_combo = QComboBox()
        self.chat_model_combo.setEditable(True)
        self.chat_model_combo.setCurrentText(settings.chat_model)
        self.embedding_model_combo = QComboBox()
        self.embedding_model_combo.setEditable(True)
        self.embedding_model_combo.setCurrentText(settings.embedding_model)
        self.refresh_models_button = QPushButton("Refresh model list")
        self.refresh_models_button.clicked.connect(self.test_connection)
        models_form.addRow("Chat model:", self.chat_model_combo)
        models_form.addRow("Embedding model:", self.embedding_model_combo)
        models_form.addRow("", self.refresh_models_button)

        retrieval_box = QGroupBox("Search index")
        retrieval_form = QFormLayout(retrieval_box)
        self.embedder_combo = QComboBox()
        self.embedder_combo.setToolTip(RULES["retrieval_embedder"].help)
        self.embedder_combo.addItem("Automatic: this library's own, else the offline model", "auto")
        self._local_models = self._bundled_models()
        for name in self._local_models:
            self.embedder_combo.addItem(f"{name} (bundled, offline, free)", f"local:{name}")
        self.embedder_combo.addItem("The provider's embedding model (paid)", "openai")
        current = (
            f"local:{settings.local_model}"
            if settings.retrieval_embedder == "local"
            else settings.retrieval_embedder
        )
        self.embedder_combo.setCurrentIndex(max(0, self.embedder_combo.findData(current)))
        self.auto_index_check = QCheckBox("Index new documents right away (offline model only)")
        self.auto_index_check.setToolTip(RULES["auto_index"].help)
        self.auto_index_check.setChecked(settings.auto_index)
        self.compact_check = QCheckBox("Compact vectors for large libraries (¼ the memory)")
        self.compact_check.setToolTip(RULES["compact_vectors"].help)
        self.compact_check.setChecked(settings.compact_vectors)
        retrieval_form.addRow("Embedder:", self.embedder_combo)
        retrieval_form.addRow("", self.auto_index_check)
        retrieval_form.addRow("", self.compact_check)

        network_box = QGroupBox("Requests")
        network_form = QFormLayout(network_box)
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setRange(
            RULES["request_timeout"].low or 1, RULES["request_timeout"].high or 1
        )
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setValue(settings.request_timeout)
        self.retries_spin = QSpinBox()
        self.retries_spin.setRange(
            int(RULES["max_retries"].low or 0), int(RULES["max_retries"].high or 0)
        )
        self.retries_spin.setValue(settings.max_retries)
        network_form.addRow("Timeout:", self.timeout_spin)
        network_form.addRow("Retries:", self.retries_spin)

        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        for box in (provider_box, models_box, retrieval_box, network_box):
            layout.addWidget(box)
        layout.addLayout(test_row)
        layout.addWidget(self.buttons)

        index = self.provider_combo.findData(settings.provider)
        self.provider_combo.setCurrentIndex(max(index, 0))
        self.provider_combo.currentIndexChanged.connect(self._preset_chosen)
        self.base_url_edit.textEdited.connect(self._base_url_edited)
        # The server's models are listed as soon as it can be reached, and again after a
        # change of server: nobody should have to press "Test connection" to pick a model.
        self._list_timer = QTimer(self)
        self._list_timer.setSingleShot(True)
        self._list_timer.setInterval(600)
        self._list_timer.timeout.connect(lambda: self.test_connection(quiet=True))
        self.base_url_edit.textEdited.connect(lambda _text: self._server_changed())
        self._show_env_overrides()
        self._load_keychain_state()

    # -- form ------------------------------------------------------------------------------

    @staticmethod
    def _bundled_models() -> tuple[str, ...]:
        from desktop.retrieval.local_embedder import available_models

        return tuple(available_models())

    def form_settings(self) -> Settings:
        embedder = str(self.embedder_combo.currentData())
        local = self.context.settings.local_model
        if embedder.startswith("local:"):
            embedder, local = "local", embedder.split(":", 1)[1]
        return self.context.settings.replace(
            provider=str(self.provider_combo.currentData()),
            base_url=self.base_url_edit.text().strip().rstrip("/"),
            chat_model=self.chat_model_combo.currentText().strip(),
            embedding_model=self.embedding_model_combo.currentText().strip(),
            request_timeout=float(self.timeout_spin.value()),
            max_retries=int(self.retries_spin.value()),
            retrieval_embedder=embedder,
            local_model=local,
            auto_index=self.auto_index_check.isChecked(),
            compact_vectors=self.compact_check.isChecked(),
        )

    def problems(self, settings: Settings) -> list[str]:
        """What the form holds that the rules refuse (the same checks as the command)."""
        found = []
        for name in ("base_url", "chat_model", "embedding_model"):
            try:
                check_setting(name, getattr(settings, name), local_models=self._local_models)
            except SettingsError as exc:
                found.append(str(exc))
        return found

    def _preset_chosen(self) -> None:
        """A new kind of server: its address and the models such a server usually has;
        the old server's models and connection result no longer apply."""
        chosen = preset(str(self.provider_combo.currentData()))
        if chosen.base_url:
            self.base_url_edit.setText(chosen.base_url)
        if chosen.key != "custom":  # a custom address may be the same server, moved
            for combo, suggested in (
                (self.chat_model_combo, chosen.chat_model),
                (self.embedding_model_combo, chosen.embedding_model),
            ):
                combo.clear()
                combo.setCurrentText(suggested)
        self._load_keychain_state()
        self._server_changed()

    def _server_changed(self) -> None:
        self.test_result.clear()
        self.test_result.setStyleSheet("")
        self._list_timer.start()

    def _base_url_edited(self, text: str) -> None:
        matching = [p for p in PROVIDER_PRESETS if p.base_url and p.base_url == text.rstrip("/")]
        key = matching[0].key if matching else "custom"
        self.provider_combo.blockSignals(True)
        self.provider_combo.setCurrentIndex(self.provider_combo.findData(key))
        self.provider_combo.blockSignals(False)

    def _fit(self, label: QLabel) -> None:
        """A wrapped note whose text arrived after the dialog was laid out: reserve the
        height its lines need at the width it has, and let the dialog grow to it (a label
        placed in a form is not given its height-for-width, so it was drawn cut)."""
        label.setMinimumHeight(label.heightForWidth(max(label.width(), 200)) if label.text() else 0)
        self.layout().activate()
        needed = self.minimumSizeHint().height()
        if needed > self.height():
            self.resize(self.width(), needed)

    def _show_env_overrides(self) -> None:
        env = self.context.env
        notes = []
        if env.base_url:
            notes.append(f"OPENAI_BASE_URL is set: this run uses {env.base_url}.")
        if env.api_key:
            notes.append("OPENAI_API_KEY is set: this run uses that key, not the stored one.")
        self.env_label.setText(" ".join(notes))
        self.env_label.setVisible(bool(notes))
        self._fit(self.env_label)

    # -- keychain ----------------------------------------------------------------------------

    def _load_keychain_state(self) -> None:
        secrets = self.context.secrets
        account = account_for(self.base_url_edit.text().strip() or "")

        def read() -> KeychainState:
            info = secrets.info()
            try:
                return KeychainState(info, secrets.get(account) is not None)
            except SecretStoreError as exc:
                return KeychainState(info, False, str(exc))

        worker = self.tasks.run(read, title="Reading the keychain")
        worker.signals.result.connect(self._show_keychain_state)

    def _show_keychain_state(self, state: KeychainState) -> None:
        self._stored_key = state.has_key
        self.remove_key_button.setEnabled(state.has_key)
        if state.error:
            self.keychain_label.setText(state.error)
            self.keychain_label.setStyleSheet(_ERROR_STYLE)
        elif state.info.secure:
            self.keychain_label.setText(f"Stored in: {state.info.description}")
            self.keychain_label.setStyleSheet("")
        else:
            self.keychain_label.setText(state.info.description)
            self.keychain_label.setStyleSheet(_WARN_STYLE)
        self.key_edit.setPlaceholderText(
            "a key is stored (leave empty to keep it)" if state.has_key else "no key stored"
        )
        self._fit(self.keychain_label)
        if not self._listed_once:  # the dialog just opened: list the models in use
            self._listed_once = True
            self._list_timer.start()

    def _remove_key(self) -> None:
        secrets = self.context.secrets
        account = account_for(self.base_url_edit.text().strip())
        context = self.context

        def remove() -> None:
            secrets.delete(account)
            context.save_settings(context.settings.replace(api_key_saved=False))

        worker = self.tasks.run(remove, title="Removing the key", queue=SETTINGS_QUEUE)
        worker.signals.finished.connect(self._load_keychain_state)

    # -- test connection ------------------------------------------------------------------------

    def test_connection(self, *, quiet: bool = False) -> None:
        """Connect and list the models. ``quiet``: the automatic listing, which stays
        silent when there is nothing to try yet (no key for a server that needs one)."""
        self._list_timer.stop()
        self._report_seq += 1
        seq = self._report_seq
        settings = self.form_settings()
        typed_key = self.key_edit.text().strip() or None
        secrets, env = self.context.secrets, self.context.env

        def run() -> ConnectionReport | None:
            config = resolve_config(settings, secrets, env, api_key=typed_key)
            if quiet and config.needs_key and not config.api_key:
                return None
            return check_connection(config)

        self.test_button.setEnabled(False)
        self.refresh_models_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText(f"Connecting to {settings.base_url}…")
        worker = self.tasks.run(run, title="Testing the connection")
        worker.signals.result.connect(lambda report: self._show_report(report, seq))
        worker.signals.error.connect(
            lambda error: self._show_report(ConnectionReport(False, error.message), seq)
        )

    def _show_report(self, report: ConnectionReport | None, seq: int | None = None) -> None:
        if seq is not None and seq != self._report_seq:
            return  # an older server's answer: the form has moved on
        self.test_button.setEnabled(True)
        self.refresh_models_button.setEnabled(True)
        if report is None:
            self.test_result.setText("Enter an API key to list this server's models.")
            return
        self.test_result.setText(("✓ " if report.ok else "✗ ") + report.message)
        self.test_result.setStyleSheet(_OK_STYLE if report.ok else _ERROR_STYLE)
        self._fit(self.test_result)
        if report.models:
            self._fill_models(report.models)

    def _fill_models(self, models: tuple[str, ...]) -> None:
        embedding = [m for m in models if is_embedding_model(m)]
        chat = [m for m in models if not is_embedding_model(m)]
        for combo, names in (
            (self.chat_model_combo, chat),
            (self.embedding_model_combo, embedding),
        ):
            current = combo.currentText()
            combo.clear()
            combo.addItems(names)
            # Keep the model typed or saved when the server has it; else the server's first.
            combo.setCurrentText(current if current in names or not names else names[0])

    # -- save ----------------------------------------------------------------------------------

    def save(self) -> None:
        settings = self.form_settings()
        problems = self.problems(settings)
        if problems:
            self.test_result.setText("✗ " + " ".join(problems))
            self.test_result.setStyleSheet(_ERROR_STYLE)
            return
        key = self.key_edit.text().strip() or None
        context = self.context

        def write() -> bool | None:
            stored = (
                None if key is None else context.secrets.set(account_for(settings.base_url), key)
            )
            saved = settings.api_key_saved if stored is None else stored
            context.save_settings(settings.replace(api_key_saved=saved))
            return stored

        self.buttons.setEnabled(False)
        worker = self.tasks.run(write, title="Saving settings", queue=SETTINGS_QUEUE)
        worker.signals.result.connect(self._saved)
        worker.signals.error.connect(self._save_failed)

    def _saved(self, stored_securely: bool | None) -> None:
        self.buttons.setEnabled(True)
        if stored_securely is False:
            self.keychain_label.setText(
                "No secure keychain: the key is kept for this session only and was not "
                "written to disk."
            )
            self.keychain_label.setStyleSheet(_WARN_STYLE)
        self.settings_saved.emit()
        self.accept()

    def _save_failed(self, error: TaskError) -> None:
        self.buttons.setEnabled(True)
        self.test_result.setText(f"✗ Could not save: {error.message}")
        self.test_result.setStyleSheet(_ERROR_STYLE)
