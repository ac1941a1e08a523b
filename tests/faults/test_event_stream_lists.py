"""Issue 15, point 7: a fine-tuning server compatible in name only answers a job's
events (and checkpoints) list as an event stream. ``ragtune jobs show`` still shows the
job's status, model and hyperparameters; the events, checkpoints and metrics are marked
unreadable with the reason; no SDK-internal text reaches the user."""

from __future__ import annotations

import json
from pathlib import Path

import openai

from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune

INTERNAL = ("_set_private_attributes", "'str' object", "AttributeError", "Traceback")


def running_job(fake: FakeOpenAI) -> str:
    """A job on the fake with events, metrics and a checkpoint."""
    training = fake.add_file('{"messages": []}\n', "train.jsonl")
    with openai.OpenAI(base_url=fake.base_url, api_key="sk-jobs", max_retries=0) as client:
        job = client.fine_tuning.jobs.create(training_file=training["id"], model="gpt-4o-mini")
    fake.advance_job(job.id, "running")
    fake.add_metrics(job.id, 1, 1.25, 1.5)
    fake.add_checkpoint(job.id, 1)
    return job.id


def test_jobs_show_with_event_stream_lists(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    job_id = running_job(fake_openai)
    fake_openai.lists_as_event_stream = {"events", "checkpoints"}
    data = str(tmp_path / "data")
    env = {"OPENAI_API_KEY": "sk-jobs", "OPENAI_BASE_URL": fake_openai.base_url}

    shown = ragtune("--data-dir", data, "jobs", "show", job_id, env=env)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "Status: Running" in text
    assert "Base model: gpt-4o-mini" in text
    assert "Hyperparameters: batch_size=1, learning_rate_multiplier=1.8, n_epochs=3" in text
    assert "Events: unreadable. Reading events of job" in text
    assert "content type text/event-stream; begins: data: {" in text
    assert "Checkpoints: unreadable. Reading checkpoints of job" in text
    assert "Metrics: unreadable (they come with the events, which could not be read)." in text
    for internal in INTERNAL:
        assert internal not in text + shown.stderr

    machine = ragtune("--data-dir", data, "jobs", "show", job_id, "--json", env=env)
    assert machine.returncode == 0, machine.stderr
    details = json.loads(machine.stdout)
    assert details["status"] == "running" and details["model"] == "gpt-4o-mini"
    assert set(details["unreadable"]) == {"events", "checkpoints", "metrics"}
    assert "text/event-stream" in details["unreadable"]["events"]

    # Once the server answers properly again, everything shows.
    fake_openai.lists_as_event_stream = set()
    healed = ragtune("--data-dir", data, "jobs", "show", job_id, env=env)
    assert "unreadable" not in healed.stdout
    assert "Checkpoint step 1:" in healed.stdout and "Recent events:" in healed.stdout


def test_jobs_list_as_an_event_stream_is_a_readable_refresh_error(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    running_job(fake_openai)
    fake_openai.lists_as_event_stream = {"jobs"}
    data = str(tmp_path / "data")
    env = {"OPENAI_API_KEY": "sk-jobs", "OPENAI_BASE_URL": fake_openai.base_url}
    listed = ragtune("--data-dir", data, "jobs", "list", env=env)
    assert listed.returncode == 0
    assert "could not refresh: Listing fine-tuning jobs failed." in listed.stdout
    assert "content type text/event-stream" in listed.stdout
    for internal in INTERNAL:
        assert internal not in listed.stdout + listed.stderr
