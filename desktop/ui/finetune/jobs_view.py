"""The job tracker: follow fine-tuning jobs and use their models (making them is
``JobCreation``; the widgets are laid out in ``JobsLayout``).

Everything shown comes from the workspace through the fine-tuning front door, so jobs,
events and charts are there after a restart and while the provider is unreachable;
syncs run on workers and write on the "store" queue, each job on its own timer paced by
``next_poll_seconds``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QItemSelection, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from desktop.events import Topic
from desktop.finetune.job_store import SUCCEEDED, JobRecord, JobSnapshot
from desktop.finetune.jobs import SyncResult, next_poll_seconds
from desktop.finetune.providers import Unsupported
from desktop.finetune.service import FineTuneService
from desktop.ui.common.events import EventRelay
from desktop.ui.common.table_model import RECORD_ROLE
from desktop.ui.finetune.job_creation import JobCreation
from desktop.ui.finetune.jobs_layout import JobsLayout
from desktop.workers import STORE_QUEUE, TaskError, TaskManager, Worker

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 600.0
NextPoll = Callable[[str, float | None], float | None]


class JobsView(JobsLayout):
    use_model = Signal(str)  # "Use in chat": select this model in the Chat tab
    compare_model = Signal(str)  # "Compare in chat"
    jobs_loaded = Signal()  # the table shows the workspace's jobs
    snapshot_shown = Signal(str)  # the detail shows this job as stored now

    def __init__(
        self,
        service: FineTuneService,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
        *,
        remember_spend_limit: Callable[[float], object] | None = None,
        next_poll: NextPoll = next_poll_seconds,
        retry_seconds: float = 30.0,
    ) -> None:
        """``remember_spend_limit(usd)`` stores "don't ask again under $X" (on a worker);
        ``next_poll(status, last_change)`` paces the syncs (tests pass short intervals);
        ``retry_seconds`` is the first wait after a failed sync (it doubles)."""
        super().__init__(parent)
        self.service = service
        self.tasks = tasks
        self.report_error = report_error
        self._remember = remember_spend_limit
        self.next_poll = next_poll
        self.retry_seconds = retry_seconds
        self._timers: dict[str, QTimer] = {}
        self._in_flight: set[str] = set()
        self._failures: dict[str, int] = {}
        self._selected: str | None = None
        self._detail_loading = False
        self._detail_again = False
        self._closing = False
        self._workers: dict[int, Worker] = {}
        self._shown_once = False
        self.creation = JobCreation(self)
        # Changes made anywhere (a sync, the command line's job in this workspace, a
        # dataset edited in the builder) reach the table, the detail and the form.
        self.events = EventRelay(service.events, self)
        self.events.on(Topic.JOBS, self._jobs_changed, self)
        self.events.on(Topic.DATASETS, self.refresh_datasets, self)

        self.refresh_button.clicked.connect(self.sync_all)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.detail.cancel_requested.connect(self.cancel)
        self.detail.pause_requested.connect(self.pause)
        self.detail.resume_requested.connect(self.resume)
        self.detail.copy_requested.connect(self.copy_model_id)
        self.detail.use_requested.connect(self.use_model.emit)
        self.detail.compare_requested.connect(self.compare_model.emit)
        self.reload()
        self.refresh_datasets()

    def showEvent(self, event: object) -> None:
        """Talk to the provider only once the view is looked at: at start-up that would
        read the keychain (which may prompt) and reach the network for nothing."""
        super().showEvent(event)  # type: ignore[arg-type]
        if not self._shown_once:
            self._shown_once = True
            self.creation.refresh_models()
            self.sync_all()

    def refresh_datasets(self) -> Worker:
        return self.creation.refresh_datasets()

    def remember_spend_limit(self, usd: float) -> None:
        if self._remember is not None:
            remember = self._remember
            worker = self.run(
                lambda: remember(usd), title="Saving the spend limit", queue="settings"
            )
            worker.signals.error.connect(self.reporter("Saving the spend limit"))

    # -- loading -----------------------------------------------------------------------

    def reload(self) -> Worker:
        """Show the jobs kept in the workspace, then sync with the provider."""
        worker = self.run(self.service.jobs, title="Loading fine-tuning jobs")
        worker.signals.result.connect(self._jobs_loaded)
        worker.signals.error.connect(self.reporter("Loading fine-tuning jobs"))
        return worker

    def _jobs_loaded(self, jobs: list[JobRecord]) -> None:
        self.model.set_jobs(jobs)
        for job in jobs:
            self._schedule(job, first=True)
        if jobs and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self.jobs_loaded.emit()
        if self._shown_once:
            self.sync_all()

    def _jobs_changed(self) -> None:
        worker = self.run(self.service.jobs, title="Reading fine-tuning jobs")
        worker.signals.result.connect(self._jobs_reread)

    def _jobs_reread(self, jobs: list[JobRecord]) -> None:
        for job in jobs:
            self.model.upsert(job)
        if self._selected is not None:
            self.load_detail(self._selected)
        self.creation.jobs_changed(jobs)

    def sync_all(self) -> Worker:
        """Record the provider's job list (jobs started elsewhere appear too)."""
        worker = self.run(
            self.service.refresh_jobs, title="Listing fine-tuning jobs", queue=STORE_QUEUE
        )
        worker.signals.result.connect(self._jobs_refreshed)
        worker.signals.error.connect(self._list_failed)
        return worker

    def _jobs_refreshed(self, jobs: list[JobRecord]) -> None:
        for job in jobs:
            known = self.model.row_of(job.job_id) is not None
            self.model.upsert(job)
            if not known:
                self._schedule(job, first=True)
        self.status.setText(f"Job list synced with the provider at {time.strftime('%H:%M:%S')}.")
        if self.model.rowCount() and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)

    def _list_failed(self, error: TaskError) -> None:
        self.status.setText(
            f"Could not reach the provider: {error.message}\n"
            "Showing the jobs, events and metrics kept in this workspace."
        )

    def job_created(self, job: JobRecord) -> None:
        self.model.upsert(job)
        self._schedule(job, first=True)
        self.select_job(job.job_id)

    # -- polling -----------------------------------------------------------------------------

    def _schedule(self, job: JobRecord, *, first: bool = False) -> None:
        """Sync again after ``next_poll``; finished jobs stop (after one sync on start-up
        when a succeeded job's result file has not been read yet)."""
        delay = self.next_poll(job.status, job.last_change_at)
        failures = self._failures.get(job.job_id, 0)
        if delay is None and first and job.status == SUCCEEDED and not job.result_loaded:
            delay = 0.0
        if delay is None:
            self._stop_polling(job.job_id)
            return
        if failures:
            delay = min(MAX_RETRY_SECONDS, max(delay, self.retry_seconds * 2 ** (failures - 1)))
        timer = self._timers.get(job.job_id)
        if timer is None:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda job_id=job.job_id: self.poll(job_id))
            self._timers[job.job_id] = timer
        timer.start(int(delay * 1000))

    def _stop_polling(self, job_id: str) -> None:
        timer = self._timers.pop(job_id, None)
        if timer is not None:
            timer.stop()
            timer.deleteLater()

    @property
    def polled_jobs(self) -> list[str]:
        """Jobs with a sync pending (for the status bar and tests)."""
        return sorted(self._timers)

    def poll(self, job_id: str) -> Worker | None:
        if job_id in self._in_flight or self._closing:
            return None
        row = self.model.row_of(job_id)
        if row is None:
            return None
        job = self.model.job(row)
        self._in_flight.add(job_id)
        worker = self.run(self.service.sync, job_id, title=f"Syncing {job_id}", queue=STORE_QUEUE)
        worker.signals.result.connect(lambda r, j=job: self._synced(j, r))
        worker.signals.error.connect(lambda e, j=job: self._sync_failed(j, e))
        worker.signals.finished.connect(lambda j=job_id: self._in_flight.discard(j))
        return worker

    def _synced(self, before: JobRecord, result: SyncResult | None) -> None:
        if result is None:
            self.model.set_note(before.job_id, "Recorded from another provider; not synced.")
            self._stop_polling(before.job_id)
            return
        job = result.job
        self._failures.pop(job.job_id, None)
        self.model.set_note(job.job_id, None)
        self.model.upsert(job)
        self._schedule(job)
        if job.job_id == self._selected and result.unreadable:
            self.detail.note.setText(result.unreadable_note())
        if job.job_id == self._selected and (result.changed or result.result_file_points):
            self.load_detail(job.job_id)

    def _sync_failed(self, job: JobRecord, error: TaskError) -> None:
        self._failures[job.job_id] = self._failures.get(job.job_id, 0) + 1
        self.model.set_note(job.job_id, f"Last sync failed: {error.message}")
        if job.job_id == self._selected:
            self.detail.note.setText(
                f"Could not sync with the provider ({error.message}); showing what is kept "
                "in this workspace. Retrying."
            )
        current = self.model.row_of(job.job_id)
        self._schedule(self.model.job(current) if current is not None else job)

    # -- detail ------------------------------------------------------------------------------

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        job: JobRecord = self.proxy.data(rows[0], RECORD_ROLE)
        self._selected = job.job_id
        self.detail.note.clear()
        self.load_detail(job.job_id)

    def select_job(self, job_id: str) -> None:
        row = self.model.row_of(job_id)
        if row is not None:
            self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())

    def load_detail(self, job_id: str) -> Worker | None:
        """Read the job's records on a worker; while one read is under way, further
        requests collapse into one more read when it ends (several syncs a second
        must not queue a read each)."""
        if self._detail_loading:
            self._detail_again = True
            return None
        self._detail_loading = True
        self._detail_again = False
        worker = self.run(self.service.snapshot_of, job_id, title=f"Reading {job_id}")
        worker.signals.result.connect(self._show_snapshot)
        worker.signals.error.connect(self.reporter("Reading the job"))
        worker.signals.finished.connect(self._detail_loaded)
        return worker

    def _detail_loaded(self) -> None:
        self._detail_loading = False
        if self._detail_again and self._selected is not None:
            self.load_detail(self._selected)

    def _show_snapshot(self, snapshot: JobSnapshot) -> None:
        if snapshot.job.job_id != self._selected:
            return
        self.detail.show_snapshot(snapshot)
        self.snapshot_shown.emit(snapshot.job.job_id)

    # -- actions ---------------------------------------------------------------------------

    def cancel(self, job_id: str) -> Worker | None:
        if not self.confirm("Cancel job", f"Cancel fine-tuning job {job_id}?"):
            return None
        self._stop_polling(job_id)
        return self._act(job_id, self.service.cancel_job, "Cancelling")

    def pause(self, job_id: str) -> Worker:
        return self._act(job_id, self.service.pause_job, "Pausing")

    def resume(self, job_id: str) -> Worker:
        return self._act(job_id, self.service.resume_job, "Resuming")

    def _act(self, job_id: str, action: Callable[[str], JobRecord], verb: str) -> Worker:
        self.detail.note.setText(f"{verb} {job_id}…")
        worker = self.run(action, job_id, title=f"{verb} {job_id}", queue=STORE_QUEUE)
        worker.signals.result.connect(lambda job, v=verb: self._acted(job, v))
        worker.signals.error.connect(lambda e, j=job_id, v=verb: self._act_failed(j, v, e))
        return worker

    def _acted(self, job: JobRecord, verb: str) -> None:
        self.detail.note.setText(f"{verb} done: the job is {job.status_label.lower()}.")
        self.model.upsert(job)
        self._schedule(job)
        if job.job_id == self._selected:
            self.load_detail(job.job_id)

    def _act_failed(self, job_id: str, verb: str, error: TaskError) -> None:
        exc = error.exception
        if isinstance(exc, Unsupported):
            self.detail.note.setText(f"{verb} is not supported by this provider. {exc.message}")
        else:
            self.detail.note.setText(f"{verb} {job_id} failed: {error.message}")
        row = self.model.row_of(job_id)
        if row is not None:
            self._schedule(self.model.job(row))

    def copy_model_id(self, model_id: str) -> None:
        QGuiApplication.clipboard().setText(model_id)
        self.detail.note.setText(f"Copied {model_id}")

    # -- helpers ---------------------------------------------------------------------------

    def run(
        self, fn: Callable[..., Any], *args: Any, title: str, queue: str | None = None
    ) -> Worker:
        """``tasks.run``, remembering the worker so closing the view can cancel it."""
        worker = self.tasks.run(fn, *args, title=title, queue=queue)
        self._workers[worker.id] = worker
        worker.signals.finished.connect(lambda w=worker.id: self._workers.pop(w, None))
        return worker

    def reporter(self, title: str) -> Callable[[TaskError], None]:
        return lambda error: self.report_error(title, error)

    def shutdown(self) -> None:
        """Stop polling (the tab calls this on quit; workers are cancelled by the app)."""
        self._closing = True
        for job_id in list(self._timers):
            self._stop_polling(job_id)
        self.clock.stop()
        for worker in list(self._workers.values()):
            worker.cancel()
        self.service.close()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)
