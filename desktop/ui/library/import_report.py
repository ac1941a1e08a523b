"""The report of an import or rescan: every file with what happened to it and why."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.library.importer import ImportReport

_COLOURS = {
    "skipped": "#b71c1c",
    "not imported": "#b71c1c",
    "warning": "#8a5300",
    "missing": "#8a5300",
    "added": "#1b5e20",
    "updated": "#0d47a1",
}
_PROBLEMS = ("warning", "skipped", "not imported", "missing")


class ImportReportDialog(QDialog):
    def __init__(self, report: ImportReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import report")
        self.resize(820, 420)
        self.summary = QLabel(report.summary())
        self.summary.setWordWrap(True)
        # Every file the run did not import is a row with its reason: the ones that failed,
        # the ones passed over in folders (unknown format, a link leaving the folder), and
        # what could not be looked at (an unreadable folder, a path too long).
        rows = [(o.path, o.outcome, o.reason) for o in report.outcomes]
        rows += [(o.path, "not imported", o.reason) for o in report.passed_over]
        rows += [(path, "warning", reason) for path, reason in report.warnings]
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["File", "Result", "Reason"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(False)
        # Problems first: that is what the user opens the report for.
        order = sorted(
            rows,
            key=lambda r: (_PROBLEMS.index(r[1]) if r[1] in _PROBLEMS else len(_PROBLEMS), r[0]),
        )
        for row, (path, outcome, reason) in enumerate(order):
            items = (
                QTableWidgetItem(path),
                QTableWidgetItem(outcome),
                QTableWidgetItem(reason),
            )
            colour = _COLOURS.get(outcome)
            for column, item in enumerate(items):
                item.setToolTip(item.text())
                if colour and column == 1:
                    item.setForeground(QColor(colour))
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 380)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            tuple(self.table.item(r, c).text() for c in range(3))  # type: ignore[misc]
            for r in range(self.table.rowCount())
        ]
