"""The job tracker's records in the workspace: uploaded files, jobs, their events,
metrics and checkpoints (tables in ``desktop.finetune.schema``), so everything the
provider said stays visible offline and after a restart.

Status is an open string: the API's list grows (pausing, paused), and an unknown status
is stored and shown as is."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.finetune.metrics import (
    METRIC_NAMES,
    MetricPoint,
    MetricsSeries,
    metrics_from_event,
    step_of,
)
from desktop.finetune.providers import FINE_TUNE_PURPOSE
from desktop.finetune.requests import JobError, JobRequest, UnknownJob
from desktop.logs import redact

if TYPE_CHECKING:
    from desktop.workspace import Workspace

Json = dict[str, Any]

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

UPLOAD_UPLOADING = "uploading"
UPLOAD_DONE = "uploaded"
UPLOAD_FAILED = "failed"
UPLOAD_GONE = "gone"
UPLOAD_CANCELLED = "cancelled"
UNFINISHED_UPLOADS = (UPLOAD_UPLOADING, UPLOAD_FAILED, UPLOAD_CANCELLED)
"""Uploads that may have reached the server after all (adopted on the next try)."""


def status_label(status: str) -> str:
    """Words for a status; a status the app does not know yet is shown as sent."""
    return STATUS_LABELS.get(status) or status.replace("_", " ").capitalize() or "Unknown"


def is_finished(status: str) -> bool:
    return status in TERMINAL_STATUSES


# -- records -----------------------------------------------------------------------


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
        return redact(f"{message} ({extra})" if extra else message or str(self.error))

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
class JobSnapshot:
    """Everything known about one job, read from the workspace in one go."""

    job: JobRecord
    events: list[JobEvent]
    checkpoints: list[Checkpoint]
    metrics: MetricsSeries


@dataclass(frozen=True)
class RecordedSync:
    """What one sync added to the records (events and checkpoints are stored once)."""

    job: JobRecord
    new_events: list[JobEvent]
    new_checkpoints: list[Checkpoint]
    event_points: list[MetricPoint]


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
        """Record why an upload failed; the reason is stored redacted (a server may have
        quoted the key in it)."""
        with self.workspace.transaction() as tx:
            tx.execute(
                "UPDATE fine_tune_files SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status, redact(error), self.now(), row_id),
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

    # -- metrics and syncs -------------------------------------------------------------

    def snapshot(self, job_id: str, *, events: int | None = None) -> JobSnapshot:
        """The job with its events (the newest ``events``, if given), checkpoints and
        metrics; ``UnknownJob`` when it is not recorded here."""
        return JobSnapshot(
            job=self.require_job(job_id),
            events=self.events(job_id, limit=events),
            checkpoints=self.checkpoints(job_id),
            metrics=self.metrics_series(job_id),
        )

    def metrics_series(self, job_id: str) -> MetricsSeries:
        """The job's metrics as aligned per-step lists, for the loss and accuracy chart."""
        return MetricsSeries.from_points(self.metrics(job_id))

    @staticmethod
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

    def record_sync(
        self,
        provider: str,
        base_url: str,
        data: Json,
        *,
        events: Sequence[Json],
        checkpoints: Sequence[Json],
        result_points: Sequence[MetricPoint] = (),
        result_loaded: bool = False,
    ) -> RecordedSync:
        """Store what one sync fetched (the job, its events newest first, checkpoints,
        the result file's metrics) in one transaction. Safe to repeat."""
        now = self.now()
        new_events: list[JobEvent] = []
        new_checkpoints: list[Checkpoint] = []
        event_points: list[MetricPoint] = []
        with self.workspace.transaction() as tx:
            local = self._upsert_job(tx, provider, base_url, data)
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
            self._upsert_metrics(tx, local, event_points, "events")
            for raw in checkpoints:
                checkpoint = Checkpoint(
                    checkpoint_id=str(raw.get("id") or ""),
                    step=step_of(raw.get("step_number")) or 0,
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
            self._upsert_metrics(tx, local, result_points, "result_file")
            if result_loaded:
                tx.execute("UPDATE fine_tune_jobs SET result_loaded = 1 WHERE id = ?", (local,))
            if new_events or new_checkpoints or result_points:
                tx.execute(
                    "UPDATE fine_tune_jobs SET last_change_at = ? WHERE id = ?", (now, local)
                )
        record = self.job(str(data["id"]), provider=provider, base_url=base_url)
        assert record is not None
        return RecordedSync(record, new_events, new_checkpoints, event_points)
