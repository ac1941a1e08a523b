"""What ``ragtune jobs list|show|create|cancel`` do, without the argparse wiring.

Each function returns ``(data, text)``: ``data`` for ``--json``, ``text`` for people.
Failures raise ``JobError``/``ProviderError`` (``ProviderRefused`` when a provider no
longer takes jobs) whose ``str()`` is the one line to print. With no provider (offline,
or none set up) list and show answer from the workspace alone.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from desktop.finetune.job_store import JobRecord, JobStore
from desktop.finetune.jobs import (
    cancel_job,
    create_job,
    export_dataset,
    next_poll_seconds,
    refresh_jobs,
    sync_job,
    upload_dataset,
)
from desktop.finetune.providers import FineTuneProvider, ProviderError
from desktop.finetune.requests import prepare_request
from desktop.progress import Progress

if TYPE_CHECKING:
    from collections.abc import Callable

    from desktop.finetune.store import DatasetStore

logger = logging.getLogger(__name__)

Json = dict[str, Any]


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _job_line(record: JobRecord) -> str:
    dataset = f"  {record.dataset_name}" if record.dataset_name else ""
    result = f"  → {record.fine_tuned_model}" if record.fine_tuned_model else ""
    return (
        f"{record.job_id}  {record.status:<16} {record.model}  {record.method}"
        f"  {_when(record.created_at)}{dataset}{result}"
    )


def jobs_list(
    store: JobStore, provider: FineTuneProvider | None = None, *, limit: int = 20
) -> tuple[list[Json], str]:
    """Jobs newest first. With a provider, its job list is fetched and recorded first;
    if that fails the local records are shown with a note."""
    note = ""
    if provider is not None:
        try:
            refresh_jobs(provider, store, limit=limit)
        except ProviderError as exc:
            note = f"(showing saved jobs; could not refresh: {exc})"
    records = store.jobs(limit=limit)
    lines = [_job_line(r) for r in records] or ["No fine-tuning jobs yet."]
    if note:
        lines.append(note)
    return [r.to_json() for r in records], "\n".join(lines)


def jobs_show(
    store: JobStore,
    job_id: str,
    provider: FineTuneProvider | None = None,
    *,
    events: int = 10,
) -> tuple[Json, str]:
    """One job in full: status, error, hyperparameters, the last events, the latest
    metrics and the checkpoints. With a provider, synced first (offline: saved data)."""
    note = ""
    if provider is not None:
        try:
            sync_job(provider, store, job_id)
        except ProviderError as exc:
            if store.job(job_id) is None:
                raise
            note = f"(saved data; could not refresh: {exc})"
    record = store.require_job(job_id)
    recent = store.events(job_id, limit=events)
    checkpoints = store.checkpoints(job_id)
    series = store.metrics_series(job_id)
    data: Json = {
        **record.to_json(),
        "events": [e.to_json() for e in recent],
        "checkpoints": [c.to_json() for c in checkpoints],
        "metrics": series.to_json(),
        "next_poll_seconds": next_poll_seconds(record.status, record.last_change_at),
    }
    lines = [
        f"Job {record.job_id} on {record.base_url} ({record.provider})",
        f"Status: {record.status_label}",
        f"Base model: {record.model}   method: {record.method}",
    ]
    if record.dataset_name:
        lines.append(f"Dataset: {record.dataset_name}")
    if record.fine_tuned_model:
        lines.append(f"Fine-tuned model: {record.fine_tuned_model}")
    if record.hyperparameters:
        lines.append(
            "Hyperparameters: "
            + ", ".join(f"{k}={v}" for k, v in sorted(record.hyperparameters.items()))
        )
    lines.append(f"Created: {_when(record.created_at)}   finished: {_when(record.finished_at)}")
    if record.error_message:
        lines.append(f"Error: {record.error_message}")
    if series.steps:
        last = len(series.steps) - 1
        parts = [f"step {series.steps[last]}"]
        for label, values in (("train loss", series.train_loss), ("valid loss", series.valid_loss)):
            if values[last] is not None:
                parts.append(f"{label} {values[last]:.4f}")
        lines.append(f"Metrics: {len(series.steps)} step(s); latest " + ", ".join(parts))
    for checkpoint in checkpoints:
        lines.append(f"Checkpoint step {checkpoint.step}: {checkpoint.model}")
    if recent:
        lines.append("Recent events:")
        lines.extend(f"  {_when(e.created_at)} [{e.level}] {e.message}" for e in recent)
    if note:
        lines.append(note)
    return data, "\n".join(lines)


def jobs_create(
    store: JobStore,
    datasets: DatasetStore,
    provider: FineTuneProvider,
    *,
    dataset: str,
    model: str,
    method: str = "supervised",
    epochs: object = "auto",
    batch_size: object = "auto",
    learning_rate_multiplier: object = "auto",
    beta: object = None,
    suffix: str | None = None,
    seed: object = None,
    on_progress: Callable[[Progress], object] | None = None,
) -> tuple[Json, str]:
    """Validate the dataset and the request, upload (reusing unchanged files), create
    the job. Nothing is uploaded when the dataset or a field is wrong."""
    export = export_dataset(datasets, dataset, model=model, provider_name=provider.name)
    request = prepare_request(
        model=model,
        method=method,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate_multiplier=learning_rate_multiplier,
        beta=beta,
        suffix=suffix,
        seed=seed,
        data_kind=export.kind,
    )
    operation = upload_dataset(provider, store, export)
    while True:
        try:
            step = next(operation)
        except StopIteration as stop:
            uploaded = stop.value
            break
        if on_progress is not None:
            on_progress(step)
    record = create_job(
        provider,
        store,
        request.with_files(uploaded.training_file, uploaded.validation_file),
        dataset_id=export.dataset_id,
        dataset_name=export.dataset_name,
    )
    files = [uploaded.training] + ([uploaded.validation] if uploaded.validation else [])
    data: Json = {
        "job": record.to_json(),
        "files": [f.to_json() for f in files],
        "train_examples": export.train_count,
        "validation_examples": export.validation_count,
        "warnings": list(export.warnings),
    }
    lines = [
        f"Created job {record.job_id} ({record.status_label}) on {provider.name} "
        f"({provider.host}): {record.model}, {record.method}, dataset {export.dataset_name} "
        f"({export.train_count} training / {export.validation_count} validation examples)."
    ]
    lines.extend(
        f"{'Reused' if f.reused else 'Uploaded'} {f.split} file {f.file_id} ({f.filename})"
        for f in files
    )
    lines.extend(f"Warning: {w}" for w in export.warnings)
    return data, "\n".join(lines)


def jobs_cancel(store: JobStore, provider: FineTuneProvider, job_id: str) -> tuple[Json, str]:
    record = cancel_job(provider, store, job_id)
    return record.to_json(), f"Job {record.job_id}: {record.status_label.lower()}."
