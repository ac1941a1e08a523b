"""Dialogs around importing examples: the CSV column mapping, and the report that lists
every line that could not be read, with its number and the reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.finetune.files import ImportOutcome
from desktop.finetune.jsonl import Column, Constant, CsvSource


class ImportReportDialog(QDialog):
    """Every line that did not import as it was: line number, problem, reason."""

    def __init__(self, outcome: ImportOutcome, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import report")
        self.resize(820, 420)
        self.summary = QLabel(outcome.summary() + ".")
        self.summary.setWordWrap(True)
        path = QLabel(str(outcome.path))
        path.setStyleSheet("color:#555;")
        path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        problems = sorted(outcome.problems, key=lambda p: p.line or 0)
        self.table = QTableWidget(len(problems), 3)
        self.table.setHorizontalHeaderLabels(["Line", "Problem", "Reason"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        for row, problem in enumerate(problems):
            line = QTableWidgetItem()
            line.setData(Qt.ItemDataRole.DisplayRole, problem.line or 0)
            if problem.line is None:
                line.setText("–")
            category = QTableWidgetItem(problem.category.replace("_", " "))
            category.setForeground(QColor("#b71c1c" if problem.severity == "error" else "#8a5300"))
            reason = QTableWidgetItem(problem.message)
            reason.setToolTip(problem.message)
            for column, item in enumerate((line, category, reason)):
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 70)
        self.table.setColumnWidth(1, 200)
        self.table.setVisible(bool(problems))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(path)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            (
                self.table.item(r, 0).text(),
                self.table.item(r, 1).text(),
                self.table.item(r, 2).text(),
            )
            for r in range(self.table.rowCount())
        ]


@dataclass(frozen=True)
class CsvMapping:
    mapping: dict[str, CsvSource]
    has_header: bool


_GUESSES = {
    "system": ("system", "system_prompt", "instructions"),
    "user": ("user", "question", "prompt", "input", "instruction", "query"),
    "assistant": ("assistant", "answer", "response", "output", "completion", "reply"),
    "tags": ("tags", "tag", "labels", "category"),
    "notes": ("notes", "note", "comment", "comments"),
    "split": ("split", "set", "subset"),
}
_LABELS = {
    "system": "System prompt",
    "user": "User message",
    "assistant": "Assistant reply",
    "tags": "Tags",
    "notes": "Notes",
    "split": "Split",
}
NONE, FIXED = "__none__", "__fixed__"


class CsvMappingDialog(QDialog):
    """Which column holds which part of an example; the system prompt may be one fixed
    text for every row."""

    def __init__(self, path: Path, header: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Import {path.name}")
        self.header = header
        self.has_header = QCheckBox("The first row holds column names")
        self.has_header.setChecked(True)
        self.combos: dict[str, QComboBox] = {}
        self.fixed_system = QPlainTextEdit()
        self.fixed_system.setPlaceholderText("The system prompt for every example")
        self.fixed_system.setMaximumHeight(90)
        form = QFormLayout()
        form.addRow(self.has_header)
        for key, label in _LABELS.items():
            combo = QComboBox()
            self.combos[key] = combo
            form.addRow(label, combo)
            if key == "system":
                form.addRow("", self.fixed_system)
        self.problem = QLabel()
        self.problem.setStyleSheet("color:#b71c1c;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        intro = QLabel(
            "Each row becomes one example: a system prompt (optional), the user message and "
            "the assistant reply. Rows that cannot be read are listed in the report."
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._fill()
        self.has_header.toggled.connect(lambda _: self._fill())
        for combo in self.combos.values():
            combo.currentIndexChanged.connect(lambda _: self._update())
        self._update()

    def _columns(self) -> list[tuple[str, str | int]]:
        if self.has_header.isChecked():
            return [(name or f"Column {i + 1}", name) for i, name in enumerate(self.header)]
        return [(f"Column {i + 1}", i) for i in range(len(self.header))]

    def _fill(self) -> None:
        columns = self._columns()
        lowered = [name.lower() for name in self.header]
        for key, combo in self.combos.items():
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("(none)", NONE)
            if key == "system":
                combo.addItem("Fixed text below", FIXED)
            for label, source in columns:
                combo.addItem(label, source)
            guess = next((lowered.index(g) for g in _GUESSES[key] if g in lowered), None)
            if guess is not None and self.has_header.isChecked():
                combo.setCurrentIndex(combo.findData(columns[guess][1]))
            combo.blockSignals(False)
        self._update()

    def _update(self) -> None:
        self.fixed_system.setEnabled(self.combos["system"].currentData() == FIXED)
        missing = [
            _LABELS[key].lower() for key in ("user", "assistant") if self._source(key) is None
        ]
        self.problem.setText(
            f"Choose the column of the {' and '.join(missing)}." if missing else ""
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not missing)

    def _source(self, key: str) -> CsvSource | None:
        data = self.combos[key].currentData()
        if data is None or data == NONE:
            return None
        if data == FIXED:
            return Constant(self.fixed_system.toPlainText())
        return Column(data)

    def result_mapping(self) -> CsvMapping:
        mapping = {key: source for key in self.combos if (source := self._source(key)) is not None}
        return CsvMapping(mapping, self.has_header.isChecked())
