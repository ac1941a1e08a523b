"""``ragtune jobs`` and ``ragtune decide`` as subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from tests.finetune.test_dataset_cli import good_line
from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune


def test_create_list_show_and_cancel_a_job(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = str(tmp_path / "data")
    source = tmp_path / "train.jsonl"
    source.write_text("\n".join(good_line(i) for i in range(12)) + "\n")
    assert (
        ragtune(
            "--data-dir", data, "dataset", "import", str(source), "--dataset", "support"
        ).returncode
        == 0
    )
    env = {"OPENAI_API_KEY": "sk-jobs", "OPENAI_BASE_URL": fake_openai.base_url}
    created = ragtune(
        "--data-dir",
        data,
        "jobs",
        "create",
        "--dataset",
        "support",
        "--model",
        "gpt-4o-mini",
        "--json",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    job_id = (
        json.loads(created.stdout)["job"]["job_id"]
        if "job" in json.loads(created.stdout)
        else json.loads(created.stdout)["job_id"]
    )
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
    data = str(tmp_path / "data")
    source = tmp_path / "train.jsonl"
    source.write_text("\n".join(good_line(i) for i in range(12)) + "\n")
    ragtune("--data-dir", data, "dataset", "import", str(source), "--dataset", "support")
    fake_openai.refuse_new_jobs = "Fine-tuning jobs are no longer accepted for new users."
    env = {"OPENAI_API_KEY": "sk-jobs", "OPENAI_BASE_URL": fake_openai.base_url}
    refused = ragtune(
        "--data-dir",
        data,
        "jobs",
        "create",
        "--dataset",
        "support",
        "--model",
        "gpt-4o-mini",
        env=env,
    )
    assert refused.returncode == 1
    assert "no longer accepted" in refused.stderr


def test_decide_prints_evidence_and_a_recommendation(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"change": "yes", "attribution": "yes"}))
    result = ragtune(
        "--data-dir", str(tmp_path / "data"), "decide", "--answers", str(answers), "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["recommendation"]["choice"] in ("rag", "fine_tune", "both")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    failed = ragtune("--data-dir", str(tmp_path / "data"), "decide", "--answers", str(bad))
    assert failed.returncode == 1 and failed.stderr.startswith("ragtune: error:")
