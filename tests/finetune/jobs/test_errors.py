"""Each failure gives a sentence a user can act on and leaves the records as they were;
a provider that stopped taking jobs says so with its own words."""

from __future__ import annotations

import pytest

from desktop.finetune.job_store import JobRecord, JobStore
from desktop.finetune.jobs import create_job, sync_job
from desktop.finetune.providers import OpenAIFineTuneProvider, ProviderError, ProviderRefused
from desktop.finetune.requests import prepare_request
from tests.finetune.jobs.conftest import MODEL, ProviderFactory
from tests.helpers.fake_openai import FakeOpenAI

WIND_DOWN = (
    "Self-serve fine-tuning is being wound down: new fine-tuning jobs are no longer accepted "
    "for this organization."
)


@pytest.fixture
def job(fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore) -> JobRecord:
    training = fake_openai.add_file('{"messages": []}\n' * 10, "train.jsonl")
    request = prepare_request(model=MODEL).with_files(training["id"])
    record = create_job(provider, store, request)
    fake_openai.advance_job(record.job_id, "running")
    fake_openai.add_metrics(record.job_id, 1, 2.0)
    return sync_job(provider, store, record.job_id).job


@pytest.mark.parametrize(
    ("status", "words", "retryable"),
    [
        (401, "rejected the API key (401 Unauthorized). Check the key in Settings", False),
        (403, "refused the request (403 Forbidden)", False),
        (404, "answered 404 Not Found", False),
        (429, "rate limiting requests (429 Too Many Requests). It asked to wait 7 s.", True),
        (500, "had a server error (500)", True),
        (503, "had a server error (503)", True),
    ],
)
def test_each_status_reads_plainly_and_changes_nothing(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    job: JobRecord,
    status: int,
    words: str,
    retryable: bool,
) -> None:
    fake_openai.advance_job(job.job_id, "succeeded")
    fake_openai.inject(f"/v1/fine_tuning/jobs/{job.job_id}", status, retry_after=7)
    with pytest.raises(ProviderError) as caught:
        sync_job(provider, store, job.job_id)
    error = caught.value
    assert str(error).startswith(f"Reading job {job.job_id} failed. 127.0.0.1:")
    assert words in str(error)
    assert "sk-test" not in str(error)
    assert (error.status, error.retryable) == (status, retryable)
    assert store.require_job(job.job_id) == job
    assert len(store.events(job.job_id)) == 4


def test_a_failure_halfway_through_a_sync_stores_nothing(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore, job: JobRecord
) -> None:
    fake_openai.add_metrics(job.job_id, 2, 1.5)
    fake_openai.succeed_job(job.job_id)
    fake_openai.inject(f"/v1/fine_tuning/jobs/{job.job_id}/events", 500)
    with pytest.raises(ProviderError, match="Reading events"):
        sync_job(provider, store, job.job_id)
    assert store.require_job(job.job_id).status == "running"  # not half updated
    assert [m.step for m in store.metrics(job.job_id)] == [1]
    synced = sync_job(provider, store, job.job_id)
    assert synced.job.status == "succeeded"
    assert [m.step for m in store.metrics(job.job_id)] == [1, 2]


def test_timeout_reads_plainly(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory, store: JobStore, job: JobRecord
) -> None:
    slow = make_provider(timeout=0.2)
    fake_openai.inject(f"/v1/fine_tuning/jobs/{job.job_id}", delay=1.0)
    with pytest.raises(ProviderError, match=r"did not answer within 0\.2 s \(timeout\)") as caught:
        sync_job(slow, store, job.job_id)
    assert caught.value.retryable and caught.value.status is None
    assert store.require_job(job.job_id) == job


def test_result_file_that_cannot_be_downloaded_is_retried_on_the_next_sync(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore, job: JobRecord
) -> None:
    fake_openai.succeed_job(job.job_id, result_file_csv="step,train_loss\n1,1.0\n2,0.5\n")
    fake_openai.inject("/v1/files/", 500, method="GET")
    first = sync_job(provider, store, job.job_id)
    assert first.job.status == "succeeded" and not first.job.result_loaded
    assert "could not be downloaded (will retry)" in first.warnings[0]
    second = sync_job(provider, store, job.job_id)
    assert second.job.result_loaded and second.result_file_points == 2
    assert [(m.step, m.train_loss) for m in store.metrics(job.job_id)] == [(1, 1.0), (2, 0.5)]


@pytest.mark.parametrize("status", [403, 400])
def test_refusal_to_create_a_job_carries_the_providers_words(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore, status: int
) -> None:
    training = fake_openai.add_file('{"messages": []}\n', "train.jsonl")
    fake_openai.refuse_new_jobs = WIND_DOWN
    fake_openai.refuse_new_jobs_status = status
    request = prepare_request(model=MODEL).with_files(training["id"])
    with pytest.raises(ProviderRefused) as caught:
        create_job(provider, store, request)
    refused = caught.value
    assert refused.server_message == WIND_DOWN
    assert refused.status == status
    assert refused.provider_name == "OpenAI"
    assert WIND_DOWN in str(refused)
    assert "exported as JSONL" in str(refused)
    assert store.jobs() == []


def test_a_bad_request_is_not_a_refusal(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore
) -> None:
    training = fake_openai.add_file('{"messages": []}\n', "train.jsonl")
    request = prepare_request(model="text-embedding-3-small").with_files(training["id"])
    with pytest.raises(ProviderError) as caught:
        create_job(provider, store, request)
    assert not isinstance(caught.value, ProviderRefused)
    assert "not available for fine-tuning" in str(caught.value)
    assert caught.value.status == 400
    assert store.jobs() == []
