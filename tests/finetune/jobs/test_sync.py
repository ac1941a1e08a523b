"""The job lifecycle against the fake server: create, follow, finish; what is stored."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from desktop.finetune.job_store import JobRecord, JobStore
from desktop.finetune.jobs import (
    UploadedDataset,
    cancel_job,
    create_job,
    export_dataset,
    next_poll_seconds,
    pause_job,
    resume_job,
    sync_job,
    upload_dataset,
)
from desktop.finetune.providers import OpenAIFineTuneProvider, Unsupported
from desktop.finetune.requests import prepare_request
from desktop.finetune.store import DatasetStore
from desktop.progress import run_to_end
from desktop.workspace import Workspace
from tests.finetune.jobs.conftest import (
    MODEL,
    Clock,
    ProviderFactory,
    chat_examples,
)
from tests.helpers.fake_openai import FakeOpenAI


def upload(
    provider: OpenAIFineTuneProvider, store: JobStore, datasets: DatasetStore, name: str
) -> UploadedDataset:
    export = export_dataset(datasets, name, model=MODEL)
    return run_to_end(upload_dataset(provider, store, export))


def start(
    provider: OpenAIFineTuneProvider, store: JobStore, datasets: DatasetStore, name: str
) -> JobRecord:
    uploaded = upload(provider, store, datasets, name)
    request = prepare_request(model=MODEL, epochs=2, data_kind="chat")
    return create_job(
        provider,
        store,
        request.with_files(uploaded.training_file, uploaded.validation_file),
        dataset_name=name,
    )


def test_upload_create_run_with_metrics_then_succeed(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
    clock: Clock,
) -> None:
    job = start(provider, store, datasets, chat_dataset)
    assert job.status == "validating_files"
    assert job.dataset_name == chat_dataset
    sent = fake_openai.requests_to("/v1/fine_tuning/jobs", "POST")[0].json
    assert sent["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 2}},
    }
    assert fake_openai.file_contents[sent["training_file"]].count(b"\n") == 10
    assert fake_openai.file_contents[sent["validation_file"]].count(b"\n") == 2

    fake_openai.advance_job(job.job_id, "queued")
    fake_openai.advance_job(job.job_id, "running")
    sent_points = [(1, 2.0, 2.1), (2, 1.5, 1.7), (3, 0.9, 1.2)]
    for step, train, valid in sent_points:
        fake_openai.add_metrics(
            job.job_id,
            step,
            train,
            valid,
            train_mean_token_accuracy=step / 10,
            valid_mean_token_accuracy=step / 20,
            total_steps=6,
        )
    clock.advance(5)
    running = sync_job(provider, store, job.job_id)
    assert running.previous_status == "validating_files"
    assert running.job.status == "running" and running.status_changed
    assert running.metric_steps == [1, 2, 3]
    assert [e.message for e in running.new_events][:2] == [
        f"Created fine-tuning job: {job.job_id}",
        f"Validating training file: {job.training_file}",
    ]
    series = store.metrics_series(job.job_id)
    assert series.points("train_loss") == [(s, t) for s, t, _v in sent_points]
    assert series.points("valid_loss") == [(s, v) for s, _t, v in sent_points]
    assert series.train_mean_token_accuracy == [0.1, 0.2, 0.3]
    assert series.valid_mean_token_accuracy == [0.05, 0.1, 0.15]
    assert running.job.hyperparameters["n_epochs"] == 2
    assert next_poll_seconds(running.job.status, running.job.last_change_at, now=clock()) == 10.0

    fake_openai.add_checkpoint(job.job_id, 3)
    model = fake_openai.succeed_job(job.job_id)
    done = sync_job(provider, store, job.job_id)
    assert done.job.status == "succeeded"
    assert done.job.fine_tuned_model == model
    assert [c.step for c in done.new_checkpoints] == [3]
    assert store.checkpoints(job.job_id)[0].model == f"{model}:ckpt-step-3"
    assert store.checkpoints(job.job_id)[0].metrics["train_loss"] == 0.9
    assert done.result_file_points == 3
    assert done.job.result_loaded
    assert next_poll_seconds(done.job.status, done.job.last_change_at) is None
    # The result file repeats the events' values: the chart is unchanged.
    assert store.metrics_series(job.job_id).points("train_loss") == [
        (s, t) for s, t, _v in sent_points
    ]
    assert store.events(job.job_id)[-1].message == "The job has successfully completed"


def test_events_are_stored_once_however_often_the_job_is_synced(
    fake_openai: FakeOpenAI,
    make_provider: ProviderFactory,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    provider = make_provider(page_size=20)
    job = start(provider, store, datasets, chat_dataset)
    fake_openai.advance_job(job.job_id, "running")
    for step in range(1, 46):  # three pages of 20
        fake_openai.add_metrics(job.job_id, step, 3.0 - step / 50)
    first = sync_job(provider, store, job.job_id)
    assert len(first.new_events) == 2 + 1 + 45
    fake_openai.clear_requests()
    second = sync_job(provider, store, job.job_id)
    assert second.new_events == [] and not second.changed
    # Only the newest page is read; it starts with an event already stored.
    assert len(fake_openai.requests_to(f"/v1/fine_tuning/jobs/{job.job_id}/events")) == 1
    stored = store.events(job.job_id)
    assert len(stored) == 48
    assert len({e.event_id for e in stored}) == 48
    assert [e.message for e in stored][:3] == [
        f"Created fine-tuning job: {job.job_id}",
        f"Validating training file: {job.training_file}",
        "Fine-tuning job started",
    ]
    assert store.metrics_series(job.job_id).steps == list(range(1, 46))

    fake_openai.add_metrics(job.job_id, 46, 2.0)
    third = sync_job(provider, store, job.job_id)
    assert [e.data["step"] for e in third.new_events] == [46]
    assert len(store.events(job.job_id)) == 49


def test_chart_from_the_result_file_plain_and_base64(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    csv = (
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
        "1,1.25,0.5,1.5,0.4\n"
        "2,0.75,0.6,,\n"
        "3,0.5,0.7,0.9,0.65\n"
    )
    plain = start(provider, store, datasets, chat_dataset)
    fake_openai.advance_job(plain.job_id, "running")
    fake_openai.add_metrics(plain.job_id, 1, 9.0)  # superseded by the result file
    fake_openai.succeed_job(plain.job_id, result_file_csv=csv)
    sync_job(provider, store, plain.job_id)

    second = datasets.create_dataset("Second", MODEL)
    datasets.add_examples(second.id, chat_examples(topic="refunds"))
    encoded = start(provider, store, datasets, "Second")
    fake_openai.succeed_job(encoded.job_id, result_file_csv=base64.b64encode(csv.encode()).decode())
    sync_job(provider, store, encoded.job_id)

    for job_id in (plain.job_id, encoded.job_id):
        series = store.metrics_series(job_id)
        assert series.steps == [1, 2, 3]
        assert series.train_loss == [1.25, 0.75, 0.5]
        assert series.valid_loss == [1.5, None, 0.9]
        assert series.points("valid_loss") == [(1, 1.5), (3, 0.9)]
        assert series.train_mean_token_accuracy == [0.5, 0.6, 0.7]
        assert series.valid_mean_token_accuracy == [0.4, None, 0.65]


def test_failed_job_keeps_its_error_in_full(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    job = start(provider, store, datasets, chat_dataset)
    message = (
        "The job failed due to an invalid training file. Line 7: expected an assistant "
        "message; " + "details " * 300
    ).strip()
    fake_openai.fail_job(job.job_id, message, code="invalid_training_file", param="training_file")
    synced = sync_job(provider, store, job.job_id)
    assert synced.job.status == "failed"
    assert synced.job.error == {
        "code": "invalid_training_file",
        "message": message,
        "param": "training_file",
    }
    assert synced.job.error_message == (
        f"{message} (code invalid_training_file, field training_file)"
    )
    assert store.events(job.job_id)[-1].level == "error"
    assert store.events(job.job_id)[-1].message == message
    assert next_poll_seconds(synced.job.status, synced.job.last_change_at) is None


def test_cancelled_job_stops_polling(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    job = start(provider, store, datasets, chat_dataset)
    fake_openai.advance_job(job.job_id, "running")
    assert next_poll_seconds("running", store.require_job(job.job_id).last_change_at) is not None
    cancelled = cancel_job(provider, store, job.job_id)
    assert cancelled.status == "cancelled"
    assert next_poll_seconds(cancelled.status, cancelled.last_change_at) is None
    synced = sync_job(provider, store, job.job_id)
    assert synced.job.status == "cancelled"
    assert next_poll_seconds(synced.job.status, synced.job.last_change_at) is None
    assert store.events(job.job_id)[-1].message == "Fine-tuning job cancelled"


def test_a_new_status_is_kept_as_is(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    job = start(provider, store, datasets, chat_dataset)
    fake_openai.advance_job(job.job_id, "migrating_weights")
    synced = sync_job(provider, store, job.job_id)
    assert synced.job.status == "migrating_weights"
    assert synced.job.status_label == "Migrating weights"
    assert next_poll_seconds(synced.job.status, synced.job.last_change_at) is not None


def test_pause_and_resume(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    job = start(provider, store, datasets, chat_dataset)
    fake_openai.advance_job(job.job_id, "running")
    assert pause_job(provider, store, job.job_id).status == "paused"
    assert resume_job(provider, store, job.job_id).status == "running"
    # A server without the route says 404 for a job that exists: reported plainly.
    fake_openai.inject(
        f"/v1/fine_tuning/jobs/{job.job_id}/pause", 404, body={"detail": "Not Found"}
    )
    with pytest.raises(Unsupported, match="does not support pause"):
        pause_job(provider, store, job.job_id)
    assert store.require_job(job.job_id).status == "running"


def test_restart_shows_jobs_events_and_metrics_offline(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
    workspace: Workspace,
    workspace_path: Path,
) -> None:
    job = start(provider, store, datasets, chat_dataset)
    fake_openai.advance_job(job.job_id, "running")
    fake_openai.add_metrics(job.job_id, 1, 1.5, 1.6)
    fake_openai.add_metrics(job.job_id, 2, 1.0, 1.2)
    sync_job(provider, store, job.job_id)
    before = (store.jobs(), store.events(job.job_id), store.metrics_series(job.job_id))
    files_before = store.uploaded_files()
    fake_openai.close()
    workspace.close()

    with Workspace(workspace_path) as reopened:
        again = JobStore(reopened)
        assert again.jobs() == before[0]
        assert again.events(job.job_id) == before[1]
        assert again.metrics_series(job.job_id) == before[2]
        assert again.uploaded_files() == files_before
        assert again.require_job(job.job_id).status == "running"
