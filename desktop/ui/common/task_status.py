"""Status-bar view of the background tasks: what runs, how far it is, and a way to stop it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from desktop.progress import Progress
from desktop.workers import TaskManager, Worker


class TaskRow(QWidget):
    def __init__(self, worker: Worker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(worker.title)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(140)
        self.bar.setMaximumHeight(16)
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.cancel_button = QToolButton()
        self.cancel_button.setText("✕")
        self.cancel_button.setToolTip(f"Cancel {worker.title}")
        self.cancel_button.setAccessibleName(f"Cancel {worker.title}")
        self.cancel_button.clicked.connect(self._cancel)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)

    def _cancel(self) -> None:
        self.worker.cancel()
        self.cancel_button.setEnabled(False)
        self.label.setText(f"{self.worker.title}: cancelling…")

    def update_progress(self, progress: Progress) -> None:
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
            self.bar.setFormat(f"{progress.done}/{progress.total}")
            self.bar.setTextVisible(True)
        if progress.message and self.cancel_button.isEnabled():
            self.label.setText(f"{self.worker.title}: {progress.message}")


class TaskStatusWidget(QWidget):
    """One row per running task, newest last; hidden when nothing runs."""

    def __init__(self, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[int, TaskRow] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignRight)
        tasks.task_started.connect(self._add)
        tasks.task_progress.connect(self._progress)
        tasks.task_finished.connect(self._remove)
        self.setVisible(False)

    def rows(self) -> list[TaskRow]:
        return list(self._rows.values())

    def _add(self, worker: Worker) -> None:
        row = TaskRow(worker, self)
        self._rows[worker.id] = row
        self._layout.addWidget(row)
        self.setVisible(True)

    def _progress(self, worker: Worker, progress: Progress) -> None:
        row = self._rows.get(worker.id)
        if row is not None:
            row.update_progress(progress)

    def _remove(self, worker: Worker) -> None:
        row = self._rows.pop(worker.id, None)
        if row is not None:
            row.setParent(None)
            row.deleteLater()
        self.setVisible(bool(self._rows))
