"""Fine-tuning as the Fine-tuning tab and ``ragtune dataset`` / ``ragtune jobs`` use it:
one front door over the datasets, their files, their checks and estimates, and the jobs
made from them. The window and the commands call the same methods for the same job, so
an export from either is the same file and a job is always made the same way.

It receives what it needs (the workspace, the settings in force, the provider access,
and for drafting the library's front door), never the app context. Every method does
disk or network work, so the UI calls them on workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from desktop.events import EventBus, Topic
from desktop.finetune import files
from desktop.finetune.analysis import Analysis, Counters, analyse
from desktop.finetune.edits import DatasetEdit
from desktop.finetune.examples import AnyExample
from desktop.finetune.generate import GenerationResult, Selection, draft_from_library
from desktop.finetune.job_store import JobRecord, JobSnapshot, JobStore
from desktop.finetune.jobs import (
    CreatedJob,
    DatasetCheck,
    JobPlan,
    SyncResult,
    cancel_job,
    check_dataset,
    create_planned_job,
    next_poll_seconds,
    pause_job,
    plan_job,
    refresh_jobs,
    resume_job,
    sync_job,
)
from desktop.finetune.jsonl import ExportSummary, ImportResult, csv_header, parse_chat_jsonl
from desktop.finetune.providers import FineTuneProvider, ProviderError, provider_for_config
from desktop.finetune.requests import RequestFields, requested_epochs
from desktop.finetune.stats import DatasetStats, dataset_stats
from desktop.finetune.store import Dataset, DatasetError, DatasetStore
from desktop.finetune.validation import Issue, validate_examples
from desktop.progress import CancelToken, ProgressGenerator

if TYPE_CHECKING:
    from desktop.library.repository import DocumentRecord, StoredChunk
    from desktop.library.service import LibraryService
    from desktop.providers.client import ProviderAccess, ProviderConfig
    from desktop.settings import Settings
    from desktop.workspace import Workspace

ProviderFactory = Callable[["ProviderConfig"], FineTuneProvider]


@dataclass(frozen=True)
class DatasetSnapshot:
    """The datasets as one read saw them, and the examples of the one shown."""

    datasets: tuple[Dataset, ...]
    dataset_id: int | None
    examples: list[AnyExample]


@dataclass(frozen=True)
class FileValidation:
    """A JSONL file checked without importing it (``ragtune dataset validate``)."""

    path: Path
    model: str
    lines: int
    valid_examples: int
    errors: list[Issue]
    warnings: list[Issue]
    stats: DatasetStats


@dataclass(frozen=True)
class JobList:
    """Jobs newest first; ``refresh_error`` says why the provider's list is not in it."""

    jobs: list[JobRecord]
    refresh_error: str | None = None


@dataclass(frozen=True)
class JobDetails:
    """One job as stored after a sync, or as saved when the sync was not possible."""

    snapshot: JobSnapshot
    sync_note: str | None
    next_poll_seconds: float | None
    unreadable: dict[str, str] = field(default_factory=dict)
    """Parts of the job the provider sent in a form that could not be read, and why."""


class _Providers:
    """One provider per configuration, shared by concurrent callers (building a client
    per poll would cost each poll an HTTP pool and a TLS context). A provider is closed
    once no caller uses it, so a call in flight is never cut."""

    def __init__(self, access: ProviderAccess, factory: ProviderFactory) -> None:
        self._access = access
        self._factory = factory
        self._lock = threading.Lock()
        self._key: tuple[str, str | None] | None = None
        self._provider: FineTuneProvider | None = None
        self._retired: list[FineTuneProvider] = []
        self._users = 0
        self._closed = False

    @contextmanager
    def use(self) -> Iterator[FineTuneProvider]:
        if self._closed:
            raise ProviderError("The job tracker is closed.")
        config = self._access.config()
        key = (config.base_url or "", config.api_key)
        with self._lock:
            if self._closed:
                raise ProviderError("The job tracker is closed.")
            if self._provider is None or self._key != key:
                if self._provider is not None:
                    self._retired.append(self._provider)
                self._provider = self._factory(config)
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


class FineTuneService:
    def __init__(
        self,
        workspace: Workspace,
        settings: Callable[[], Settings],
        provider: ProviderAccess,
        *,
        library: Callable[[], LibraryService] | None = None,
        clock: Callable[[], float] = time.time,
        provider_factory: ProviderFactory = provider_for_config,
        events: EventBus | None = None,
        evaluation_questions: Callable[[], tuple[list[str], list[str]]] | None = None,
    ) -> None:
        """``evaluation_questions``: the eval sets' questions and a label for each, for the
        leakage check (the evaluation's front door answers; None: no check)."""
        self.events = events or EventBus()
        self._settings = settings
        self._evaluation_questions = evaluation_questions
        self._access = provider
        self._library = library
        self._datasets = DatasetStore(workspace, clock=clock)
        self._jobs = JobStore(workspace, clock=clock)
        self._providers = _Providers(provider, provider_factory)
        self._counters = Counters()

    def settings(self) -> Settings:
        return self._settings()

    def close(self) -> None:
        """Close the provider's client once no call uses it (quit, end of a command)."""
        self._providers.close()

    # -- datasets ------------------------------------------------------------------------

    def datasets(self) -> list[Dataset]:
        return self._datasets.datasets()

    def dataset(self, reference: int | str) -> Dataset:
        """By id or name; the error for an unknown name lists the names there are."""
        if isinstance(reference, int):
            return self._datasets.dataset(reference)
        found = self._datasets.dataset_by_name(reference)
        if found is None:
            known = ", ".join(d.name for d in self._datasets.datasets()) or "none yet"
            raise DatasetError(f"no dataset named {reference!r} (datasets: {known})")
        return found

    def examples(self, dataset: int | str) -> list[AnyExample]:
        return self._datasets.examples(self.dataset(dataset).id)

    def snapshot(self, wanted: int | None) -> DatasetSnapshot:
        """Every dataset, and the examples of ``wanted`` (or of the first, if it is gone)."""
        datasets = tuple(self._datasets.datasets())
        ids = [d.id for d in datasets]
        chosen = wanted if wanted in ids else (ids[0] if ids else None)
        examples = self._datasets.examples(chosen) if chosen is not None else []
        return DatasetSnapshot(datasets, chosen, examples)

    def create_dataset(self, name: str, model: str = "") -> Dataset:
        with self._announce(Topic.DATASETS):
            return self._datasets.create_dataset(name, model)

    def set_dataset_model(self, dataset_id: int, model: str) -> str:
        """The base model a dataset is meant for; returns the previous one."""
        with self._announce(Topic.DATASETS):
            return self._datasets.set_model(dataset_id, model)

    def apply(self, edit: DatasetEdit, forward: bool = True) -> DatasetEdit:
        """Do (or with ``forward=False`` undo) an undoable edit."""
        with self._announce(Topic.DATASETS):
            return edit.run(self._datasets, forward)

    @contextmanager
    def _announce(self, topic: Topic) -> Iterator[None]:
        """Tell the other views once the change is written (or attempted: a failure may
        still have changed something, and reading again costs little)."""
        try:
            yield
        finally:
            self.events.publish(topic)

    # -- files -------------------------------------------------------------------------

    @staticmethod
    def csv_header(path: Path) -> list[str]:
        return csv_header(Path(path))

    @staticmethod
    def read_file(
        path: Path, kind: str, *, mapping: dict[str, Any] | None = None, has_header: bool = True
    ) -> ImportResult[Any]:
        return files.read_examples(path, kind, mapping=mapping, has_header=has_header)

    def import_file(
        self,
        path: Path,
        dataset: str,
        kind: str = "chat",
        *,
        mapping: dict[str, Any] | None = None,
        has_header: bool = True,
    ) -> files.ImportOutcome:
        """Read a file into the dataset named ``dataset`` (made if new); lines that could
        not be read are in the outcome's problems."""
        check_dataset_size(path, self._settings().max_dataset_mb)
        read = files.read_examples(path, kind, mapping=mapping, has_header=has_header)
        with self._announce(Topic.DATASETS):
            found = self._datasets.dataset_by_name(dataset) or self._datasets.create_dataset(
                dataset
            )
            ids = self._datasets.add_examples(found.id, read.examples) if read.examples else []
        return files.ImportOutcome(Path(path), kind, len(ids), list(read.problems), found.name)

    @staticmethod
    def export_name(dataset_name: str, kind: str) -> str:
        return files.export_name(dataset_name, kind)

    def export(self, dataset: int | str, kind: str, train_path: Path) -> ExportSummary:
        """The examples of ``kind`` to ``train_path``, held-out ones to the validation file
        beside it (``files.validation_path_for``)."""
        return files.export_examples(self.examples(dataset), kind, Path(train_path))

    def export_to_folder(self, dataset: int | str, folder: Path, kind: str) -> ExportSummary:
        found = self.dataset(dataset)
        return self.export(found.id, kind, Path(folder) / files.export_name(found.name, kind))

    def export_all(self, dataset: int | str, folder: Path) -> list[ExportSummary]:
        """Every kind the dataset can go to another trainer as, into ``folder``."""
        found = self.dataset(dataset)
        examples = self._datasets.examples(found.id)
        return [
            files.export_examples(
                examples, kind, Path(folder) / files.export_name(found.name, kind)
            )
            for kind in files.kinds_to_export(examples)
        ]

    # -- checks and statistics ------------------------------------------------------------

    def stats(
        self, dataset: int | str, *, model: str | None = None, epochs: int | None = None
    ) -> DatasetStats:
        """Statistics and the cost estimate; the model is the dataset's, else the chat
        model of the settings."""
        found = self.dataset(dataset)
        chosen = model or found.model or self.settings().chat_model
        return dataset_stats(self._datasets.examples(found.id), model=chosen, epochs=epochs)

    def analyse(
        self,
        examples: Sequence[AnyExample],
        *,
        model: str,
        epochs: int | None,
        price_per_million: float | None,
        previous: Analysis | None = None,
    ) -> Analysis:
        """Validation and statistics of what the builder shows; one queue at a time (the
        token counters are kept between runs). Training examples that hold an eval
        question are flagged, with the question named."""
        questions, labels = self._evaluation_questions() if self._evaluation_questions else ([], [])
        return analyse(
            examples,
            model=model,
            epochs=epochs,
            price_per_million=price_per_million,
            counter=self._counters.for_model(model),
            previous=previous,
            evaluation_questions=questions,
            evaluation_labels=labels,
        )

    @staticmethod
    def validate_file(path: Path, *, model: str, max_mb: float | None = None) -> FileValidation:
        """Check a chat JSONL file without importing it (no workspace needed)."""
        if max_mb is None:
            from desktop.settings import Settings

            max_mb = Settings().max_dataset_mb
        check_dataset_size(path, max_mb)
        data = Path(path).read_bytes()
        read = parse_chat_jsonl(data)
        report = validate_examples(read.examples, model=model, lines=read.lines)
        stats = dataset_stats(read.examples, model=model, tokens=report.tokens)
        errors = sorted([*read.problems, *report.errors], key=lambda i: (i.line or 0, i.category))
        return FileValidation(
            path=Path(path),
            model=model,
            lines=sum(1 for line in data.splitlines() if line.strip()),
            valid_examples=len(read.examples) - len({e.index for e in report.errors}),
            errors=errors,
            warnings=report.warnings,
            stats=stats,
        )

    # -- drafting from documents --------------------------------------------------------------

    def _library_service(self) -> LibraryService:
        if self._library is None:
            raise RuntimeError("this fine-tuning service was made without the library")
        return self._library()

    def library_documents(self) -> list[DocumentRecord]:
        return self._library_service().documents()

    def library_chunks(self, document_id: int) -> list[StoredChunk]:
        return self._library_service().chunks(document_id)

    def draft_examples(
        self,
        selection: Sequence[Selection],
        titles: dict[int, str],
        *,
        model: str,
        per_chunk: int,
        system_prompt: str | None,
        cancel: CancelToken | None = None,
    ) -> Generator[Any, None, GenerationResult]:
        """Let the chat model draft examples from the chosen chunks (a progress
        generator: labels, then progress, proposals and failures)."""
        return draft_from_library(
            self._library_service(),
            self._access.client,
            selection,
            titles,
            model=model,
            per_chunk=per_chunk,
            system_prompt=system_prompt,
            cancel=cancel,
        )

    # -- jobs: planning and creating ----------------------------------------------------------

    def configured(self) -> bool:
        """Whether a provider can be asked at all (a key, or a server that needs none)."""
        return self._access.configured()

    def provider_label(self) -> str:
        """The provider's name and host, for messages ("OpenAI (api.openai.com)")."""
        with self._providers.use() as provider:
            return f"{provider.name} ({provider.host})"

    def _provider_name(self) -> str:
        try:
            with self._providers.use() as provider:
                return provider.name
        except ProviderError:
            return "the provider"

    def check_dataset(
        self, dataset: int | str, *, model: str, epochs: object = "auto"
    ) -> DatasetCheck:
        """Would the provider take this dataset for ``model``, and what would it cost?
        ``epochs`` is "auto" or a number, as typed."""
        return check_dataset(
            self._datasets,
            dataset,
            model=model,
            epochs=requested_epochs(epochs),
            provider_name=self._provider_name(),
        )

    def plan_job(self, dataset: int | str, **fields: Unpack[RequestFields]) -> JobPlan:
        """The dataset and the request checked, and the estimate, before any upload.
        ``fields`` are as typed in the form or on the command line (``RequestFields``).
        Raises ``DatasetNotReady`` or ``JobRequestError``."""
        return plan_job(self._datasets, dataset, provider_name=self._provider_name(), **fields)

    def needs_confirmation(self, plan: JobPlan) -> bool:
        return plan.needs_confirmation(self.settings().confirm_spend_above_usd)

    def create_job(
        self, plan: JobPlan, *, cancel: CancelToken | None = None
    ) -> ProgressGenerator[CreatedJob]:
        """Upload the plan's files (reusing unchanged ones) and create the job: a progress
        generator, stopped between steps by its driver or during an upload by ``cancel``.
        Stopped, it leaves no job and records an unfinished upload as such."""
        with self._providers.use() as provider, self._announce(Topic.JOBS):
            return (yield from create_planned_job(provider, self._jobs, plan, cancel=cancel))

    # -- jobs: following them -------------------------------------------------------------

    def jobs(self, limit: int | None = None) -> list[JobRecord]:
        """As recorded in the workspace, newest first (no network)."""
        return self._jobs.jobs(limit)

    def refresh_jobs(self, limit: int = 20) -> list[JobRecord]:
        """Record the provider's newest jobs (also those started elsewhere)."""
        with self._providers.use() as provider, self._announce(Topic.JOBS):
            return refresh_jobs(provider, self._jobs, limit=limit)

    def job_list(self, limit: int = 20) -> JobList:
        """The provider's list recorded first when it can be reached; the saved jobs
        otherwise, with the reason."""
        error = None
        if self.configured():
            try:
                self.refresh_jobs(limit)
            except ProviderError as exc:
                error = str(exc)
        return JobList(self._jobs.jobs(limit), error)

    def sync(self, job_id: str) -> SyncResult | None:
        """Fetch what changed; None when the job was recorded from another provider than
        the one set up now (not this one's to ask)."""
        recorded = self._jobs.job(job_id)
        with self._providers.use() as provider:
            if recorded is not None and (provider.kind, provider.base_url) != (
                recorded.provider,
                recorded.base_url,
            ):
                return None
            result = sync_job(provider, self._jobs, job_id)
        if result.changed:
            self.events.publish(Topic.JOBS)
        return result

    def snapshot_of(self, job_id: str, *, events: int | None = None) -> JobSnapshot:
        return self._jobs.snapshot(job_id, events=events)

    def job_details(self, job_id: str, *, events: int = 10) -> JobDetails:
        """Synced first when the provider can be reached; the saved data otherwise."""
        note = None
        unreadable: dict[str, str] = {}
        if self.configured():
            try:
                synced = self.sync(job_id)
                if synced is None:
                    note = "(saved data; the job was recorded from another provider)"
                else:
                    unreadable = synced.unreadable
            except ProviderError as exc:
                if self._jobs.job(job_id) is None:
                    raise
                note = f"(saved data; could not refresh: {exc})"
        snapshot = self._jobs.snapshot(job_id, events=events)
        job = snapshot.job
        return JobDetails(
            snapshot, note, next_poll_seconds(job.status, job.last_change_at), unreadable
        )

    def cancel_job(self, job_id: str) -> JobRecord:
        with self._providers.use() as provider, self._announce(Topic.JOBS):
            return cancel_job(provider, self._jobs, job_id)

    def pause_job(self, job_id: str) -> JobRecord:
        with self._providers.use() as provider, self._announce(Topic.JOBS):
            return pause_job(provider, self._jobs, job_id)

    def resume_job(self, job_id: str) -> JobRecord:
        with self._providers.use() as provider, self._announce(Topic.JOBS):
            return resume_job(provider, self._jobs, job_id)

    def fine_tunable_models(self) -> list[str]:
        with self._providers.use() as provider:
            return provider.list_models(fine_tunable_only=True)


class DatasetFileTooLarge(ValueError):
    """A data file over the size limit: reading it would take minutes and gigabytes."""


def check_dataset_size(path: Path, max_mb: float) -> None:
    """Refuse a dataset file over ``max_mb`` before reading it (issue 15: a 50 MB line
    took 40 s and 2.7 GB)."""
    size = Path(path).stat().st_size
    if size > max_mb * 1024 * 1024:
        raise DatasetFileTooLarge(
            f"{Path(path).name} is {size / 1_000_000:.1f} MB; data files over "
            f"{max_mb:g} MB are not read (setting max_dataset_mb)"
        )
