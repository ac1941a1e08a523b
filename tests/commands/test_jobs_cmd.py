"""``ragtune jobs``: the words of its results (in process, on the fine-tuning front door),
and the command as a subprocess, including Ctrl+C during an upload."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from desktop.commands.jobs_cmd import (
    cancel_result,
    create_result,
    list_result,
    show_result,
)
from desktop.commands.result import CommandResult
from desktop.finetune.job_store import JobStore
from desktop.finetune.providers import ProviderRefused
from desktop.finetune.requests import DatasetNotReady, JobRequestError
from desktop.finetune.service import FineTuneService
from desktop.paths import AppPaths
from desktop.progress import Progress, drive
from desktop.workspace import Workspace
from tests.commands.test_dataset_cmd import good_line
from tests.finetune.jobs.conftest import MODEL
from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ROOT, ragtune


def create(
    service: FineTuneService, dataset: str, progress: list[Any] | None = None, **fields: Any
) -> CommandResult:
    """What ``ragtune jobs create --yes`` does after parsing its arguments."""
    plan = service.plan_job(dataset, model=fields.pop("model", MODEL), **fields)
    created = drive(service.create_job(plan), progress.append if progress is not None else None)
    return create_result(created, provider=service.provider_label())


def test_create_list_show_cancel(
    fake_openai: FakeOpenAI, service: FineTuneService, chat_dataset: str
) -> None:
    progress: list[Progress] = []
    first = create(service, chat_dataset, progress, epochs="3", suffix="support")
    data, text = first.data, first.text
    job_id = data["job"]["job_id"]
    assert data["job"]["status"] == "validating_files"
    assert (data["train_examples"], data["validation_examples"]) == (10, 2)
    assert data["estimate"]["epochs"] == 3  # the requested epochs, not the default
    assert text.splitlines()[0] == (
        f"Created job {job_id} (Validating files) on OpenAI (127.0.0.1:{fake_openai.port}): "
        "gpt-4o-mini, supervised, dataset Support replies (10 training / 2 validation examples)."
    )
    assert text.splitlines()[1].startswith("Uploaded train file file-")
    assert "billed tokens (3 epochs" in text
    assert len(progress) == 5  # before and after each of two files, then the job
    json.dumps(data)  # --json can print it

    second = create(service, chat_dataset)
    assert "Reused train file" in second.text and "Reused validation file" in second.text
    assert len(fake_openai.requests_to("/v1/files", "POST")) == 2

    fake_openai.advance_job(job_id, "running")
    fake_openai.add_metrics(job_id, 1, 1.25, 1.5)
    shown = show_result(service.job_details(job_id))
    assert shown.data["status"] == "running"
    assert shown.data["metrics"]["train_loss"] == [1.25]
    assert shown.data["next_poll_seconds"] == 10.0
    assert "Status: Running" in shown.text
    assert "Hyperparameters: batch_size=1, learning_rate_multiplier=1.8, n_epochs=3" in shown.text
    assert "Metrics: 1 step(s); latest step 1, train loss 1.2500, valid loss 1.5000" in shown.text
    assert "[info] Step 1: training loss=1.2500, validation loss=1.5000" in shown.text
    json.dumps(shown.data)

    listed = list_result(service.job_list())
    assert [j["job_id"] for j in listed.data] == [second.data["job"]["job_id"], job_id]
    assert listed.text.splitlines()[1].startswith(f"{job_id}  running")

    cancelled = cancel_result(service.cancel_job(job_id))
    assert cancelled.data["status"] == "cancelled"
    assert cancelled.text == f"Job {job_id}: cancelled."


def test_list_and_show_work_offline(
    fake_openai: FakeOpenAI, service: FineTuneService, chat_dataset: str
) -> None:
    job_id = create(service, chat_dataset).data["job"]["job_id"]
    fake_openai.inject("/v1/fine_tuning/jobs", 503, times=10)
    listed = list_result(service.job_list())
    assert [j["job_id"] for j in listed.data] == [job_id]
    assert "(showing saved jobs; could not refresh: Listing fine-tuning jobs failed." in (
        listed.text
    )
    shown = show_result(service.job_details(job_id))
    assert shown.data["job_id"] == job_id
    assert "(saved data; could not refresh: Reading job" in shown.text


def test_list_shows_jobs_started_elsewhere(
    fake_openai: FakeOpenAI, service: FineTuneService
) -> None:
    empty = list_result(service.job_list())
    assert (empty.data, empty.text) == ([], "No fine-tuning jobs yet.")
    training = fake_openai.add_file('{"messages": []}\n', "train.jsonl")
    with service._providers.use() as provider:
        elsewhere = provider.client.fine_tuning.jobs.create(  # type: ignore[attr-defined]
            model=MODEL, training_file=training["id"]
        )
    listed = list_result(service.job_list())
    assert [j["job_id"] for j in listed.data] == [elsewhere.id]


def test_create_refuses_before_uploading(
    fake_openai: FakeOpenAI, service: FineTuneService, chat_dataset: str
) -> None:
    with pytest.raises(JobRequestError, match="DPO needs preference data"):
        create(service, chat_dataset, method="dpo")
    with pytest.raises(JobRequestError, match=r"^epochs: "):
        create(service, chat_dataset, epochs="0")
    with pytest.raises(DatasetNotReady, match="no dataset named"):
        create(service, "Missing")
    assert fake_openai.requests_to("/v1/files") == []


def test_create_on_a_provider_that_stopped_taking_jobs(
    fake_openai: FakeOpenAI, service: FineTuneService, chat_dataset: str, workspace: Workspace
) -> None:
    fake_openai.refuse_new_jobs = "New fine-tuning jobs are no longer accepted."
    with pytest.raises(ProviderRefused, match=r"New fine-tuning jobs are no longer accepted\."):
        create(service, chat_dataset)
    assert service.jobs() == []
    # The uploaded files stay recorded: a later attempt on this server reuses them.
    assert {f.status for f in JobStore(workspace).uploaded_files()} == {"uploaded"}


def _imported(tmp_path: Path, count: int = 12) -> str:
    data = str(tmp_path / "data")
    source = tmp_path / "train.jsonl"
    source.write_text("\n".join(good_line(i) for i in range(count)) + "\n")
    imported = ragtune("--data-dir", data, "dataset", "import", str(source), "--dataset", "support")
    assert imported.returncode == 0, imported.stderr
    return data


CREATE = ("jobs", "create", "--dataset", "support", "--model", "gpt-4o-mini")


def _env(fake: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_API_KEY": "sk-jobs", "OPENAI_BASE_URL": fake.base_url}


def test_create_list_show_and_cancel_a_job(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data, env = _imported(tmp_path), _env(fake_openai)
    created = ragtune("--data-dir", data, *CREATE, "--yes", "--json", env=env)
    assert created.returncode == 0, created.stderr
    job_id = json.loads(created.stdout)["job"]["job_id"]
    listed = ragtune("--data-dir", data, "jobs", "list", "--json", env=env)
    assert job_id in listed.stdout
    fake_openai.advance_job(job_id, "running")
    shown = ragtune("--data-dir", data, "jobs", "show", job_id, env=env)
    assert shown.returncode == 0 and "running" in shown.stdout.lower()
    cancelled = ragtune("--data-dir", data, "jobs", "cancel", job_id, env=env)
    assert cancelled.returncode == 0 and "cancel" in cancelled.stdout.lower()
    # Offline (no provider): the saved jobs are still listed.
    offline = ragtune("--data-dir", data, "jobs", "list")
    assert job_id in offline.stdout


def test_a_refusing_provider_is_a_readable_failure(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = _imported(tmp_path)
    fake_openai.refuse_new_jobs = "Fine-tuning jobs are no longer accepted for new users."
    refused = ragtune("--data-dir", data, *CREATE, "--yes", env=_env(fake_openai))
    assert refused.returncode == 1
    assert "no longer accepted" in refused.stderr


def test_a_paid_job_needs_yes_when_not_run_from_a_terminal(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = _imported(tmp_path)
    asked = ragtune("--data-dir", data, *CREATE, env=_env(fake_openai))
    assert asked.returncode == 1
    assert "billed tokens" in asked.stderr and "epochs" in asked.stderr and "$" in asked.stderr
    assert "Re-run with --yes to confirm." in asked.stderr
    assert fake_openai.requests_to("/v1/files") == []


def test_ctrl_c_during_the_upload_cancels_and_leaves_no_job(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = _imported(tmp_path)
    fake_openai.inject("/v1/files", method="POST", delay=30.0)  # the upload hangs
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop", "--data-dir", data, *CREATE, "--yes"],
        cwd=ROOT,
        env={**os.environ, **_env(fake_openai)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not fake_openai.requests_to("/v1/files", "POST"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1
    assert "Traceback" not in err
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last == "ragtune: error: cancelled; nothing was left half-done"
    assert fake_openai.job_ids == []
    assert fake_openai.requests_to("/v1/fine_tuning/jobs") == []
    path = AppPaths.resolve(data).workspace_file("default")
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT status, error, file_id FROM fine_tune_files").fetchall()
    assert rows == [("cancelled", "cancelled before the server confirmed it", None)]
