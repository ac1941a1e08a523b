"""Table models for the job tracker: jobs, a job's event log and its checkpoints. Sort
roles return raw values (times as floats, tokens as ints)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from desktop.finetune.job_store import Checkpoint, JobEvent, JobRecord, status_label
from desktop.ui.common.table_model import RECORD_ROLE, SORT_ROLE, Index, ListTableModel

RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

STATUS_COLOURS = {
    "succeeded": "#1b5e20",
    "failed": "#b71c1c",
    "cancelled": "#6d6d6d",
    "running": "#0d47a1",
}
LEVEL_COLOURS = {"error": "#b71c1c", "warn": "#e65100", "warning": "#e65100"}


def format_time(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def elapsed_seconds(job: JobRecord, now: float) -> float | None:
    """Running time so far, or the whole run once the job finished."""
    if not job.created_at:
        return None
    end = job.finished_at if job.finished_at else (None if job.finished else now)
    return None if end is None else max(0.0, end - job.created_at)


def trained_tokens(job: JobRecord) -> int | None:
    value = job.data.get("trained_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class JobTableModel(ListTableModel):
    """One row per job; rows are updated in place as syncs arrive, so the selection
    stays put while jobs are polled."""

    ID, PROVIDER, BASE_MODEL, STATUS, CREATED, ELAPSED, TOKENS, FINE_TUNED = range(8)
    HEADERS = (
        "Job",
        "Provider",
        "Base model",
        "Status",
        "Created",
        "Elapsed",
        "Trained tokens",
        "Fine-tuned model",
    )

    def rows(self) -> Sequence[Any]:
        return self._jobs

    def __init__(self, parent: Any = None, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self._jobs: list[JobRecord] = []
        self._clock = clock
        self.sync_notes: dict[str, str] = {}
        """Per job: why the last sync did not happen (offline, another provider)."""

    def set_jobs(self, jobs: Sequence[JobRecord]) -> None:
        self.beginResetModel()
        self._jobs = list(jobs)
        self.endResetModel()

    def upsert(self, job: JobRecord) -> None:
        row = self.row_of(job.job_id)
        if row is None:
            at = len(self._jobs)
            self.beginInsertRows(QModelIndex(), at, at)
            self._jobs.append(job)
            self.endInsertRows()
            return
        self._jobs[row] = job
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def set_note(self, job_id: str, note: str | None) -> None:
        if note:
            self.sync_notes[job_id] = note
        else:
            self.sync_notes.pop(job_id, None)
        row = self.row_of(job_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, self.STATUS), self.index(row, self.STATUS))

    def jobs(self) -> list[JobRecord]:
        return list(self._jobs)

    def job(self, row: int) -> JobRecord:
        return self._jobs[row]

    def row_of(self, job_id: str) -> int | None:
        for row, job in enumerate(self._jobs):
            if job.job_id == job_id:
                return row
        return None

    def tick(self) -> None:
        """Refresh the elapsed column of unfinished jobs."""
        for row, job in enumerate(self._jobs):
            if not job.finished:
                index = self.index(row, self.ELAPSED)
                self.dataChanged.emit(index, index)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        job = self._jobs[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            tokens = trained_tokens(job)
            note = self.sync_notes.get(job.job_id)
            return (
                job.job_id,
                job.provider,
                job.model,
                status_label(job.status) + (" (offline)" if note else ""),
                format_time(job.created_at),
                format_duration(elapsed_seconds(job, self._clock())),
                "" if tokens is None else f"{tokens:,}",
                job.fine_tuned_model or "",
            )[column]
        if role == SORT_ROLE:
            return (
                job.job_id,
                job.provider,
                job.model,
                job.status,
                job.created_at,
                elapsed_seconds(job, self._clock()) or 0.0,
                trained_tokens(job) or 0,
                job.fine_tuned_model or "",
            )[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS:
            colour = STATUS_COLOURS.get(job.status)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (self.ELAPSED, self.TOKENS):
            return RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"{job.provider} at {job.base_url}"]
            if job.dataset_name:
                lines.append(f"Dataset: {job.dataset_name}")
            if job.error_message:
                lines.append(f"Error: {job.error_message}")
            note = self.sync_notes.get(job.job_id)
            if note:
                lines.append(note)
            return "\n".join(lines)
        if role == RECORD_ROLE:
            return job
        return None


class JobSortProxy(QSortFilterProxyModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)


class EventTableModel(ListTableModel):
    """The event log, newest first; warnings and errors in colour."""

    TIME, LEVEL, MESSAGE = range(3)
    HEADERS = ("Time", "Level", "Message")

    def rows(self) -> Sequence[Any]:
        return self._events

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._events: list[JobEvent] = []

    def set_events(self, events: Sequence[JobEvent]) -> None:
        """``events`` oldest first, as the store gives them."""
        self.beginResetModel()
        self._events = list(reversed(events))
        self.endResetModel()

    def job_event(self, row: int) -> JobEvent:
        return self._events[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        event = self._events[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.created_at))
            return (stamp, event.level, event.message)[column]
        if role == SORT_ROLE:
            return (event.created_at, event.level, event.message)[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = LEVEL_COLOURS.get(event.level.lower())
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole and column == self.MESSAGE:
            return event.message
        if role == RECORD_ROLE:
            return event
        return None


def _metric(checkpoint: Checkpoint, *names: str) -> float | None:
    for name in names:
        value = checkpoint.metrics.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


class CheckpointTableModel(ListTableModel):
    STEP, TRAIN_LOSS, VALID_LOSS, ACCURACY, MODEL = range(5)
    HEADERS = ("Step", "Train loss", "Valid loss", "Accuracy", "Model")

    set_checkpoints = ListTableModel.set_items
    checkpoint = ListTableModel.item

    def _values(self, checkpoint: Checkpoint) -> tuple[float | None, float | None, float | None]:
        return (
            _metric(checkpoint, "train_loss"),
            _metric(checkpoint, "valid_loss", "full_valid_loss"),
            _metric(checkpoint, "train_mean_token_accuracy"),
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        checkpoint = self._items[index.row()]
        column = index.column()
        train, valid, accuracy = self._values(checkpoint)
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                str(checkpoint.step),
                "" if train is None else f"{train:.4f}",
                "" if valid is None else f"{valid:.4f}",
                "" if accuracy is None else f"{accuracy:.1%}",
                checkpoint.model,
            )[column]
        if role == SORT_ROLE:
            return (
                checkpoint.step,
                train if train is not None else float("inf"),
                valid if valid is not None else float("inf"),
                accuracy if accuracy is not None else -1.0,
                checkpoint.model,
            )[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column != self.MODEL:
            return RIGHT
        if role == RECORD_ROLE:
            return checkpoint
        return None
