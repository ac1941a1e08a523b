"""The job tracker's widgets, laid out: the new-job form, the table of jobs and the
detail of the selected one. No behaviour; ``JobsView`` (a subclass) follows the jobs and
``JobCreation`` makes them. The questions it may ask are attributes, so tests answer them
without a modal dialog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.common.dialogs import Confirm, ask
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.table_model import record_table
from desktop.ui.finetune.jobs_detail import JobDetail
from desktop.ui.finetune.jobs_form import NewJobForm, SpendDialog
from desktop.ui.finetune.jobs_models import JobSortProxy, JobTableModel

ConfirmSpend = Callable[[str, "float | None"], "tuple[bool, float | None]"]
"""(the estimate in words, the cost or None) → (go ahead, a new "don't ask under" amount)."""


class JobsLayout(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.confirm: Confirm = ask(self)
        self.confirm_spend: ConfirmSpend = self._confirm_spend
        self.choose_export_folder: Callable[[], Path | None] = self._ask_folder

        self.form = NewJobForm()
        self.model = JobTableModel(self)
        self.proxy = JobSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = record_table(
            self.proxy,
            sort_column=JobTableModel.CREATED,
            descending=True,
            stretch=JobTableModel.FINE_TUNED,
            samples=[
                "ftjob-0123456789abcdef0123",
                "compatible",
                "gpt-4.1-mini",
                "Validating files",
                "2026-01-01 00:00",
                "10 h 00 min",
                "1,000,000",
            ],
        )
        self.refresh_button = QPushButton("Sync now")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.detail = JobDetail()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.form)
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Jobs</b>"))
        header.addStretch(1)
        header.addWidget(self.refresh_button)
        left_layout.addLayout(header)
        self.no_jobs = EmptyState(
            "No fine-tuning jobs yet",
            "Choose a dataset and a base model above, then Upload and create job: the "
            "estimate is shown before anything is uploaded. Jobs made elsewhere with the "
            "same provider appear here after Sync now.",
        )
        self.jobs_stack = QStackedWidget()
        self.jobs_stack.addWidget(self.no_jobs)
        self.jobs_stack.addWidget(self.table)
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            signal.connect(self._show_table_or_empty)
        left_layout.addWidget(self.jobs_stack, 1)
        left_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.detail)
        splitter.setSizes([560, 640])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self.model.tick)
        self.clock.start()

    def _show_table_or_empty(self, *_args: object) -> None:
        self.jobs_stack.setCurrentWidget(self.table if self.model.rowCount() else self.no_jobs)

    def _confirm_spend(self, estimate: str, cost: float | None) -> tuple[bool, float | None]:
        dialog = SpendDialog(estimate, cost, self)
        dialog.exec()
        return dialog.answer()

    def _ask_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, "Export the dataset to a folder")
        return Path(folder) if folder else None
