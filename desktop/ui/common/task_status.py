"""Status-bar view of the background work: one line, whatever runs. The task that
reports progress (an import, an index run) is shown with its bar and a cancel button;
short housekeeping reads (loading a table, listing models) only count, so start-up shows
"Getting ready… 3 of 5" instead of a crowd of spinners."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from desktop.progress import Progress
from desktop.workers import TaskManager, Worker


class TaskRow(QWidget):
    """The one line: the task in focus, its progress, and its cancel button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker: Worker | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setMinimumWidth(80)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(140)
        self.bar.setMaximumHeight(16)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("✕")
        self.cancel_button.clicked.connect(self._cancel)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)

    def show_worker(self, worker: Worker, summary: str) -> None:
        changed = worker is not self.worker
        self.worker = worker
        if changed:
            self.cancel_button.setEnabled(not worker.is_cancelled)
            self.cancel_button.setToolTip(f"Cancel {worker.title}")
            self.cancel_button.setAccessibleName(f"Cancel {worker.title}")
        progress = worker.last_progress
        if progress is not None and progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
            self.bar.setFormat(f"{progress.done}/{progress.total}")
            self.bar.setTextVisible(True)
        else:
            self.bar.setRange(0, 0)  # busy until the first progress report
        if worker.is_cancelled:
            text = f"{worker.title}: cancelling…"
        elif progress is not None and progress.message:
            text = f"{worker.title}: {progress.message}"
        else:
            text = f"{worker.title}…"
        self.label.setText(text + summary)
        self.label.setToolTip(text + summary)

    def _cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText(f"{self.worker.title}: cancelling…")


class TaskStatusWidget(QWidget):
    """Hidden when nothing runs."""

    def __init__(self, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._running: dict[int, Worker] = {}
        self._started = 0  # tasks in the current burst of work
        self._finished = 0
        self.row = TaskRow(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setAlignment(Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.row)
        # Start-up runs a burst of short tasks: the line is redrawn at most every 80 ms.
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(80)
        self._redraw.timeout.connect(self._show)
        tasks.task_started.connect(self._add)
        tasks.task_progress.connect(self._progress)
        tasks.task_finished.connect(self._remove)
        self.setVisible(False)

    def rows(self) -> list[TaskRow]:
        """The line shown ([] when idle)."""
        return [self.row] if self._running else []

    def focus(self) -> Worker | None:
        """The newest task that reports progress (the one worth watching and cancelling);
        else the oldest still running."""
        workers = list(self._running.values())
        with_progress = [w for w in workers if w.last_progress is not None]
        if with_progress:
            return with_progress[-1]
        return workers[0] if workers else None

    def _add(self, worker: Worker) -> None:
        self._running[worker.id] = worker
        self._started += 1
        self._redraw.start()

    def _progress(self, worker: Worker, progress: Progress) -> None:
        if worker.id in self._running and not self._redraw.isActive():
            self._redraw.start()

    def _remove(self, worker: Worker) -> None:
        if self._running.pop(worker.id, None) is not None:
            self._finished += 1
        if not self._running:
            self._started = self._finished = 0
            self._show()  # idle: hide at once
        elif not self._redraw.isActive():
            self._redraw.start()

    def _show(self) -> None:
        worker = self.focus()
        self.setVisible(worker is not None)
        if worker is None:
            return
        summary = f" · {self._finished} of {self._started} tasks done" if self._started > 1 else ""
        self.row.show_worker(worker, summary)
