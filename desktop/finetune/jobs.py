"""Fine-tuning jobs: prepare a request, upload a dataset once, create and follow jobs,
and keep a local record of everything the provider said.

Prepare, then run: ``prepare_request`` checks every field synchronously (pure, no
network) and names the field it rejects; only the provider calls run on a worker.
Everything the tracker learns is kept in the workspace (tables in
``desktop.finetune.schema``) so jobs, events, metrics and checkpoints stay visible offline
and after a restart. Network first, then one transaction: a failed call leaves the
local records as they were.

Status is an open string: the API's list grows (pausing, paused), and an unknown status
is stored and shown as is.
"""

from __future__ import annotations

import base64
import binascii
import csv
import dataclasses
import hashlib
import io
import json
import logging
import math
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from desktop.finetune.providers import (
    FINE_TUNE_PURPOSE,
    ByteProgress,
    FineTuneProvider,
    ProviderError,
)
from desktop.progress import CancelToken, Progress, ProgressGenerator

if TYPE_CHECKING:
    from desktop.finetune.store import DatasetStore
    from desktop.workspace import Workspace

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Auto = Literal["auto"]
DataKind = Literal["chat", "preference"]

# -- statuses ------------------------------------------------------------------------

VALIDATING_FILES = "validating_files"
QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
PAUSING = "pausing"
PAUSED = "paused"
TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED})
STATUS_LABELS = {
    VALIDATING_FILES: "Validating files",
    QUEUED: "Queued",
    RUNNING: "Running",
    SUCCEEDED: "Succeeded",
    FAILED: "Failed",
    CANCELLED: "Cancelled",
    PAUSING: "Pausing",
    PAUSED: "Paused",
}

METHODS = ("supervised", "dpo")

# Ranges OpenAI documents for the hyperparameters (others are rejected by the API).
EPOCHS_RANGE = (1, 50)
BATCH_SIZE_RANGE = (1, 256)
BETA_MAX = 2.0
SEED_MAX = 2**31 - 1
SUFFIX_MAX = 64

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

UPLOAD_UPLOADING = "uploading"
UPLOAD_DONE = "uploaded"
UPLOAD_FAILED = "failed"
UPLOAD_GONE = "gone"


def status_label(status: str) -> str:
    """Words for a status; a status the app does not know yet is shown as sent."""
    return STATUS_LABELS.get(status) or status.replace("_", " ").capitalize() or "Unknown"


def is_finished(status: str) -> bool:
    return status in TERMINAL_STATUSES


# -- errors --------------------------------------------------------------------------


class JobError(Exception):
    """A job operation that cannot be done; ``str()`` says why in user terms."""


class JobRequestError(JobError, ValueError):
    """A field of a job request is wrong; ``field`` names it for the form."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class DatasetNotReady(JobError):
    """The dataset would be rejected (validation errors, no training examples)."""


class UnknownJob(JobError, LookupError):
    pass


# -- the request -----------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """A validated job request (build it with ``prepare_request``). The file ids are
    filled in after upload with ``with_files``."""

    model: str
    method: str = "supervised"
    epochs: int | Auto = "auto"
    batch_size: int | Auto = "auto"
    learning_rate_multiplier: float | Auto = "auto"
    beta: float | Auto | None = None
    suffix: str | None = None
    seed: int | None = None
    training_file: str | None = None
    validation_file: str | None = None
    metadata: Mapping[str, str] | None = None

    def with_files(self, training_file: str, validation_file: str | None = None) -> JobRequest:
        return dataclasses.replace(
            self, training_file=training_file, validation_file=validation_file
        )

    def hyperparameters(self) -> Json:
        """Only what the user set: "auto" is the API's default, and servers that only
        mimic the API are less likely to trip over fields they were not sent."""
        values: list[tuple[str, Any]] = [
            ("n_epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("learning_rate_multiplier", self.learning_rate_multiplier),
        ]
        if self.method == "dpo":
            values.append(("beta", self.beta if self.beta is not None else "auto"))
        return {key: value for key, value in values if value != "auto"}

    def to_api(self) -> Json:
        """Keyword arguments for ``client.fine_tuning.jobs.create``."""
        if not self.training_file:
            raise JobRequestError("training_file", "upload the dataset before creating the job")
        method: Json = {"type": self.method}
        hyper = self.hyperparameters()
        if hyper:
            method[self.method] = {"hyperparameters": hyper}
        params: Json = {"model": self.model, "training_file": self.training_file, "method": method}
        if self.validation_file:
            params["validation_file"] = self.validation_file
        if self.suffix:
            params["suffix"] = self.suffix
        if self.seed is not None:
            params["seed"] = self.seed
        if self.metadata:
            params["metadata"] = dict(self.metadata)
        return params

    def to_json(self) -> Json:
        data = dataclasses.asdict(self)
        data["metadata"] = dict(self.metadata) if self.metadata else None
        return data


def _text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return None
    return value.strip()


def _auto_or_number(name: str, value: object, problem: str) -> float | Auto:
    """'auto' (also for None or an empty field), or the value as a finite float."""
    if value is None:
        return "auto"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "auto"):
            return "auto"
        try:
            number = float(text)
        except ValueError:
            raise JobRequestError(name, problem) from None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise JobRequestError(name, problem)
    else:
        number = float(value)
    if not math.isfinite(number):
        raise JobRequestError(name, problem)
    return number


def _auto_or_int(name: str, value: object, low: int, high: int, what: str) -> int | Auto:
    problem = f"must be 'auto' or {what} from {low} to {high}, not {value!r}"
    number = _auto_or_number(name, value, problem)
    if number == "auto":
        return "auto"
    if number != int(number) or not low <= number <= high:
        raise JobRequestError(name, problem)
    return int(number)


def _auto_or_float(
    name: str, value: object, high: float | None, allow_none: bool = False
) -> float | Auto:
    limit = f" and at most {high:g}" if high is not None else ""
    problem = f"must be 'auto' or a number above 0{limit}, not {value!r}"
    number = _auto_or_number(name, value, problem)
    if number == "auto":
        return "auto"
    if number <= 0 or (high is not None and number > high):
        raise JobRequestError(name, problem)
    return number


def prepare_request(
    *,
    model: object,
    method: object = "supervised",
    epochs: object = "auto",
    batch_size: object = "auto",
    learning_rate_multiplier: object = "auto",
    beta: object = None,
    suffix: object = None,
    seed: object = None,
    data_kind: DataKind | None = None,
    training_file: str | None = None,
    validation_file: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> JobRequest:
    """Check a job request before anything is uploaded. Values may come straight from a
    form or the command line (strings such as "3" or "auto"). ``data_kind`` says what
    the dataset holds, so DPO without preference pairs is caught here, not after an
    upload. Raises ``JobRequestError`` naming the field."""
    model_name = _text(model)
    if not model_name:
        raise JobRequestError("model", "choose a base model to fine-tune")
    if any(c.isspace() for c in model_name):
        raise JobRequestError("model", f"{model_name!r} is not a model name (it has spaces)")
    method_name = (_text(method) or "").lower()
    if method_name not in METHODS:
        raise JobRequestError(
            "method", f"unknown method {method!r}; choose one of: {', '.join(METHODS)}"
        )
    if method_name == "dpo" and data_kind == "chat":
        raise JobRequestError(
            "method",
            "DPO needs preference data (a preferred and a non-preferred reply per example); "
            "this dataset holds chat examples. Use supervised, or a preference dataset.",
        )
    if method_name == "supervised" and data_kind == "preference":
        raise JobRequestError(
            "method",
            "this dataset holds preference pairs, which train with DPO; choose method dpo.",
        )
    request_epochs = _auto_or_int("epochs", epochs, *EPOCHS_RANGE, "a whole number")
    request_batch = _auto_or_int("batch_size", batch_size, *BATCH_SIZE_RANGE, "a whole number")
    request_lrm = _auto_or_float("learning_rate_multiplier", learning_rate_multiplier, None)
    request_beta: float | Auto | None = None
    beta_is_auto = beta is None or (isinstance(beta, str) and beta.strip().lower() in ("", "auto"))
    if not beta_is_auto:
        if method_name != "dpo":
            raise JobRequestError("beta", "beta only applies to DPO; leave it empty for supervised")
        request_beta = _auto_or_float("beta", beta, BETA_MAX)
    elif method_name == "dpo":
        request_beta = _auto_or_float("beta", beta, BETA_MAX)
    request_suffix: str | None = None
    if suffix is not None:
        if not isinstance(suffix, str):
            raise JobRequestError("suffix", f"must be text, not {suffix!r}")
        request_suffix = suffix.strip() or None
        if request_suffix is not None:
            if len(request_suffix) > SUFFIX_MAX:
                raise JobRequestError(
                    "suffix",
                    f"is {len(request_suffix)} characters; at most {SUFFIX_MAX} are allowed",
                )
            if ":" in request_suffix or any(c.isspace() for c in request_suffix):
                raise JobRequestError(
                    "suffix", "may not contain ':' or spaces (it becomes part of the model name)"
                )
    request_seed: int | None = None
    if seed is not None and _text(seed) != "":
        problem = f"must be a whole number from 0 to {SEED_MAX}, not {seed!r}"
        try:
            seed_value = _auto_or_int("seed", seed, 0, SEED_MAX, "a whole number")
        except JobRequestError:
            raise JobRequestError("seed", problem) from None
        if seed_value == "auto":
            raise JobRequestError("seed", problem)
        request_seed = seed_value
    return JobRequest(
        model=model_name,
        method=method_name,
        epochs=request_epochs,
        batch_size=request_batch,
        learning_rate_multiplier=request_lrm,
        beta=request_beta,
        suffix=request_suffix,
        seed=request_seed,
        training_file=training_file or None,
        validation_file=validation_file or None,
        metadata=dict(metadata) if metadata else None,
    )


# -- storage -------------------------------------------------------------------------

# The tables are created by a schema migration (desktop/workspace/schema.py).


METRIC_NAMES = (
    "train_loss",
    "valid_loss",
    "train_mean_token_accuracy",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


@dataclass(frozen=True)
class UploadedFile:
    """One dataset file as uploaded to one provider (keyed by its bytes' sha256)."""

    id: int
    provider: str
    base_url: str
    sha256: str
    purpose: str
    filename: str
    size_bytes: int
    dataset_id: int | None
    dataset_name: str
    split: str
    file_id: str | None
    status: str
    error: str
    attempts: int
    created_at: float
    updated_at: float
    reused: bool = False
    """True when this call found the file already uploaded (not stored)."""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> UploadedFile:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls) if f.name != "reused"})

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class JobRecord:
    """What the app knows about one job: the server's last word plus local context."""

    id: int
    provider: str
    base_url: str
    job_id: str
    status: str
    model: str
    method: str
    fine_tuned_model: str | None
    training_file: str
    validation_file: str | None
    dataset_id: int | None
    dataset_name: str
    request: Json
    data: Json
    error: Json | None
    created_at: float
    finished_at: float | None
    synced_at: float | None
    last_change_at: float
    result_loaded: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        return cls(
            id=row["id"],
            provider=row["provider"],
            base_url=row["base_url"],
            job_id=row["job_id"],
            status=row["status"],
            model=row["model"],
            method=row["method"],
            fine_tuned_model=row["fine_tuned_model"],
            training_file=row["training_file"],
            validation_file=row["validation_file"],
            dataset_id=row["dataset_id"],
            dataset_name=row["dataset_name"],
            request=_loads(row["request"], {}),
            data=_loads(row["data"], {}),
            error=_loads(row["error"], None),
            created_at=row["created_at"],
            finished_at=row["finished_at"],
            synced_at=row["synced_at"],
            last_change_at=row["last_change_at"],
            result_loaded=bool(row["result_loaded"]),
        )

    @property
    def finished(self) -> bool:
        return is_finished(self.status)

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def error_message(self) -> str | None:
        """The failure in the provider's words, with its code and field when given."""
        if not self.error:
            return None
        message = str(self.error.get("message") or "").strip()
        code = self.error.get("code")
        param = self.error.get("param")
        extra = ", ".join(
            part
            for part in (f"code {code}" if code else "", f"field {param}" if param else "")
            if part
        )
        return f"{message} ({extra})" if extra else message or str(self.error)

    @property
    def hyperparameters(self) -> Json:
        hyper = self.data.get("hyperparameters")
        method = self.data.get("method")
        if isinstance(method, dict):
            settings = method.get(method.get("type") or self.method)
            if isinstance(settings, dict) and isinstance(settings.get("hyperparameters"), dict):
                return dict(settings["hyperparameters"])
        return dict(hyper) if isinstance(hyper, dict) else {}

    def to_json(self) -> Json:
        return {
            "job_id": self.job_id,
            "provider": self.provider,
            "base_url": self.base_url,
            "status": self.status,
            "model": self.model,
            "method": self.method,
            "fine_tuned_model": self.fine_tuned_model,
            "training_file": self.training_file,
            "validation_file": self.validation_file,
            "dataset": self.dataset_name or None,
            "hyperparameters": self.hyperparameters,
            "error": self.error,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "synced_at": self.synced_at,
            "trained_tokens": self.data.get("trained_tokens"),
            "result_files": self.data.get("result_files") or [],
        }


@dataclass(frozen=True)
class JobEvent:
    event_id: str
    created_at: float
    level: str
    type: str
    message: str
    data: Json

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Checkpoint:
    checkpoint_id: str
    step: int
    model: str
    metrics: Json
    created_at: float

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MetricPoint:
    """The metrics of one training step (any may be missing)."""

    step: int
    train_loss: float | None = None
    valid_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None

    def values(self) -> tuple[float | None, ...]:
        return tuple(getattr(self, name) for name in METRIC_NAMES)


@dataclass(frozen=True)
class MetricsSeries:
    """Per-step lists for a chart, aligned with ``steps`` (None where a step has no
    value); ``points(name)`` gives just the (step, value) pairs of one curve."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float | None] = field(default_factory=list)
    valid_loss: list[float | None] = field(default_factory=list)
    train_mean_token_accuracy: list[float | None] = field(default_factory=list)
    valid_mean_token_accuracy: list[float | None] = field(default_factory=list)
    full_valid_loss: list[float | None] = field(default_factory=list)
    full_valid_mean_token_accuracy: list[float | None] = field(default_factory=list)

    def points(self, name: str) -> list[tuple[int, float]]:
        if name not in METRIC_NAMES:
            raise KeyError(name)
        values: list[float | None] = getattr(self, name)
        return [(s, v) for s, v in zip(self.steps, values, strict=True) if v is not None]

    def to_json(self) -> Json:
        return dataclasses.asdict(self)


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


class JobStore:
    """The job tracker's records in one workspace. Reads work offline; every change of
    more than one row is one transaction."""

    def __init__(self, workspace: Workspace, clock: Callable[[], float] = time.time) -> None:
        self.workspace = workspace
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    # -- uploaded files ----------------------------------------------------------------

    def uploaded_file(
        self, provider: str, base_url: str, sha256: str, purpose: str = FINE_TUNE_PURPOSE
    ) -> UploadedFile | None:
        row = (
            self.workspace.connection()
            .execute(
                "SELECT * FROM fine_tune_files "
                "WHERE provider = ? AND base_url = ? AND sha256 = ? AND purpose = ?",
                (provider, base_url, sha256, purpose),
            )
            .fetchone()
        )
        return None if row is None else UploadedFile.from_row(row)

    def uploaded_files(self, dataset_id: int | None = None) -> list[UploadedFile]:
        sql = "SELECT * FROM fine_tune_files"
        args: tuple[Any, ...] = ()
        if dataset_id is not None:
            sql += " WHERE dataset_id = ?"
            args = (dataset_id,)
        rows = self.workspace.connection().execute(sql + " ORDER BY updated_at DESC, id DESC", args)
        return [UploadedFile.from_row(row) for row in rows]

    def _file_by_id(self, row_id: int) -> UploadedFile:
        row = (
            self.workspace.connection()
            .execute("SELECT * FROM fine_tune_files WHERE id = ?", (row_id,))
            .fetchone()
        )
        return UploadedFile.from_row(row)

    def begin_upload(
        self,
        *,
        provider: str,
        base_url: str,
        sha256: str,
        purpose: str,
        filename: str,
        size_bytes: int,
        dataset_id: int | None,
        dataset_name: str,
        split: str,
    ) -> UploadedFile:
        """Mark an upload as under way. The same bytes to the same provider always use
        the same row, so a retried upload never adds a second record."""
        now = self.now()
        with self.workspace.transaction() as tx:
            tx.execute(
                "INSERT INTO fine_tune_files(provider, base_url, sha256, purpose, filename, "
                "size_bytes, dataset_id, dataset_name, split, file_id, status, error, attempts, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, '', 1, ?, ?) "
                "ON CONFLICT(provider, base_url, sha256, purpose) DO UPDATE SET "
                "filename = excluded.filename, status = excluded.status, error = '', "
                "file_id = NULL, attempts = attempts + 1, updated_at = excluded.updated_at, "
                "dataset_id = COALESCE(excluded.dataset_id, dataset_id), "
                "dataset_name = CASE WHEN excluded.dataset_name != '' "
                "THEN excluded.dataset_name ELSE dataset_name END, split = excluded.split",
                (
                    provider,
                    base_url,
                    sha256,
                    purpose,
                    filename,
                    size_bytes,
                    dataset_id,
                    dataset_name,
                    split,
                    UPLOAD_UPLOADING,
                    now,
                    now,
                ),
            )
            row = tx.execute(
                "SELECT id FROM fine_tune_files "
                "WHERE provider = ? AND base_url = ? AND sha256 = ? AND purpose = ?",
                (provider, base_url, sha256, purpose),
            ).fetchone()
        return self._file_by_id(row["id"])

    def finish_upload(self, row_id: int, file_id: str) -> UploadedFile:
        with self.workspace.transaction() as tx:
            tx.execute(
                "UPDATE fine_tune_files SET file_id = ?, status = ?, error = '', updated_at = ? "
                "WHERE id = ?",
                (file_id, UPLOAD_DONE, self.now(), row_id),
            )
        return self._file_by_id(row_id)

    def fail_upload(self, row_id: int, error: str, status: str = UPLOAD_FAILED) -> UploadedFile:
        with self.workspace.transaction() as tx:
            tx.execute(
                "UPDATE fine_tune_files SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status, error, self.now(), row_id),
            )
        return self._file_by_id(row_id)

    # -- jobs --------------------------------------------------------------------------

    def jobs(self, limit: int | None = None) -> list[JobRecord]:
        """Newest first."""
        sql = "SELECT * FROM fine_tune_jobs ORDER BY created_at DESC, id DESC"
        args: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (limit,)
        return [JobRecord.from_row(r) for r in self.workspace.connection().execute(sql, args)]

    def job(
        self, job_id: str, *, provider: str | None = None, base_url: str | None = None
    ) -> JobRecord | None:
        sql = "SELECT * FROM fine_tune_jobs WHERE job_id = ?"
        args: list[Any] = [job_id]
        if provider is not None:
            sql += " AND provider = ?"
            args.append(provider)
        if base_url is not None:
            sql += " AND base_url = ?"
            args.append(base_url)
        row = self.workspace.connection().execute(sql + " ORDER BY id DESC", args).fetchone()
        return None if row is None else JobRecord.from_row(row)

    def accepted_jobs(self, base_url: str) -> tuple[int, float | None]:
        """(jobs the provider at ``base_url`` accepted, when the last was created). Every
        row was written from the provider's own reply (it carries the provider's job id),
        so every row is an accepted job, including jobs listed from the account."""
        row = (
            self.workspace.connection()
            .execute(
                "SELECT count(*), max(created_at) FROM fine_tune_jobs "
                "WHERE job_id != '' AND rtrim(base_url, '/') = ?",
                (base_url.rstrip("/"),),
            )
            .fetchone()
        )
        last = row[1]
        return int(row[0]), (float(last) if last is not None else None)

    def require_job(self, job_id: str) -> JobRecord:
        record = self.job(job_id)
        if record is None:
            raise UnknownJob(f"no fine-tuning job {job_id!r} in this workspace")
        return record

    def _local_id(self, job_id: str) -> int | None:
        record = self.job(job_id)
        return None if record is None else record.id

    def events(self, job_id: str, limit: int | None = None) -> list[JobEvent]:
        """Oldest first; with ``limit``, the newest ``limit`` events (still oldest first)."""
        local = self._local_id(job_id)
        if local is None:
            return []
        sql = "SELECT * FROM fine_tune_events WHERE job = ? ORDER BY created_at DESC, id DESC" + (
            " LIMIT ?" if limit is not None else ""
        )
        args: tuple[Any, ...] = (local, limit) if limit is not None else (local,)
        rows = self.workspace.connection().execute(sql, args).fetchall()
        return [
            JobEvent(
                event_id=row["event_id"],
                created_at=row["created_at"],
                level=row["level"],
                type=row["type"],
                message=row["message"],
                data=_loads(row["data"], {}),
            )
            for row in reversed(rows)
        ]

    def event_ids(self, local_id: int) -> set[str]:
        rows = self.workspace.connection().execute(
            "SELECT event_id FROM fine_tune_events WHERE job = ?", (local_id,)
        )
        return {row[0] for row in rows}

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        """By step."""
        local = self._local_id(job_id)
        if local is None:
            return []
        rows = self.workspace.connection().execute(
            "SELECT * FROM fine_tune_checkpoints WHERE job = ? ORDER BY step, id", (local,)
        )
        return [
            Checkpoint(
                checkpoint_id=row["checkpoint_id"],
                step=row["step"],
                model=row["model"],
                metrics=_loads(row["metrics"], {}),
                created_at=row["created_at"],
            )
            for row in rows
        ]

    def metrics(self, job_id: str) -> list[MetricPoint]:
        """By step."""
        local = self._local_id(job_id)
        if local is None:
            return []
        rows = self.workspace.connection().execute(
            "SELECT * FROM fine_tune_metrics WHERE job = ? ORDER BY step", (local,)
        )
        return [MetricPoint(row["step"], *(row[name] for name in METRIC_NAMES)) for row in rows]

    def save_job(
        self,
        provider: str,
        base_url: str,
        data: Json,
        *,
        request: JobRequest | None = None,
        dataset_id: int | None = None,
        dataset_name: str = "",
    ) -> JobRecord:
        """Record the server's job object (insert or update)."""
        with self.workspace.transaction() as tx:
            local = self._upsert_job(
                tx,
                provider,
                base_url,
                data,
                request=request,
                dataset_id=dataset_id,
                dataset_name=dataset_name,
            )
        record = self.job(str(data["id"]), provider=provider, base_url=base_url)
        assert record is not None and record.id == local
        return record

    def save_jobs(self, provider: str, base_url: str, jobs: Iterable[Json]) -> list[JobRecord]:
        ids = []
        with self.workspace.transaction() as tx:
            for data in jobs:
                self._upsert_job(tx, provider, base_url, data)
                ids.append(str(data["id"]))
        found = (self.job(i, provider=provider, base_url=base_url) for i in ids)
        return [record for record in found if record is not None]

    def _upsert_job(
        self,
        tx: sqlite3.Connection,
        provider: str,
        base_url: str,
        data: Json,
        *,
        request: JobRequest | None = None,
        dataset_id: int | None = None,
        dataset_name: str = "",
    ) -> int:
        job_id = data.get("id")
        if not isinstance(job_id, str) or not job_id:
            raise JobError(f"the provider sent a job without an id: {data!r}")
        now = self.now()
        status = str(data.get("status") or "unknown")
        method_data = data.get("method")
        method = (
            str(method_data.get("type"))
            if isinstance(method_data, dict) and method_data.get("type")
            else (request.method if request else "supervised")
        )
        error = data.get("error")
        if not isinstance(error, dict) or not (error.get("message") or error.get("code")):
            error = None
        existing = tx.execute(
            "SELECT id, status, error FROM fine_tune_jobs "
            "WHERE provider = ? AND base_url = ? AND job_id = ?",
            (provider, base_url, job_id),
        ).fetchone()
        values = {
            "status": status,
            "model": str(data.get("model") or (request.model if request else "")),
            "method": method,
            "fine_tuned_model": data.get("fine_tuned_model") or None,
            "training_file": str(data.get("training_file") or ""),
            "validation_file": data.get("validation_file") or None,
            "data": _dumps(data),
            "created_at": float(data.get("created_at") or now),
            "finished_at": float(data["finished_at"]) if data.get("finished_at") else None,
            "synced_at": now,
        }
        if existing is None:
            values.update(
                provider=provider,
                base_url=base_url,
                job_id=job_id,
                error=_dumps(error) if error else None,
                dataset_id=dataset_id,
                dataset_name=dataset_name,
                request=_dumps(request.to_json()) if request else "{}",
                last_change_at=now,
            )
            columns = ", ".join(values)
            marks = ", ".join("?" * len(values))
            cursor = tx.execute(
                f"INSERT INTO fine_tune_jobs({columns}) VALUES ({marks})", tuple(values.values())
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid
        if error:
            values["error"] = _dumps(error)
        elif status != FAILED:
            values["error"] = None  # a failed job keeps the error it was given
        if existing["status"] != status:
            values["last_change_at"] = now
        if request is not None:
            values["request"] = _dumps(request.to_json())
        if dataset_id is not None:
            values["dataset_id"] = dataset_id
        if dataset_name:
            values["dataset_name"] = dataset_name
        assignments = ", ".join(f"{name} = ?" for name in values)
        tx.execute(
            f"UPDATE fine_tune_jobs SET {assignments} WHERE id = ?",
            (*values.values(), existing["id"]),
        )
        return int(existing["id"])


# -- metrics -----------------------------------------------------------------------------

# Column names seen in result files (OpenAI has renamed some; Azure uses "validation_").
_CSV_COLUMNS = {
    "train_loss": "train_loss",
    "training_loss": "train_loss",
    "train_accuracy": "train_mean_token_accuracy",
    "train_mean_token_accuracy": "train_mean_token_accuracy",
    "valid_loss": "valid_loss",
    "validation_loss": "valid_loss",
    "valid_accuracy": "valid_mean_token_accuracy",
    "valid_mean_token_accuracy": "valid_mean_token_accuracy",
    "validation_mean_token_accuracy": "valid_mean_token_accuracy",
    "full_valid_loss": "full_valid_loss",
    "full_validation_loss": "full_valid_loss",
    "full_valid_accuracy": "full_valid_mean_token_accuracy",
    "full_valid_mean_token_accuracy": "full_valid_mean_token_accuracy",
    "full_validation_mean_token_accuracy": "full_valid_mean_token_accuracy",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _step(value: Any) -> int | None:
    number = _number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def metrics_from_event(event: Mapping[str, Any]) -> MetricPoint | None:
    """The metrics a ``metrics`` event carries (step, losses, token accuracies)."""
    data = event.get("data")
    if event.get("type") != "metrics" or not isinstance(data, dict):
        return None
    step = _step(data.get("step"))
    if step is None:
        return None
    return MetricPoint(step, *(_number(data.get(name)) for name in METRIC_NAMES))


def decode_result_file(content: bytes) -> str:
    """A result file's text: plain CSV (OpenAI) or base64-encoded CSV (Azure)."""
    text = content.decode("utf-8-sig", errors="replace")
    if "," in text.split("\n", 1)[0]:
        return text
    try:
        decoded = base64.b64decode(b"".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        return text
    return decoded.decode("utf-8-sig", errors="replace")


def parse_result_csv(text: str) -> list[MetricPoint]:
    """Per-step metrics from a ``step_metrics.csv`` result file; empty cells are None.
    Raises ValueError when the text has no step column."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ValueError("the result file is empty")
    names = [cell.strip().lower() for cell in header]
    if "step" not in names:
        raise ValueError(f"the result file has no step column (columns: {', '.join(names)})")
    step_at = names.index("step")
    columns = {i: _CSV_COLUMNS[name] for i, name in enumerate(names) if name in _CSV_COLUMNS}
    points: list[MetricPoint] = []
    for row in reader:
        if step_at >= len(row):
            continue
        step = _step(row[step_at])
        if step is None:
            continue
        values = {name: _number(row[i]) for i, name in columns.items() if i < len(row)}
        points.append(MetricPoint(step, **values))
    return points


def metrics_series(store: JobStore, job_id: str) -> MetricsSeries:
    """The job's metrics as aligned per-step lists, for the loss and accuracy chart."""
    points = store.metrics(job_id)
    series = MetricsSeries()
    for point in points:
        series.steps.append(point.step)
        for name in METRIC_NAMES:
            getattr(series, name).append(getattr(point, name))
    return series


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


def export_dataset(
    datasets: DatasetStore, dataset: int | str, *, model: str, provider_name: str = "the provider"
) -> DatasetExport:
    """Validate a dataset and export its train/validation JSONL bytes. Raises
    ``DatasetNotReady`` when validation finds errors: the upload is refused rather than
    paying for a job that fails at file validation."""
    from desktop.finetune.examples import PreferenceExample, TrainingExample
    from desktop.finetune.jsonl import export_chat_jsonl, export_preference_jsonl
    from desktop.finetune.stats import MIN_EXAMPLES, size_message
    from desktop.finetune.validation import (
        summarize,
        validate_examples,
        validate_preference_examples,
    )

    if isinstance(dataset, str):
        found = datasets.dataset_by_name(dataset)
        if found is None:
            raise DatasetNotReady(f"there is no dataset named {dataset!r}")
    else:
        found = datasets.dataset(dataset)
    examples = datasets.examples(found.id)
    if not examples:
        raise DatasetNotReady(f"dataset {found.name!r} has no examples")
    chats = [e for e in examples if isinstance(e, TrainingExample)]
    pairs = [e for e in examples if isinstance(e, PreferenceExample)]
    if chats and pairs:
        raise DatasetNotReady(
            f"dataset {found.name!r} mixes {len(chats)} chat example(s) and {len(pairs)} "
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
            f"dataset {found.name!r} has {len(errors)} error(s) that {provider_name} would "
            f"reject; fix them before uploading. {first}\n{summarize(errors)}"
        )
    train_count = sum(1 for e in examples if e.split == "train")
    if train_count == 0:
        raise DatasetNotReady(
            f"dataset {found.name!r} has no training examples (all are in validation)"
        )
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
        dataset_id=found.id,
        dataset_name=found.name,
        kind=kind,
        train=train,
        validation=validation,
        train_count=summary.train,
        validation_count=summary.validation,
        warnings=tuple(warnings),
    )


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
) -> UploadedFile:
    """Upload once per (bytes, provider, base URL): unchanged data reuses the file
    already on the server. A failed or cut upload is sent again from the start on the
    next call, into the same local record."""
    kind, base_url = _identity(provider)
    digest = hashlib.sha256(data).hexdigest()
    existing = store.uploaded_file(kind, base_url, digest, purpose)
    if existing is not None and existing.status == UPLOAD_DONE and existing.file_id:
        if _still_there(provider, existing.file_id):
            logger.info("Reusing %s for %s (unchanged)", existing.file_id, existing.filename)
            return dataclasses.replace(existing, reused=True)
        store.fail_upload(existing.id, "the file is no longer on the server", UPLOAD_GONE)
    elif existing is not None and existing.status in (UPLOAD_UPLOADING, UPLOAD_FAILED):
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
        file_id = provider.upload_file(filename, data, purpose, on_bytes)
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
        )
        done += len(data)
        verb = "Reused" if uploaded[split].reused else "Uploaded"
        yield Progress(done, total, f"{verb} {name} as {uploaded[split].file_id}")
    return UploadedDataset(uploaded["train"], uploaded.get("validation"))


# -- job operations ------------------------------------------------------------------------


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


def _upsert_metrics(
    tx: sqlite3.Connection, local: int, points: Sequence[MetricPoint], source: str
) -> None:
    """One row per step; a value that is given replaces the stored one, a missing value
    keeps it (the result file completes what the events gave)."""
    flag = "from_events" if source == "events" else "from_result_file"
    updates = ", ".join(f"{n} = COALESCE(excluded.{n}, {n})" for n in METRIC_NAMES)
    tx.executemany(
        f"INSERT INTO fine_tune_metrics(job, step, {', '.join(METRIC_NAMES)}, {flag}) "
        f"VALUES (?, ?, {', '.join('?' * len(METRIC_NAMES))}, 1) "
        f"ON CONFLICT(job, step) DO UPDATE SET {updates}, {flag} = 1",
        [(local, p.step, *p.values()) for p in points],
    )


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
    events = provider.list_events(job_id, limit=event_limit, stop_at=known)
    checkpoints = _fetch_checkpoints(provider, job_id)
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
    now = store.now()
    new_events: list[JobEvent] = []
    new_checkpoints: list[Checkpoint] = []
    event_points: list[MetricPoint] = []
    with store.workspace.transaction() as tx:
        local = store._upsert_job(tx, kind, base_url, data)
        for event in reversed(events):  # oldest first, so row order is time order
            event_id = str(event.get("id") or "")
            if not event_id:
                continue
            item = JobEvent(
                event_id=event_id,
                created_at=float(event.get("created_at") or now),
                level=str(event.get("level") or "info"),
                type=str(event.get("type") or "message"),
                message=str(event.get("message") or ""),
                data=event.get("data") if isinstance(event.get("data"), dict) else {},
            )
            cursor = tx.execute(
                "INSERT OR IGNORE INTO fine_tune_events"
                "(job, event_id, created_at, level, type, message, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    local,
                    item.event_id,
                    item.created_at,
                    item.level,
                    item.type,
                    item.message,
                    _dumps(item.data),
                ),
            )
            if cursor.rowcount:
                new_events.append(item)
                point = metrics_from_event(event)
                if point is not None:
                    event_points.append(point)
        _upsert_metrics(tx, local, event_points, "events")
        for raw in checkpoints:
            checkpoint = Checkpoint(
                checkpoint_id=str(raw.get("id") or ""),
                step=_step(raw.get("step_number")) or 0,
                model=str(raw.get("fine_tuned_model_checkpoint") or ""),
                metrics=raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {},
                created_at=float(raw.get("created_at") or now),
            )
            if not checkpoint.checkpoint_id:
                continue
            cursor = tx.execute(
                "INSERT OR IGNORE INTO fine_tune_checkpoints"
                "(job, checkpoint_id, step, model, metrics, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    local,
                    checkpoint.checkpoint_id,
                    checkpoint.step,
                    checkpoint.model,
                    _dumps(checkpoint.metrics),
                    checkpoint.created_at,
                ),
            )
            if cursor.rowcount:
                new_checkpoints.append(checkpoint)
        _upsert_metrics(tx, local, result_points, "result_file")
        if result_loaded:
            tx.execute("UPDATE fine_tune_jobs SET result_loaded = 1 WHERE id = ?", (local,))
        if new_events or new_checkpoints or result_points:
            tx.execute("UPDATE fine_tune_jobs SET last_change_at = ? WHERE id = ?", (now, local))
    record = store.job(job_id, provider=kind, base_url=base_url)
    assert record is not None
    for warning in warnings:
        logger.warning("Job %s: %s", job_id, warning)
    return SyncResult(
        job=record,
        previous_status=before.status if before is not None else None,
        new_events=new_events,
        new_checkpoints=sorted(new_checkpoints, key=lambda c: c.step),
        metric_steps=sorted({p.step for p in event_points} | {p.step for p in result_points}),
        result_file_points=len(result_points),
        warnings=warnings,
    )
