"""Fine-tuning jobs, orchestrated: check a dataset and a request, upload the dataset once,
create the job, follow it. The records live in ``JobStore`` (``job_store.py``); the
request is checked in ``requests.py``; the provider calls go through ``providers.py``.

Network first, then one transaction: a failed call leaves the local records as they
were. Creating a job is one progress generator (``create_planned_job``) that the window
and ``ragtune jobs create`` both drive, so either can stop it between steps."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from desktop.finetune.job_store import (
    PAUSED,
    PAUSING,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    UNFINISHED_UPLOADS,
    UPLOAD_CANCELLED,
    UPLOAD_DONE,
    UPLOAD_GONE,
    VALIDATING_FILES,
    Checkpoint,
    JobEvent,
    JobRecord,
    JobStore,
    UploadedFile,
    is_finished,
)
from desktop.finetune.metrics import MetricPoint, decode_result_file, parse_result_csv
from desktop.finetune.providers import (
    FINE_TUNE_PURPOSE,
    ByteProgress,
    FineTuneProvider,
    ProviderError,
)
from desktop.finetune.requests import (
    DataKind,
    DatasetNotReady,
    JobRequest,
    RequestFields,
    prepare_request,
)
from desktop.progress import Cancelled, CancelToken, Progress, ProgressGenerator

if TYPE_CHECKING:
    from desktop.finetune.examples import AnyExample
    from desktop.finetune.stats import CostEstimate, DatasetStats
    from desktop.finetune.store import DatasetStore

logger = logging.getLogger(__name__)

Json = dict[str, Any]

EVENT_SYNC_LIMIT = 10_000
"""Most events fetched in one sync (the first sync of a long job may be capped; the
result file still gives the full metrics at the end)."""

POLL_SECONDS = {
    RUNNING: 10.0,
    PAUSING: 10.0,
    VALIDATING_FILES: 20.0,
    QUEUED: 30.0,
    PAUSED: 120.0,
}
POLL_DEFAULT_SECONDS = 30.0
POLL_MAX_SECONDS = 600.0


@dataclass(frozen=True)
class SyncResult:
    """What one sync learned."""

    job: JobRecord
    previous_status: str | None
    new_events: list[JobEvent]
    new_checkpoints: list[Checkpoint]
    metric_steps: list[int]
    result_file_points: int = 0
    warnings: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    """Parts the provider answered in a form that could not be read ("events",
    "checkpoints", "metrics") and why; the job itself was still recorded."""

    def unreadable_note(self) -> str:
        return describe_unreadable(self.unreadable)

    @property
    def status_changed(self) -> bool:
        return self.previous_status != self.job.status

    @property
    def changed(self) -> bool:
        return bool(
            self.status_changed
            or self.new_events
            or self.new_checkpoints
            or self.metric_steps
            or self.result_file_points
        )


METRICS_COME_WITH_EVENTS = "they come with the events, which could not be read"


def describe_unreadable(parts: dict[str, str]) -> str:
    """One sentence a part: "Events: unreadable. <why>"."""
    lines = []
    for part, why in parts.items():
        if part == "metrics":
            lines.append(f"Metrics: unreadable ({why}).")
        else:
            lines.append(f"{part.capitalize()}: unreadable. {why}")
    return "\n".join(lines)


# -- polling -----------------------------------------------------------------------------


def next_poll_seconds(
    status: str, last_change: float | None, *, now: float | None = None
) -> float | None:
    """Seconds until the next sync, or None when the job is finished (stop polling).
    Faster while running, slower the longer nothing has changed."""
    if is_finished(status):
        return None
    base = POLL_SECONDS.get(status, POLL_DEFAULT_SECONDS)
    if last_change is None:
        return base
    idle = max(0.0, (time.time() if now is None else now) - last_change)
    factor = 1 if idle < 120 else 2 if idle < 600 else 4 if idle < 1800 else 8
    return min(POLL_MAX_SECONDS, base * factor)


# -- datasets and uploads --------------------------------------------------------------


@dataclass(frozen=True)
class DatasetExport:
    """A dataset's JSONL bytes as they will be uploaded (the same bytes the Export
    command writes), checked first."""

    dataset_id: int | None
    dataset_name: str
    kind: DataKind
    train: bytes
    validation: bytes | None
    train_count: int
    validation_count: int
    warnings: tuple[str, ...] = ()

    def filename(self, split: str) -> str:
        data = self.train if split == "train" else (self.validation or b"")
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.dataset_name).strip("-.") or "dataset"
        return f"{slug[:60]}-{split}-{hashlib.sha256(data).hexdigest()[:12]}.jsonl"


@dataclass(frozen=True)
class UploadedDataset:
    training: UploadedFile
    validation: UploadedFile | None

    @property
    def training_file(self) -> str:
        assert self.training.file_id is not None
        return self.training.file_id

    @property
    def validation_file(self) -> str | None:
        return self.validation.file_id if self.validation else None

    @property
    def files(self) -> list[UploadedFile]:
        return [self.training] + ([self.validation] if self.validation else [])


def _stored_examples(datasets: DatasetStore, dataset: int | str) -> tuple[int, str, list[Any]]:
    if isinstance(dataset, str):
        found = datasets.dataset_by_name(dataset)
        if found is None:
            raise DatasetNotReady(f"there is no dataset named {dataset!r}")
    else:
        found = datasets.dataset(dataset)
    return found.id, found.name, datasets.examples(found.id)


def export_dataset(
    datasets: DatasetStore, dataset: int | str, *, model: str, provider_name: str = "the provider"
) -> DatasetExport:
    """Validate a dataset and export its train/validation JSONL bytes. Raises
    ``DatasetNotReady`` when validation finds errors: the upload is refused rather than
    paying for a job that fails at file validation."""
    dataset_id, name, examples = _stored_examples(datasets, dataset)
    return _export(dataset_id, name, examples, model=model, provider_name=provider_name)


def _export(
    dataset_id: int, name: str, examples: list[AnyExample], *, model: str, provider_name: str
) -> DatasetExport:
    from desktop.finetune.examples import PreferenceExample, TrainingExample
    from desktop.finetune.jsonl import export_chat_jsonl, export_preference_jsonl
    from desktop.finetune.stats import MIN_EXAMPLES, size_message
    from desktop.finetune.validation import (
        summarize,
        validate_examples,
        validate_preference_examples,
    )

    if not examples:
        raise DatasetNotReady(f"dataset {name!r} has no examples")
    chats = [e for e in examples if isinstance(e, TrainingExample)]
    pairs = [e for e in examples if isinstance(e, PreferenceExample)]
    if chats and pairs:
        raise DatasetNotReady(
            f"dataset {name!r} mixes {len(chats)} chat example(s) and {len(pairs)} "
            "preference pair(s); a job trains on one kind"
        )
    kind: DataKind = "chat" if chats else "preference"
    if kind == "chat":
        issues = validate_examples(chats, model=model, near_duplicate_threshold=None).issues
    else:
        issues = validate_preference_examples(pairs)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        first = "; ".join(
            f"example {i.index + 1}: {i.message}" if i.index >= 0 else i.message for i in errors[:3]
        )
        raise DatasetNotReady(
            f"dataset {name!r} has {len(errors)} error(s) that {provider_name} would "
            f"reject; fix them before uploading. {first}\n{summarize(errors)}"
        )
    train_count = sum(1 for e in examples if e.split == "train")
    if train_count == 0:
        raise DatasetNotReady(f"dataset {name!r} has no training examples (all are in validation)")
    with tempfile.TemporaryDirectory(prefix="ragtune-upload-") as tmp:
        train_path, validation_path = Path(tmp, "train.jsonl"), Path(tmp, "validation.jsonl")
        if kind == "chat":
            summary = export_chat_jsonl(chats, train_path, validation_path)
        else:
            summary = export_preference_jsonl(pairs, train_path, validation_path)
        train = train_path.read_bytes()
        validation = summary.validation_path.read_bytes() if summary.validation_path else None
    warnings = [size_message(train_count)] if train_count < MIN_EXAMPLES else []
    return DatasetExport(
        dataset_id=dataset_id,
        dataset_name=name,
        kind=kind,
        train=train,
        validation=validation,
        train_count=summary.train,
        validation_count=summary.validation,
        warnings=tuple(warnings),
    )


# -- checking a job before anything is uploaded --------------------------------------------


@dataclass(frozen=True)
class DatasetCheck:
    """A dataset that passed validation, with what a job on it would cost."""

    export: DatasetExport
    stats: DatasetStats

    @property
    def cost(self) -> CostEstimate:
        return self.stats.cost

    def describe(self) -> str:
        cost = self.stats.cost
        money = f"about ${cost.cost:,.2f}" if cost.cost is not None else "price unknown"
        epochs = f"{cost.epochs} epoch{'s' if cost.epochs != 1 else ''}"
        return (
            f"Estimated {cost.billed_tokens:,} billed tokens ({epochs} × "
            f"{cost.billed_tokens_per_epoch:,}) for {cost.model}: {money}. "
            "The provider's bill is what counts."
        )


@dataclass(frozen=True)
class JobPlan:
    """A job checked in full before anything is uploaded: the request, the dataset's
    bytes and what training on them would cost. What is confirmed is what is sent."""

    request: JobRequest
    check: DatasetCheck

    @property
    def export(self) -> DatasetExport:
        return self.check.export

    @property
    def cost(self) -> CostEstimate:
        return self.check.cost

    def describe(self) -> str:
        return self.check.describe()

    def needs_confirmation(self, confirm_above_usd: float) -> bool:
        """Ask before a job that costs more than the user agreed to skip asking for (or
        whose price is unknown)."""
        cost = self.cost.cost
        return cost is None or cost > confirm_above_usd


def check_dataset(
    datasets: DatasetStore,
    dataset: int | str,
    *,
    model: str,
    epochs: int | None = None,
    provider_name: str = "the provider",
) -> DatasetCheck:
    """Validate a dataset for ``model`` and estimate the training bill (pure, local)."""
    from desktop.finetune.stats import dataset_stats

    dataset_id, name, examples = _stored_examples(datasets, dataset)
    export = _export(dataset_id, name, examples, model=model, provider_name=provider_name)
    return DatasetCheck(export, dataset_stats(examples, model=model, epochs=epochs))


def plan_job(
    datasets: DatasetStore,
    dataset: int | str,
    *,
    provider_name: str = "the provider",
    **fields: Unpack[RequestFields],
) -> JobPlan:
    """Check the dataset and the request, and estimate the cost. Raises
    ``DatasetNotReady`` or ``JobRequestError``; nothing is uploaded."""
    from desktop.finetune.stats import dataset_stats

    dataset_id, name, examples = _stored_examples(datasets, dataset)
    model = fields.get("model")
    model_name = model.strip() if isinstance(model, str) else ""
    export = _export(dataset_id, name, examples, model=model_name, provider_name=provider_name)
    request = prepare_request(**fields, data_kind=export.kind)
    chosen = request.epochs if isinstance(request.epochs, int) else None
    stats = dataset_stats(examples, model=request.model, epochs=chosen)
    return JobPlan(request, DatasetCheck(export, stats))


# -- uploads -------------------------------------------------------------------------------


def _identity(provider: FineTuneProvider) -> tuple[str, str]:
    return provider.kind, provider.base_url


def _still_there(provider: FineTuneProvider, file_id: str) -> bool:
    try:
        info = provider.retrieve_file(file_id)
    except ProviderError as exc:
        if exc.status == 404:
            return False
        raise
    return not info.get("deleted") and info.get("status") not in ("error", "deleted")


def _orphan(provider: FineTuneProvider, record: UploadedFile) -> str | None:
    """The file an interrupted attempt may have stored after all (the client gave up,
    the server finished): same name, same size. Adopting it avoids a second copy."""
    try:
        files = provider.list_files(record.purpose)
    except ProviderError as exc:
        logger.info("Could not look for an earlier upload of %s: %s", record.filename, exc)
        return None
    for info in files:
        if (
            info.get("filename") == record.filename
            and info.get("bytes") == record.size_bytes
            and info.get("status") not in ("error", "deleted")
            and info.get("id")
        ):
            return str(info["id"])
    return None


def _send(
    provider: FineTuneProvider,
    filename: str,
    data: bytes,
    purpose: str,
    on_bytes: ByteProgress | None,
    cancel: CancelToken | None,
) -> str:
    """The upload call. With a cancel token it runs on its own thread, so a cancel is
    noticed while the request is in flight (one HTTP call cannot be stopped between
    steps); if the abandoned request still completes on the server, the next upload of
    these bytes adopts that file instead of sending it again."""
    if cancel is None:
        return provider.upload_file(filename, data, purpose, on_bytes)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["file_id"] = provider.upload_file(filename, data, purpose, on_bytes)
        except BaseException as exc:  # handed to the waiting thread, never printed here
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"upload {filename}", daemon=True).start()
    while not done.wait(0.05):
        cancel.raise_if_cancelled()
    if "error" in outcome:
        raise outcome["error"]
    return str(outcome["file_id"])


def upload_bytes(
    provider: FineTuneProvider,
    store: JobStore,
    *,
    filename: str,
    data: bytes,
    purpose: str = FINE_TUNE_PURPOSE,
    dataset_id: int | None = None,
    dataset_name: str = "",
    split: str = "train",
    on_bytes: ByteProgress | None = None,
    cancel: CancelToken | None = None,
) -> UploadedFile:
    """Upload once per (bytes, provider, base URL): unchanged data reuses the file
    already on the server. A failed, cut or cancelled upload is sent again from the start
    on the next call, into the same local record."""
    kind, base_url = _identity(provider)
    digest = hashlib.sha256(data).hexdigest()
    existing = store.uploaded_file(kind, base_url, digest, purpose)
    if existing is not None and existing.status == UPLOAD_DONE and existing.file_id:
        if _still_there(provider, existing.file_id):
            logger.info("Reusing %s for %s (unchanged)", existing.file_id, existing.filename)
            return dataclasses.replace(existing, reused=True)
        store.fail_upload(existing.id, "the file is no longer on the server", UPLOAD_GONE)
    elif existing is not None and existing.status in UNFINISHED_UPLOADS:
        adopted = _orphan(provider, existing)
        if adopted is not None:
            logger.info("Adopting %s, stored by an interrupted upload", adopted)
            return dataclasses.replace(store.finish_upload(existing.id, adopted), reused=True)
    record = store.begin_upload(
        provider=kind,
        base_url=base_url,
        sha256=digest,
        purpose=purpose,
        filename=filename,
        size_bytes=len(data),
        dataset_id=dataset_id,
        dataset_name=dataset_name,
        split=split,
    )
    try:
        file_id = _send(provider, filename, data, purpose, on_bytes, cancel)
    except Cancelled:
        store.fail_upload(record.id, "cancelled before the server confirmed it", UPLOAD_CANCELLED)
        raise
    except ProviderError as exc:
        store.fail_upload(record.id, str(exc))
        raise
    except BaseException as exc:
        store.fail_upload(record.id, f"interrupted: {type(exc).__name__}")
        raise
    return store.finish_upload(record.id, file_id)


def upload_dataset(
    provider: FineTuneProvider,
    store: JobStore,
    export: DatasetExport,
    *,
    on_bytes: ByteProgress | None = None,
    cancel: CancelToken | None = None,
) -> ProgressGenerator[UploadedDataset]:
    """Upload (or reuse) the training and validation files. Yields progress in bytes
    before and after each file; ``on_bytes`` reports bytes within a file."""
    parts = [("train", export.train)]
    if export.validation:
        parts.append(("validation", export.validation))
    total = sum(len(data) for _split, data in parts)
    done = 0
    uploaded: dict[str, UploadedFile] = {}
    for split, data in parts:
        if cancel is not None:
            cancel.raise_if_cancelled()
        name = export.filename(split)
        yield Progress(done, total, f"Uploading {name}")
        offset = done

        def report(sent: int, _size: int, offset: int = offset) -> None:
            if on_bytes is not None:
                on_bytes(offset + sent, total)

        uploaded[split] = upload_bytes(
            provider,
            store,
            filename=name,
            data=data,
            dataset_id=export.dataset_id,
            dataset_name=export.dataset_name,
            split=split,
            on_bytes=report if on_bytes is not None else None,
            cancel=cancel,
        )
        done += len(data)
        verb = "Reused" if uploaded[split].reused else "Uploaded"
        yield Progress(done, total, f"{verb} {name} as {uploaded[split].file_id}")
    return UploadedDataset(uploaded["train"], uploaded.get("validation"))


# -- job operations ------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedJob:
    """A job created from a plan, and the files it trains on."""

    job: JobRecord
    uploaded: UploadedDataset
    plan: JobPlan


def create_planned_job(
    provider: FineTuneProvider,
    store: JobStore,
    plan: JobPlan,
    *,
    cancel: CancelToken | None = None,
) -> ProgressGenerator[CreatedJob]:
    """The one way a job is made: upload the planned bytes (reusing unchanged files),
    then create the job. Stopped between steps (or during an upload, with ``cancel``),
    nothing is created and an unfinished upload is recorded as such."""
    export = plan.export
    uploaded: UploadedDataset = yield from upload_dataset(provider, store, export, cancel=cancel)
    yield Progress(1, 1, f"Creating the job on {plan.request.model}")
    if cancel is not None:
        cancel.raise_if_cancelled()
    record = create_job(
        provider,
        store,
        plan.request.with_files(uploaded.training_file, uploaded.validation_file),
        dataset_id=export.dataset_id,
        dataset_name=export.dataset_name,
    )
    return CreatedJob(record, uploaded, plan)


def create_job(
    provider: FineTuneProvider,
    store: JobStore,
    request: JobRequest,
    *,
    dataset_id: int | None = None,
    dataset_name: str = "",
) -> JobRecord:
    """Create the job and record it. ``ProviderRefused`` passes through with nothing
    recorded, so the UI can offer export and the other providers."""
    request.to_api()  # refuses a request without a training file before any call
    data = provider.create_job(request)
    kind, base_url = _identity(provider)
    return store.save_job(
        kind, base_url, data, request=request, dataset_id=dataset_id, dataset_name=dataset_name
    )


def cancel_job(provider: FineTuneProvider, store: JobStore, job_id: str) -> JobRecord:
    kind, base_url = _identity(provider)
    return store.save_job(kind, base_url, provider.cancel_job(job_id))


def pause_job(provider: FineTuneProvider, store: JobStore, job_id: str) -> JobRecord:
    kind, base_url = _identity(provider)
    return store.save_job(kind, base_url, provider.pause_job(job_id))


def resume_job(provider: FineTuneProvider, store: JobStore, job_id: str) -> JobRecord:
    kind, base_url = _identity(provider)
    return store.save_job(kind, base_url, provider.resume_job(job_id))


def refresh_jobs(provider: FineTuneProvider, store: JobStore, limit: int = 20) -> list[JobRecord]:
    """Record the provider's newest jobs (also those started elsewhere)."""
    kind, base_url = _identity(provider)
    return store.save_jobs(kind, base_url, provider.list_jobs(limit=limit))


def _fetch_checkpoints(provider: FineTuneProvider, job_id: str) -> list[Json]:
    try:
        return provider.list_checkpoints(job_id)
    except ProviderError as exc:
        if exc.status in (404, 405, 501):  # a server without checkpoints
            logger.info("No checkpoints from %s for %s: %s", provider.host, job_id, exc)
            return []
        raise


def _readable(
    part: str, fetch: Callable[[], list[Json]], unreadable: dict[str, str], job_id: str
) -> list[Json]:
    """A list that belongs to a job, or nothing with the reason noted: a server that
    answers it in another form (an event stream where a page should be) must not hide the
    job's own status. A passing failure (a 500, a timeout) still fails the whole sync, so
    nothing is half updated and the next poll tries again."""
    try:
        return fetch()
    except ProviderError as exc:
        if exc.retryable:
            raise
        logger.info("Job %s: the %s could not be read: %s", job_id, part, exc)
        unreadable[part] = str(exc)
        return []


def _result_points(provider: FineTuneProvider, data: Json) -> tuple[list[MetricPoint], list[str]]:
    points: list[MetricPoint] = []
    warnings: list[str] = []
    for file_id in data.get("result_files") or []:
        content = provider.file_content(str(file_id))
        try:
            points.extend(parse_result_csv(decode_result_file(content)))
        except ValueError as exc:
            warnings.append(f"result file {file_id} could not be read: {exc}")
    return points, warnings


def sync_job(
    provider: FineTuneProvider,
    store: JobStore,
    job_id: str,
    *,
    event_limit: int = EVENT_SYNC_LIMIT,
) -> SyncResult:
    """Fetch the job, its new events (newest first, stopping at what is stored),
    checkpoints, and metrics (from metrics events and, once the job succeeded, from its
    result file); store them in one transaction and say what changed. Safe to repeat:
    events and checkpoints are stored once."""
    kind, base_url = _identity(provider)
    before = store.job(job_id, provider=kind, base_url=base_url)
    data = provider.retrieve_job(job_id)
    known = store.event_ids(before.id) if before is not None else set()
    unreadable: dict[str, str] = {}
    events = _readable(
        "events",
        lambda: provider.list_events(job_id, limit=event_limit, stop_at=known),
        unreadable,
        job_id,
    )
    if "events" in unreadable:
        unreadable["metrics"] = METRICS_COME_WITH_EVENTS
    checkpoints = _readable(
        "checkpoints", lambda: _fetch_checkpoints(provider, job_id), unreadable, job_id
    )
    status = str(data.get("status") or "unknown")
    result_points: list[MetricPoint] = []
    warnings: list[str] = []
    load_result = status == SUCCEEDED and not (before is not None and before.result_loaded)
    result_loaded = False
    if load_result:
        try:
            result_points, warnings = _result_points(provider, data)
            result_loaded = True
        except ProviderError as exc:
            warnings.append(f"the result file could not be downloaded (will retry): {exc}")
    recorded = store.record_sync(
        kind,
        base_url,
        data,
        events=events,
        checkpoints=checkpoints,
        result_points=result_points,
        result_loaded=result_loaded,
    )
    for warning in warnings:
        logger.warning("Job %s: %s", job_id, warning)
    return SyncResult(
        job=recorded.job,
        previous_status=before.status if before is not None else None,
        new_events=recorded.new_events,
        new_checkpoints=sorted(recorded.new_checkpoints, key=lambda c: c.step),
        metric_steps=sorted(
            {p.step for p in recorded.event_points} | {p.step for p in result_points}
        ),
        result_file_points=len(result_points),
        warnings=warnings,
        unreadable=unreadable,
    )
