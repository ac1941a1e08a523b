"""Lists end: a server that ignores ``after`` (same page again) or never stops saying
``has_more`` cannot make a list loop forever."""

from __future__ import annotations

from typing import Any

from desktop.finetune.job_store import JobStore
from desktop.finetune.jobs import refresh_jobs
from desktop.finetune.providers import OpenAIFineTuneProvider
from tests.finetune.jobs.conftest import ProviderFactory
from tests.helpers.fake_openai import FakeOpenAI


def job(n: int) -> dict[str, Any]:
    return {
        "id": f"ftjob-{n}",
        "object": "fine_tuning.job",
        "status": "succeeded",
        "model": "gpt-4o-mini",
        "created_at": 1_700_000_000 + n,
        "training_file": f"file-{n}",
    }


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": True}


def test_a_server_ignoring_after_is_read_once(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore
) -> None:
    fake_openai.inject(
        "/v1/fine_tuning/jobs", 200, method="GET", times=1000, body=page([job(2), job(1)])
    )
    jobs = provider.list_jobs(limit=500)
    assert [j["id"] for j in jobs] == ["ftjob-2", "ftjob-1"]
    assert len(fake_openai.requests_to("/v1/fine_tuning/jobs", "GET")) == 2
    assert fake_openai.requests_to("/v1/fine_tuning/jobs")[1].query["after"] == "ftjob-1"


def test_endless_pages_stop_at_the_page_cap(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory, store: JobStore
) -> None:
    provider = make_provider(page_cap=5)
    for n in range(40):
        fake_openai.inject(
            "/v1/fine_tuning/jobs", 200, method="GET", body=page([job(2 * n), job(2 * n + 1)])
        )
    records = refresh_jobs(provider, store, limit=1000)
    assert len(fake_openai.requests_to("/v1/fine_tuning/jobs", "GET")) == 5
    assert len(records) == 10
    assert len(store.jobs()) == 10


def test_events_from_a_server_ignoring_after(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider
) -> None:
    events = [
        {
            "id": f"ftevent-{n}",
            "object": "fine_tuning.job.event",
            "created_at": 1_700_000_000 + n,
            "level": "info",
            "message": f"event {n}",
            "type": "message",
        }
        for n in (3, 2, 1)
    ]
    fake_openai.inject("/v1/fine_tuning/jobs/ftjob-x/events", 200, times=1000, body=page(events))
    assert [e["id"] for e in provider.list_events("ftjob-x", limit=1000)] == [
        "ftevent-3",
        "ftevent-2",
        "ftevent-1",
    ]
    assert len(fake_openai.requests_to("/v1/fine_tuning/jobs/ftjob-x/events")) == 2
    # Stops at what is already stored, without reading further.
    assert provider.list_events("ftjob-x", stop_at={"ftevent-2"}) == events[:1]


def test_paging_follows_after_to_the_end(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory
) -> None:
    provider = make_provider(page_size=2)
    training = fake_openai.add_file('{"messages": []}\n', "train.jsonl")
    created = [
        provider.client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training["id"])
        for _ in range(5)
    ]
    listed = provider.list_jobs(limit=100)
    assert [j["id"] for j in listed] == [c.id for c in reversed(created)]
    assert len(fake_openai.requests_to("/v1/fine_tuning/jobs", "GET")) == 3
    assert [j["id"] for j in provider.list_jobs(limit=3)] == [c.id for c in reversed(created)][:3]
