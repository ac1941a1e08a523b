"""The functions behind ``ragtune jobs``: (data, text) pairs."""

from __future__ import annotations

import json

import pytest

from desktop.finetune.job_store import JobStore
from desktop.finetune.jobs_cli import jobs_cancel, jobs_create, jobs_list, jobs_show
from desktop.finetune.providers import OpenAIFineTuneProvider, ProviderRefused
from desktop.finetune.requests import DatasetNotReady, JobRequestError
from desktop.finetune.store import DatasetStore
from desktop.progress import Progress
from tests.finetune.jobs.conftest import MODEL
from tests.helpers.fake_openai import FakeOpenAI


def test_create_list_show_cancel(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    progress: list[Progress] = []
    data, text = jobs_create(
        store,
        datasets,
        provider,
        dataset=chat_dataset,
        model=MODEL,
        epochs="3",
        suffix="support",
        on_progress=progress.append,
    )
    job_id = data["job"]["job_id"]
    assert data["job"]["status"] == "validating_files"
    assert (data["train_examples"], data["validation_examples"]) == (10, 2)
    assert text.splitlines()[0] == (
        f"Created job {job_id} (Validating files) on OpenAI (127.0.0.1:{fake_openai.port}): "
        "gpt-4o-mini, supervised, dataset Support replies (10 training / 2 validation examples)."
    )
    assert text.splitlines()[1].startswith("Uploaded train file file-")
    assert len(progress) == 4
    json.dumps(data)  # --json can print it

    second, second_text = jobs_create(store, datasets, provider, dataset=chat_dataset, model=MODEL)
    assert "Reused train file" in second_text and "Reused validation file" in second_text
    assert len(fake_openai.requests_to("/v1/files", "POST")) == 2

    fake_openai.advance_job(job_id, "running")
    fake_openai.add_metrics(job_id, 1, 1.25, 1.5)
    shown, shown_text = jobs_show(store, job_id, provider)
    assert shown["status"] == "running"
    assert shown["metrics"]["train_loss"] == [1.25]
    assert shown["next_poll_seconds"] == 10.0
    assert "Status: Running" in shown_text
    assert "Hyperparameters: batch_size=1, learning_rate_multiplier=1.8, n_epochs=3" in shown_text
    assert "Metrics: 1 step(s); latest step 1, train loss 1.2500, valid loss 1.5000" in shown_text
    assert "[info] Step 1: training loss=1.2500, validation loss=1.5000" in shown_text
    json.dumps(shown)

    listed, listed_text = jobs_list(store)
    assert [j["job_id"] for j in listed] == [second["job"]["job_id"], job_id]
    assert listed_text.splitlines()[1].startswith(f"{job_id}  running")

    cancelled, cancel_text = jobs_cancel(store, provider, job_id)
    assert cancelled["status"] == "cancelled"
    assert cancel_text == f"Job {job_id}: cancelled."


def test_list_and_show_work_offline(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    data, _text = jobs_create(store, datasets, provider, dataset=chat_dataset, model=MODEL)
    job_id = data["job"]["job_id"]
    fake_openai.inject("/v1/fine_tuning/jobs", 503, times=10)
    listed, text = jobs_list(store, provider)
    assert [j["job_id"] for j in listed] == [job_id]
    assert "(showing saved jobs; could not refresh: Listing fine-tuning jobs failed." in text
    shown, shown_text = jobs_show(store, job_id, provider)
    assert shown["job_id"] == job_id
    assert "(saved data; could not refresh: Reading job" in shown_text


def test_list_shows_jobs_started_elsewhere(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore
) -> None:
    assert jobs_list(store) == ([], "No fine-tuning jobs yet.")
    training = fake_openai.add_file('{"messages": []}\n', "train.jsonl")
    elsewhere = provider.client.fine_tuning.jobs.create(model=MODEL, training_file=training["id"])
    listed, _text = jobs_list(store, provider)
    assert [j["job_id"] for j in listed] == [elsewhere.id]


def test_create_refuses_before_uploading(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    with pytest.raises(JobRequestError, match="DPO needs preference data"):
        jobs_create(store, datasets, provider, dataset=chat_dataset, model=MODEL, method="dpo")
    with pytest.raises(JobRequestError, match=r"^epochs: "):
        jobs_create(store, datasets, provider, dataset=chat_dataset, model=MODEL, epochs="0")
    with pytest.raises(DatasetNotReady, match="no dataset named"):
        jobs_create(store, datasets, provider, dataset="Missing", model=MODEL)
    assert fake_openai.requests_to("/v1/files") == []


def test_create_on_a_provider_that_stopped_taking_jobs(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    fake_openai.refuse_new_jobs = "New fine-tuning jobs are no longer accepted."
    with pytest.raises(ProviderRefused, match=r"New fine-tuning jobs are no longer accepted\."):
        jobs_create(store, datasets, provider, dataset=chat_dataset, model=MODEL)
    assert store.jobs() == []
    # The uploaded files stay recorded: a later attempt on this server reuses them.
    assert {f.status for f in store.uploaded_files()} == {"uploaded"}
