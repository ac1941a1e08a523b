"""Creating a job through the front door: one generator (plan → upload → create) that
stops between steps, or during an upload, and then leaves no job."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from desktop.finetune.job_store import JobStore
from desktop.finetune.jobs import JobPlan
from desktop.finetune.service import FineTuneService
from desktop.progress import Cancelled, CancelToken, Progress, drive
from desktop.settings import Settings
from desktop.workspace import Workspace
from tests.finetune.jobs.conftest import MODEL, Clock, ProviderFactory
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.finetune_service import finetune_service


@pytest.fixture
def service(
    workspace: Workspace, fake_openai: FakeOpenAI, clock: Clock, make_provider: ProviderFactory
) -> Iterator[FineTuneService]:
    made = finetune_service(
        workspace, fake_openai, clock=clock, provider=lambda _config: make_provider()
    )
    yield made
    made.close()


def cancel_after(steps: int, cancel: CancelToken) -> Any:
    seen: list[Progress] = []

    def on_step(step: Progress) -> None:
        seen.append(step)
        if len(seen) == steps:
            cancel.cancel()

    return on_step


@pytest.mark.parametrize(("steps", "files"), [(1, set()), (2, {"uploaded"}), (4, {"uploaded"})])
def test_cancelling_between_steps_leaves_no_job(
    fake_openai: FakeOpenAI,
    service: FineTuneService,
    store: JobStore,
    chat_dataset: str,
    steps: int,
    files: set[str],
) -> None:
    plan = service.plan_job(chat_dataset, model=MODEL)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        drive(service.create_job(plan, cancel=cancel), cancel_after(steps, cancel), cancel)
    assert fake_openai.job_ids == [] and service.jobs() == []
    # Whatever was uploaded is complete and recorded as such (reused next time).
    assert {f.status for f in store.uploaded_files()} == files
    created = drive(service.create_job(plan))
    assert fake_openai.job_ids == [created.job.job_id]
    assert len(fake_openai.requests_to("/v1/files", "POST")) == 2  # nothing sent twice


def test_cancelling_during_an_upload_records_it_as_cancelled(
    fake_openai: FakeOpenAI, service: FineTuneService, store: JobStore, chat_dataset: str
) -> None:
    plan = service.plan_job(chat_dataset, model=MODEL)
    fake_openai.inject("/v1/files", method="POST", delay=30.0)  # the server holds the upload
    cancel = CancelToken()

    def cancel_once_the_server_has_it() -> None:
        while not fake_openai.requests_to("/v1/files", "POST"):
            time.sleep(0.02)
        cancel.cancel()

    threading.Thread(target=cancel_once_the_server_has_it, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        drive(service.create_job(plan, cancel=cancel), None, cancel)
    assert time.monotonic() - started < 10  # not after the server's 30 s
    (record,) = store.uploaded_files()
    assert (record.status, record.file_id) == ("cancelled", None)
    assert fake_openai.job_ids == [] and service.jobs() == []


def test_the_plan_is_what_is_confirmed_and_uploaded(
    service: FineTuneService, chat_dataset: str, workspace: Workspace, fake_openai: FakeOpenAI
) -> None:
    plan: JobPlan = service.plan_job(chat_dataset, model=MODEL, epochs="2")
    assert (plan.cost.epochs, plan.export.train_count) == (2, 10)
    assert "(2 epochs ×" in plan.describe()
    assert service.needs_confirmation(plan)  # default: ask for any paid job
    generous = finetune_service(
        workspace,
        fake_openai,
        settings=Settings(
            provider="custom", base_url=fake_openai.base_url, confirm_spend_above_usd=5.0
        ),
    )
    assert plan.cost.cost is not None and plan.cost.cost < 5.0
    assert not generous.needs_confirmation(plan)
    generous.close()
