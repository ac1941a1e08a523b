"""One job in detail: status timeline, actions, the error in full, the loss chart, the
event log and the checkpoints. A view: it shows a ``JobSnapshot`` and emits requests."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.finetune.job_store import (
    CANCELLED,
    FAILED,
    PAUSED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    VALIDATING_FILES,
    Checkpoint,
    JobRecord,
    JobSnapshot,
    status_label,
)
from desktop.finetune.metrics import MetricsSeries
from desktop.ui.common.flow_layout import flow_row
from desktop.ui.common.table_model import record_table
from desktop.ui.finetune.jobs_chart import MetricsChart
from desktop.ui.finetune.jobs_form import make_section
from desktop.ui.finetune.jobs_models import (
    CheckpointTableModel,
    EventTableModel,
    format_time,
)

STAGES = (VALIDATING_FILES, QUEUED, RUNNING)


def timeline_html(job: JobRecord) -> str:
    """Created → validating → queued → running → the end, with where the job is now.
    A status the app does not know is shown as the current step, as sent. A failed or
    cancelled job does not say how far it got, so its stages are not ticked."""
    status = job.status
    finished = job.finished
    if status in STAGES:
        reached = STAGES.index(status)
    elif status == SUCCEEDED:
        reached = len(STAGES)
    elif status in (PAUSED, "pausing"):
        reached = STAGES.index(RUNNING)
    else:
        reached = -1
    parts = [f"Created {format_time(job.created_at)}"]
    for position, stage in enumerate(STAGES):
        label = status_label(stage)
        if position < reached:
            parts.append(f"<span style='color:#2e7d32'>✓ {label}</span>")
        elif position == reached and not finished and status == stage:
            parts.append(f"<b>● {label}</b>")
        else:
            parts.append(f"<span style='color:#9e9e9e'>{label}</span>")
    if finished:
        colour = {SUCCEEDED: "#1b5e20", FAILED: "#b71c1c", CANCELLED: "#6d6d6d"}[status]
        when = f" {format_time(job.finished_at)}" if job.finished_at else ""
        parts.append(f"<b style='color:{colour}'>{status_label(status)}{when}</b>")
    elif status not in STAGES:
        parts.append(f"<b>● {status_label(status)}</b>")
    return " → ".join(parts)


class JobDetail(QWidget):
    cancel_requested = Signal(str)
    pause_requested = Signal(str)
    resume_requested = Signal(str)
    copy_requested = Signal(str)  # a model id
    use_requested = Signal(str)
    compare_requested = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.job: JobRecord | None = None
        self.title = QLabel("Select a job to see its progress.")
        self.title.setStyleSheet("font-weight: 600; font-size: 13pt;")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.timeline = QLabel()
        self.timeline.setTextFormat(Qt.TextFormat.RichText)
        self.timeline.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel()
        self.error.setObjectName("jobError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(
            "#jobError { background: #ffebee; color: #b71c1c; border: 1px solid #e57373; "
            "border-radius: 4px; padding: 6px; }"
        )
        self.error.hide()
        self.note = QLabel()  # what the last action or sync said
        self.note.setWordWrap(True)

        self.cancel_button = QPushButton("Cancel job")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.copy_button = QPushButton("Copy model id")
        self.use_button = QPushButton("Use in chat")
        self.compare_button = QPushButton("Compare in chat")
        actions = flow_row(
            self.cancel_button,
            self.pause_button,
            self.resume_button,
            self.copy_button,
            self.use_button,
            self.compare_button,
        )

        self.chart = MetricsChart()
        self.events = EventTableModel(self)
        self.event_table = record_table(
            self.events,
            stretch=EventTableModel.MESSAGE,
            samples=["2026-01-01 00:00:00", "error"],
        )
        self.checkpoints = CheckpointTableModel(self)
        self.checkpoint_table = record_table(
            self.checkpoints,
            stretch=CheckpointTableModel.MODEL,
            samples=["10000", "0.0000", "0.0000", "100.0%"],
        )
        self.use_checkpoint_button = QPushButton("Use this checkpoint")
        self.use_checkpoint_button.setEnabled(False)
        checkpoint_pane = QWidget()
        checkpoint_layout = QVBoxLayout(checkpoint_pane)
        checkpoint_layout.setContentsMargins(0, 0, 0, 0)
        checkpoint_layout.addWidget(self.checkpoint_table)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.use_checkpoint_button)
        checkpoint_layout.addLayout(row)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(make_section("Events (newest first)", self.event_table))
        lower.addWidget(make_section("Checkpoints", checkpoint_pane))
        lower.setSizes([620, 380])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(make_section("Training metrics", self.chart))
        body.addWidget(lower)
        body.setSizes([320, 240])

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.timeline)
        layout.addWidget(self.summary)
        layout.addWidget(actions)
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addWidget(body, 1)

        self.cancel_button.clicked.connect(lambda: self._emit(self.cancel_requested))
        self.pause_button.clicked.connect(lambda: self._emit(self.pause_requested))
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))
        self.copy_button.clicked.connect(self._copy)
        self.use_button.clicked.connect(lambda: self._emit_model(self.use_requested))
        self.compare_button.clicked.connect(lambda: self._emit_model(self.compare_requested))
        self.use_checkpoint_button.clicked.connect(self.use_checkpoint)
        self.checkpoint_table.doubleClicked.connect(lambda _i: self.use_checkpoint())
        self.checkpoint_table.selectionModel().selectionChanged.connect(
            lambda *_: self.use_checkpoint_button.setEnabled(
                self._selected_checkpoint() is not None
            )
        )
        self.show_snapshot(None)

    def _emit(self, signal: Any) -> None:
        if self.job is not None:
            signal.emit(self.job.job_id)

    def _emit_model(self, signal: Any) -> None:
        if self.job is not None and self.job.fine_tuned_model:
            signal.emit(self.job.fine_tuned_model)

    def _copy(self) -> None:
        if self.job is not None:
            self.copy_requested.emit(self.job.fine_tuned_model or self.job.job_id)

    def _selected_checkpoint(self) -> Checkpoint | None:
        rows = self.checkpoint_table.selectionModel().selectedRows()
        return self.checkpoints.checkpoint(rows[0].row()) if rows else None

    def use_checkpoint(self) -> None:
        checkpoint = self._selected_checkpoint()
        if checkpoint is not None and checkpoint.model:
            self.use_requested.emit(checkpoint.model)

    def show_snapshot(self, snapshot: JobSnapshot | None) -> None:
        job = snapshot.job if snapshot is not None else None
        self.job = job
        for button in (
            self.cancel_button,
            self.pause_button,
            self.resume_button,
            self.copy_button,
            self.use_button,
            self.compare_button,
        ):
            button.setEnabled(False)
        if snapshot is None or job is None:
            self.title.setText("Select a job to see its progress.")
            self.timeline.clear()
            self.summary.clear()
            self.error.hide()
            self.chart.set_metrics(MetricsSeries())
            self.events.set_events([])
            self.checkpoints.set_checkpoints([])
            return
        self.title.setText(job.fine_tuned_model or job.job_id)
        self.timeline.setText(timeline_html(job))
        hyper = ", ".join(f"{k} {v}" for k, v in sorted(job.hyperparameters.items()))
        lines = [
            f"Job {job.job_id} on {job.provider} ({job.base_url})",
            f"Base model {job.model}, {job.method}" + (f"; {hyper}" if hyper else ""),
        ]
        if job.dataset_name:
            lines.append(f"Dataset {job.dataset_name}")
        self.summary.setText("\n".join(lines))
        if job.error_message:
            self.error.setText(f"The job failed: {job.error_message}")
            self.error.show()
        else:
            self.error.hide()
        self.cancel_button.setEnabled(not job.finished)
        self.pause_button.setEnabled(job.status == RUNNING)
        self.resume_button.setEnabled(job.status == PAUSED)
        self.copy_button.setEnabled(True)
        self.copy_button.setText("Copy model id" if job.fine_tuned_model else "Copy job id")
        ready = bool(job.fine_tuned_model)
        self.use_button.setEnabled(ready)
        self.compare_button.setEnabled(ready)
        self.chart.set_metrics(snapshot.metrics)
        self.events.set_events(snapshot.events)
        self.checkpoints.set_checkpoints(snapshot.checkpoints)
        self.use_checkpoint_button.setEnabled(self._selected_checkpoint() is not None)
