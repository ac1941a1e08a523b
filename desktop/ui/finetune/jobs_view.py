"""The job tracker: create a fine-tuning job, follow it, use its model.

Everything shown comes from the workspace (``JobStore``), so jobs, events and charts are
there after a restart and while the provider is unreachable; syncs run on workers and
write on the "store" queue, each job on its own timer paced by ``next_poll_seconds``."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.finetune.job_store import SUCCEEDED, JobRecord, JobStore
from desktop.finetune.jobs import (
    DatasetExport,
    SyncResult,
    UploadedDataset,
    cancel_job,
    create_job,
    export_dataset,
    next_poll_seconds,
    pause_job,
    refresh_jobs,
    resume_job,
    sync_job,
    upload_dataset,
)
from desktop.finetune.providers import (
    FineTuneProvider,
    OpenAIFineTuneProvider,
    ProviderError,
    ProviderRefused,
    Unsupported,
    provider_for_config,
)
from desktop.finetune.requests import JobError, JobRequest, prepare_request
from desktop.finetune.stats import DatasetStats, dataset_stats
from desktop.finetune.store import Dataset, DatasetStore
from desktop.progress import CancelToken, Progress
from desktop.ui.common.dialogs import Confirm, ask
from desktop.ui.common.table_model import fit_columns
from desktop.ui.finetune.jobs_detail import JobDetail, JobSnapshot
from desktop.ui.finetune.jobs_form import NewJobForm
from desktop.ui.finetune.jobs_models import RECORD_ROLE, JobSortProxy, JobTableModel
from desktop.workers import TaskError, TaskManager, Worker

log = logging.getLogger(__name__)

STORE_QUEUE = "store"
MAX_RETRY_SECONDS = 600.0
NextPoll = Callable[[str, float | None], float | None]


class ProviderCache:
    """One fine-tuning provider per configuration, shared by the workers (building an
    OpenAI client per poll would cost each poll an HTTP pool and a TLS context). A
    provider is closed once no worker uses it, so a call in flight is never cut."""

    def __init__(self, context: AppContext) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._key: tuple[str, str | None] | None = None
        self._provider: OpenAIFineTuneProvider | None = None
        self._retired: list[OpenAIFineTuneProvider] = []
        self._users = 0
        self._closed = False

    @contextmanager
    def use(self) -> Iterator[FineTuneProvider]:
        if self._closed:
            raise ProviderError("The job tracker is closed.")
        config = self._context.provider_config()
        key = (config.base_url or "", config.api_key)
        with self._lock:
            if self._closed:
                raise ProviderError("The job tracker is closed.")
            if self._provider is None or self._key != key:
                if self._provider is not None:
                    self._retired.append(self._provider)
                self._provider = provider_for_config(config)
                self._key = key
            provider = self._provider
            self._users += 1
        try:
            yield provider
        finally:
            with self._lock:
                self._users -= 1
                self._close_unused()

    def _close_unused(self) -> None:
        if self._users:
            return
        retired, self._retired = self._retired, []
        if self._closed and self._provider is not None:
            retired.append(self._provider)
            self._provider = None
        for provider in retired:
            provider.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._close_unused()


@dataclass(frozen=True)
class DatasetCheck:
    """A dataset that passed validation, with what a job on it would cost."""

    export: DatasetExport
    stats: DatasetStats

    def describe(self) -> str:
        cost = self.stats.cost
        money = f"about ${cost.cost:,.2f}" if cost.cost is not None else "price unknown"
        epochs = f"{cost.epochs} epoch{'s' if cost.epochs != 1 else ''}"
        return (
            f"Estimated {cost.billed_tokens:,} billed tokens ({epochs} × "
            f"{cost.billed_tokens_per_epoch:,}) for {cost.model}: {money}. "
            "The provider's bill is what counts."
        )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "dataset"


class JobsView(QWidget):
    use_model = Signal(str)  # "Use in chat": select this model in the Chat tab
    compare_model = Signal(str)  # "Compare in chat"
    jobs_loaded = Signal()  # the table shows the workspace's jobs
    snapshot_shown = Signal(str)  # the detail shows this job as stored now

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
        *,
        next_poll: NextPoll = next_poll_seconds,
        retry_seconds: float = 30.0,
    ) -> None:
        """``next_poll(status, last_change)`` paces the syncs (tests pass short intervals);
        ``retry_seconds`` is the first wait after a failed sync (it doubles)."""
        super().__init__(parent)
        self.context = context
        self.tasks = tasks
        self.report_error = report_error
        self.confirm: Confirm = ask(self)
        self.choose_export_folder: Callable[[], Path | None] = self._ask_folder
        self.next_poll = next_poll
        self.retry_seconds = retry_seconds
        self.store = JobStore(context.workspace)
        self.datasets = DatasetStore(context.workspace)
        self.providers = ProviderCache(context)
        self._timers: dict[str, QTimer] = {}
        self._in_flight: set[str] = set()
        self._failures: dict[str, int] = {}
        self._check: DatasetCheck | None = None
        self._check_generation = 0
        self._selected: str | None = None
        self._detail_loading = False
        self._detail_again = False
        self._closing = False
        self._workers: dict[int, Worker] = {}

        self.form = NewJobForm()
        self.model = JobTableModel(self)
        self.proxy = JobSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(JobTableModel.CREATED, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        fit_columns(
            self.table,
            JobTableModel.FINE_TUNED,
            [
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
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.detail)
        splitter.setSizes([560, 640])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self.model.tick)
        self._clock.start()

        self.form.check_requested.connect(self.check_dataset)
        self.form.create_requested.connect(self.create)
        self.form.refusal.export_button.clicked.connect(self._export_clicked)
        self.refresh_button.clicked.connect(self.sync_all)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.detail.cancel_requested.connect(self.cancel)
        self.detail.pause_requested.connect(self.pause)
        self.detail.resume_requested.connect(self.resume)
        self.detail.copy_requested.connect(self.copy_model_id)
        self.detail.use_requested.connect(self.use_model.emit)
        self.detail.compare_requested.connect(self.compare_model.emit)

        self._shown_once = False
        self.reload()
        self.refresh_datasets()

    def showEvent(self, event: object) -> None:
        """Talk to the provider only once the view is looked at: at start-up that would
        read the keychain (which may prompt) and reach the network for nothing."""
        super().showEvent(event)  # type: ignore[arg-type]
        if not self._shown_once:
            self._shown_once = True
            self.refresh_models()
            self.sync_all()

    # -- loading -----------------------------------------------------------------------

    def reload(self) -> Worker:
        """Show the jobs kept in the workspace, then sync with the provider."""
        worker = self._run(self.store.jobs, title="Loading fine-tuning jobs")
        worker.signals.result.connect(self._jobs_loaded)
        worker.signals.error.connect(self._report("Loading fine-tuning jobs"))
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

    def sync_all(self) -> Worker:
        """Record the provider's job list (jobs started elsewhere appear too)."""
        providers, store = self.providers, self.store

        def fetch() -> list[JobRecord]:
            with providers.use() as provider:
                return refresh_jobs(provider, store)

        worker = self._run(fetch, title="Listing fine-tuning jobs", queue=STORE_QUEUE)
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

    def refresh_datasets(self) -> Worker:
        worker = self._run(self.datasets.datasets, title="Listing datasets")
        worker.signals.result.connect(self._datasets_loaded)
        worker.signals.error.connect(self._report("Listing datasets"))
        return worker

    def _datasets_loaded(self, datasets: list[Dataset]) -> None:
        self.form.set_datasets(datasets)
        if not self.form.model.currentText():
            chosen = next((d for d in datasets if d.id == self.form.dataset.currentData()), None)
            if chosen is not None and chosen.model:
                self.form.model.setCurrentText(chosen.model)
        self.check_dataset()

    def refresh_models(self) -> Worker:
        providers = self.providers

        def models() -> list[str]:
            with providers.use() as provider:
                return provider.list_models(fine_tunable_only=True)

        worker = self._run(models, title="Listing fine-tunable models")
        worker.signals.result.connect(self.form.set_models)
        worker.signals.error.connect(
            lambda e: self.form.model.setToolTip(
                f"The provider's models could not be listed ({e.message}); type a model name."
            )
        )
        return worker

    # -- checking and creating -------------------------------------------------------------

    def check_dataset(self) -> Worker | None:
        """Validate the chosen dataset and estimate its cost, before anything is uploaded."""
        dataset_id = self.form.dataset.currentData()
        model = self.form.model.currentText().strip()
        self._check = None
        self._check_generation += 1
        generation = self._check_generation
        self.form.create_button.setEnabled(False)
        self.form.estimate.clear()
        if dataset_id is None:
            return None
        if not model:
            self.form.check.setText("Choose a base model to check the dataset against.")
            return None
        epochs_text = self.form.epochs.text().strip()
        epochs = int(epochs_text) if epochs_text.isdigit() and int(epochs_text) > 0 else None
        datasets = self.datasets

        def check() -> DatasetCheck:
            export = export_dataset(datasets, dataset_id, model=model)
            stats = dataset_stats(datasets.examples(dataset_id), model=model, epochs=epochs)
            return DatasetCheck(export, stats)

        self.form.check.setText("Checking the dataset…")
        worker = self._run(check, title="Checking the dataset")
        worker.signals.result.connect(lambda c: self._checked(generation, c))
        worker.signals.error.connect(lambda e: self._check_failed(generation, e))
        return worker

    def _checked(self, generation: int, check: DatasetCheck) -> None:
        if generation != self._check_generation:
            return
        self._check = check
        export = check.export
        kind = "preference pairs" if export.kind == "preference" else "chat examples"
        text = (
            f"Ready: {export.train_count} training and {export.validation_count} validation {kind}."
        )
        if export.warnings:
            text += " " + " ".join(export.warnings)
        self.form.check.setStyleSheet("")
        self.form.check.setText(text)
        self.form.estimate.setText(check.describe())
        self.form.set_method("dpo" if export.kind == "preference" else "supervised")
        self.form.create_button.setEnabled(True)

    def _check_failed(self, generation: int, error: TaskError) -> None:
        if generation != self._check_generation:
            return
        self.form.check.setStyleSheet("color: #b71c1c;")
        self.form.check.setText(f"Cannot upload this dataset: {error.message}")

    def create(self) -> Worker | None:
        """Prepare the request (pure), then upload and create on a worker."""
        check = self._check
        if check is None:
            return None
        self.form.refusal.hide()
        try:
            request = prepare_request(**self.form.values(), data_kind=check.export.kind)
        except JobError as exc:
            self.form.check.setStyleSheet("color: #b71c1c;")
            self.form.check.setText(str(exc))
            return None
        dataset_id = check.export.dataset_id
        assert dataset_id is not None
        providers, store, datasets = self.providers, self.store, self.datasets

        def upload_and_create(cancel: CancelToken) -> Any:
            with providers.use() as provider:
                export = export_dataset(
                    datasets, dataset_id, model=request.model, provider_name=provider.name
                )
                uploaded: UploadedDataset = yield from upload_dataset(
                    provider, store, export, cancel=cancel
                )
                yield Progress(1, 1, f"Creating the job on {request.model}")
                ready: JobRequest = request.with_files(
                    uploaded.training_file, uploaded.validation_file
                )
                return create_job(
                    provider, store, ready, dataset_id=dataset_id, dataset_name=export.dataset_name
                )

        self.form.set_busy(True)
        self.form.check.setText("Uploading the dataset…")
        worker = self._run(upload_and_create, title="Creating a fine-tuning job", queue=STORE_QUEUE)
        worker.signals.progress.connect(self._upload_progress)
        worker.signals.result.connect(self._created)
        worker.signals.error.connect(self._create_failed)
        worker.signals.finished.connect(lambda: self.form.set_busy(False))
        return worker

    def _upload_progress(self, step: object) -> None:
        if isinstance(step, Progress):
            if step.total:
                self.form.progress.setRange(0, step.total)
                self.form.progress.setValue(step.done)
            self.form.check.setText(step.message)

    def _created(self, job: JobRecord) -> None:
        self.form.check.setStyleSheet("")
        self.form.check.setText(f"Created {job.job_id} ({job.status_label}).")
        self.model.upsert(job)
        self._schedule(job, first=True)
        self.select_job(job.job_id)

    def _create_failed(self, error: TaskError) -> None:
        exc = error.exception
        if isinstance(exc, ProviderRefused):
            refusal = self.form.refusal
            refusal.message.setText(
                f"{exc.provider_name} ({exc.host}) will not create this job. "
                f"It said: “{exc.server_message or exc.message}”\n"
                "Nothing was created. You can export the dataset and train elsewhere."
            )
            refusal.show()
            self.form.check.setText("The provider refused the job.")
            return
        self.form.check.setStyleSheet("color: #b71c1c;")
        self.form.check.setText(f"The job was not created: {error.message}")
        if not isinstance(exc, ProviderError | JobError):
            self.report_error("Creating a fine-tuning job", error)

    # -- export ------------------------------------------------------------------------------

    def _ask_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, "Export the dataset to a folder")
        return Path(folder) if folder else None

    def _export_clicked(self) -> None:
        folder = self.choose_export_folder()
        if folder is not None:
            self.export_to(folder)

    def export_to(self, folder: Path) -> Worker | None:
        """OpenAI JSONL and plain chat-messages JSONL (TRL, Axolotl), train and validation."""
        dataset_id = self.form.dataset.currentData()
        if dataset_id is None:
            return None
        datasets = self.datasets

        def export() -> list[Path]:
            from desktop.finetune.examples import PreferenceExample, TrainingExample
            from desktop.finetune.jsonl import (
                export_chat_jsonl,
                export_chat_messages_jsonl,
                export_preference_jsonl,
            )

            dataset = datasets.dataset(dataset_id)
            examples = datasets.examples(dataset_id)
            chats = [e for e in examples if isinstance(e, TrainingExample)]
            pairs = [e for e in examples if isinstance(e, PreferenceExample)]
            stem = folder / _slug(dataset.name)
            written = []
            if chats:
                written.append(
                    export_chat_jsonl(
                        chats,
                        Path(f"{stem}-openai-train.jsonl"),
                        Path(f"{stem}-openai-validation.jsonl"),
                    )
                )
                written.append(
                    export_chat_messages_jsonl(
                        chats,
                        Path(f"{stem}-messages-train.jsonl"),
                        Path(f"{stem}-messages-validation.jsonl"),
                    )
                )
            if pairs:
                written.append(
                    export_preference_jsonl(
                        pairs,
                        Path(f"{stem}-preference-train.jsonl"),
                        Path(f"{stem}-preference-validation.jsonl"),
                    )
                )
            paths: list[Path] = []
            for summary in written:
                paths.append(summary.train_path)
                if summary.validation_path is not None:
                    paths.append(summary.validation_path)
            return paths

        worker = self._run(export, title="Exporting the dataset")
        worker.signals.result.connect(self._exported)
        worker.signals.error.connect(self._report("Exporting the dataset"))
        return worker

    def _exported(self, paths: list[Path]) -> None:
        names = f"{paths[0].parent}:\n" + "\n".join(p.name for p in paths)
        self.form.refusal.message.setText(
            self.form.refusal.message.text().split("\n\nSaved:")[0] + f"\n\nSaved:\n{names}"
        )
        self.status.setText(f"Exported {len(paths)} file(s) to {paths[0].parent}.")

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
        providers, store = self.providers, self.store

        def sync() -> SyncResult | None:
            with providers.use() as provider:
                if (provider.kind, provider.base_url) != (job.provider, job.base_url):
                    return None  # recorded from another provider: not this one's to ask
                return sync_job(provider, store, job_id)

        worker = self._run(sync, title=f"Syncing {job_id}", queue=STORE_QUEUE)
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
        store = self.store

        def snapshot() -> JobSnapshot:
            return JobSnapshot(
                job=store.require_job(job_id),
                events=store.events(job_id),
                checkpoints=store.checkpoints(job_id),
                metrics=store.metrics_series(job_id),
            )

        worker = self._run(snapshot, title=f"Reading {job_id}")
        worker.signals.result.connect(self._show_snapshot)
        worker.signals.error.connect(self._report("Reading the job"))
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
        return self._act(job_id, cancel_job, "Cancelling")

    def pause(self, job_id: str) -> Worker:
        return self._act(job_id, pause_job, "Pausing")

    def resume(self, job_id: str) -> Worker:
        return self._act(job_id, resume_job, "Resuming")

    def _act(
        self, job_id: str, action: Callable[[FineTuneProvider, JobStore, str], JobRecord], verb: str
    ) -> Worker:
        providers, store = self.providers, self.store

        def run() -> JobRecord:
            with providers.use() as provider:
                return action(provider, store, job_id)

        self.detail.note.setText(f"{verb} {job_id}…")
        worker = self._run(run, title=f"{verb} {job_id}", queue=STORE_QUEUE)
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

    def _run(self, fn: Callable[..., Any], *, title: str, queue: str | None = None) -> Worker:
        """``tasks.run``, remembering the worker so closing the view can cancel it."""
        worker = self.tasks.run(fn, title=title, queue=queue)
        self._workers[worker.id] = worker
        worker.signals.finished.connect(lambda w=worker.id: self._workers.pop(w, None))
        return worker

    def _report(self, title: str) -> Callable[[TaskError], None]:
        return lambda error: self.report_error(title, error)

    def shutdown(self) -> None:
        """Stop polling (the tab calls this on quit; workers are cancelled by the app)."""
        self._closing = True
        for job_id in list(self._timers):
            self._stop_polling(job_id)
        self._clock.stop()
        for worker in list(self._workers.values()):
            worker.cancel()
        self.providers.close()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)
