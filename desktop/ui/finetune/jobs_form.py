"""The "new job" form and the confirmation of a job's cost: they lay out the fields; the
job creation controller runs the checks and calls."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.finetune.store import Dataset


class RefusalBox(QFrame):
    """The provider said no: its words, and the way out (export the dataset)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("refusal")
        self.setStyleSheet(
            "#refusal { background: #fff3e0; border: 1px solid #e65100; border-radius: 4px; }"
        )
        layout = QVBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export dataset as JSONL…")
        self.export_button.setToolTip(
            "Save the dataset as OpenAI chat JSONL and as plain chat-messages JSONL "
            "(TRL, Axolotl) to train with another provider"
        )
        row = QHBoxLayout()
        row.addWidget(self.export_button)
        row.addStretch(1)
        layout.addWidget(self.message)
        layout.addLayout(row)
        self.hide()


_MODEL_ROLE = Qt.ItemDataRole.UserRole + 1  # a dataset item's model, for the suggestion


class NewJobForm(QGroupBox):
    create_requested = Signal()
    check_requested = Signal()  # the dataset or base model changed

    def __init__(self, parent: Any = None) -> None:
        super().__init__("New fine-tuning job", parent)
        self.dataset = QComboBox()
        self.dataset.setMinimumContentsLength(18)
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model.setToolTip("Models the provider lists as fine-tunable; any name may be typed")
        self.method = QComboBox()
        self.method.addItem("Supervised", "supervised")
        self.method.addItem("DPO (preference pairs)", "dpo")
        self.epochs = self._auto_field("Passes over the training data (1–50)")
        self.batch_size = self._auto_field("Examples per step (1–256)")
        self.lr_multiplier = self._auto_field("Scales the base learning rate (above 0)")
        self.beta = self._auto_field("DPO: how strongly to prefer the chosen reply (0–2)")
        self.suffix = QLineEdit()
        self.suffix.setPlaceholderText("optional, becomes part of the model name")
        self.seed = QLineEdit()
        self.seed.setPlaceholderText("optional")
        self.check = QLabel("Choose a dataset.")
        self.check.setWordWrap(True)
        self.check.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.create_button = QPushButton("Upload and create job")
        self.create_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.refusal = RefusalBox()

        hyper = QHBoxLayout()
        for label, field in (
            ("Epochs", self.epochs),
            ("Batch", self.batch_size),
            ("LR ×", self.lr_multiplier),
            ("Beta", self.beta),
        ):
            hyper.addWidget(QLabel(label))
            hyper.addWidget(field)
        naming = QHBoxLayout()
        naming.addWidget(self.suffix, 3)
        naming.addWidget(QLabel("Seed"))
        naming.addWidget(self.seed, 1)

        form = QFormLayout()
        form.addRow("Dataset", self.dataset)
        form.addRow("Base model", self.model)
        form.addRow("Method", self.method)
        form.addRow("Hyperparameters", hyper)
        form.addRow("Suffix", naming)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.check)
        layout.addWidget(self.estimate)
        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.progress, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.refusal)

        self._suggested = ""  # the last base model suggested: while shown, ours to replace
        self.dataset.currentIndexChanged.connect(self._dataset_chosen)
        self.model.lineEdit().editingFinished.connect(self.check_requested.emit)
        self.model.activated.connect(lambda _i: self.check_requested.emit())
        self.epochs.editingFinished.connect(self.check_requested.emit)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.create_button.clicked.connect(self.create_requested.emit)
        self._method_changed()

    @staticmethod
    def _auto_field(tip: str) -> QLineEdit:
        field = QLineEdit("auto")
        field.setToolTip(tip + "; 'auto' lets the provider choose")
        field.setMaximumWidth(64)
        return field

    def _method_changed(self) -> None:
        self.beta.setEnabled(self.method.currentData() == "dpo")

    def _dataset_chosen(self, _index: int) -> None:
        self.suggest_model()
        self.check_requested.emit()

    def suggest_model(self) -> bool:
        """An empty base model field (or one still holding an earlier suggestion) gets the
        chosen dataset's model, else the provider's first fine-tunable one; what the user
        typed or picked stays. Whether the field changed."""
        if self.model.currentText() not in ("", self._suggested):
            return False
        dataset_model = self.dataset.currentData(_MODEL_ROLE) or ""
        suggestion = dataset_model or (self.model.itemText(0) if self.model.count() else "")
        if not suggestion or suggestion == self.model.currentText():
            return False
        self.model.setCurrentText(suggestion)
        self._suggested = suggestion
        return True

    def set_datasets(self, datasets: list[Dataset]) -> None:
        current = self.dataset.currentData()
        self.dataset.blockSignals(True)
        self.dataset.clear()
        for dataset in datasets:
            self.dataset.addItem(f"{dataset.name} ({dataset.example_count})", dataset.id)
            self.dataset.setItemData(self.dataset.count() - 1, dataset.model, _MODEL_ROLE)
        found = self.dataset.findData(current)
        self.dataset.setCurrentIndex(found if found >= 0 else 0 if datasets else -1)
        self.dataset.blockSignals(False)
        if not datasets:
            self.check.setText("No datasets yet: build one in the dataset builder first.")

    def set_models(self, models: list[str]) -> None:
        typed = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItems(models)
        self.model.setCurrentText(typed)
        self.model.blockSignals(False)

    def set_method(self, method: str) -> None:
        index = self.method.findData(method)
        if index >= 0:
            self.method.setCurrentIndex(index)

    def values(self) -> dict[str, Any]:
        """The fields as typed, for ``prepare_request``."""
        return {
            "model": self.model.currentText(),
            "method": self.method.currentData(),
            "epochs": self.epochs.text(),
            "batch_size": self.batch_size.text(),
            "learning_rate_multiplier": self.lr_multiplier.text(),
            "beta": self.beta.text() if self.method.currentData() == "dpo" else None,
            "suffix": self.suffix.text(),
            "seed": self.seed.text() or None,
        }

    def set_busy(self, busy: bool) -> None:
        for widget in (self.dataset, self.model, self.method, self.create_button):
            widget.setEnabled(not busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)


def make_section(title: str, body: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.addWidget(body)
    return box


class SpendDialog(QDialog):
    """Before anything is uploaded: what the job is estimated to cost, and the choice not
    to be asked again for jobs under an amount."""

    def __init__(self, estimate: str, cost: float | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create a paid fine-tuning job?")
        text = QLabel(estimate + "\n\nUpload the dataset and create the job?")
        text.setWordWrap(True)
        self.remember = QCheckBox("Don't ask again for jobs estimated under $")
        self.limit = QDoubleSpinBox()
        self.limit.setRange(0.0, 100_000.0)
        self.limit.setDecimals(2)
        self.limit.setValue(max(1.0, round((cost or 0.0) * 2 + 0.5)))
        self.limit.setEnabled(False)
        self.remember.toggled.connect(self.limit.setEnabled)
        row = QHBoxLayout()
        row.addWidget(self.remember)
        row.addWidget(self.limit)
        row.addStretch(1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Upload and create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(row)
        layout.addWidget(buttons)

    def answer(self) -> tuple[bool, float | None]:
        """(go ahead, the new "don't ask under" amount or None)."""
        go = self.result() == QDialog.DialogCode.Accepted
        return go, self.limit.value() if go and self.remember.isChecked() else None
