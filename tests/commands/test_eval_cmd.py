"""``ragtune eval`` as subprocesses against the fake server: import with a report, runs in
every kind of mode with --json, a run killed half-way and resumed without double
counting, compare, the offline sweep, drafting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ROOT, ragtune

DOCS = {
    "refunds.md": "# Refunds\n\nMoney is returned within 14 days after the device arrives.",
    "ports.md": "# Network\n\nThe Hub listens on TCP port 47120 for Agents on the LAN.",
    "errors.md": "# Errors\n\nLFS-4012 means the shelf quota is exhausted.",
}
QUESTIONS = [
    {
        "question": "How long until my money is back?",
        "answer": "within 14 days",
        "source": "refunds.md",
        "passage": "within 14 days",
    },
    {
        "question": "Which TCP port does the Hub listen on?",
        "answer": "47120",
        "sources": [{"document": "ports.md", "passage": "TCP port 47120"}],
    },
    {
        "question": "What does LFS-4012 mean?",
        "answer": "the shelf quota is exhausted",
        "source": "errors.md",
    },
]


@pytest.fixture
def data(tmp_path: Path) -> str:
    """A data dir with the three documents imported (not embedded: lexical search)."""
    root = str(tmp_path / "data")
    assert ragtune("--data-dir", root, "settings", "set", "auto_index", "false").returncode == 0
    assert ragtune("--data-dir", root, "settings", "set", "search_mode", "lexical").returncode == 0
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    assert ragtune("--data-dir", root, "import", str(docs)).returncode == 0
    return root


def server_env(fake: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "sk-test"}


def write_set(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_import_reports_bad_lines_and_a_run_prints_metrics_and_results(
    data: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    source = write_set(
        tmp_path / "set.jsonl", [QUESTIONS[0], "{broken", QUESTIONS[1], QUESTIONS[2]]
    )
    imported = json_of(
        ragtune("--data-dir", data, "eval", "import", str(source), "--set", "Support", "--json")
    )
    assert imported["imported"] == 3 and imported["format"] == "jsonl"
    assert imported["problems"] == [
        {
            "line": 2,
            "message": "not valid JSON: Expecting property name enclosed in double "
            "quotes (column 2)",
        }
    ]
    human = ragtune("--data-dir", data, "eval", "import", str(source), "--set", "Other")
    assert "line 2: not valid JSON" in human.stdout

    sets = json_of(ragtune("--data-dir", data, "eval", "sets", "--json"))
    assert [(s["name"], s["questions"]) for s in sets] == [("Other", 3), ("Support", 3)]

    retrieval = json_of(
        ragtune(
            "--data-dir",
            data,
            "eval",
            "run",
            "--set",
            "Support",
            "--mode",
            "retrieval",
            "--k",
            "2",
            "--json",
        )
    )
    assert retrieval["status"] == "complete"
    for key in ("hit@1", "hit@5", "mrr", "ndcg@10", "recall@k"):
        assert isinstance(retrieval["metrics"][key], float), key
    assert retrieval["metrics"]["hit@5"] == 1.0
    first = retrieval["results"][0]
    assert first["question"] == QUESTIONS[0]["question"] and first["status"] == "ok"
    assert first["retrieved"][0]["score"] > 0 and "relevant" in first["retrieved"][0]
    assert retrieval["estimate"]["cost_usd"] == 0.0

    fake_openai.chat_reply = '{"answer": "47120"}'
    rag = json_of(
        ragtune(
            "--data-dir",
            data,
            "eval",
            "run",
            "--set",
            "Support",
            "--mode",
            "rag",
            "--limit",
            "2",
            "--json",
            env=server_env(fake_openai),
        )
    )
    assert rag["planned"] == 2 and len(rag["results"]) == 2
    assert {"exact_match", "f1", "hit@1", "hit@5", "mrr"} <= set(rag["metrics"])
    assert rag["results"][1]["answer"] == '{"answer": "47120"}'
    assert rag["estimate"]["prompt_tokens"] > 0
    assert not fake_openai.requests_to("/v1/embeddings")  # lexical: nothing embedded

    runs = json_of(ragtune("--data-dir", data, "eval", "runs", "--json"))
    assert [r["mode"] for r in runs] == ["rag", "retrieval"]
    shown = ragtune("--data-dir", data, "eval", "show", str(rag["id"]))
    assert shown.returncode == 0 and "1. [ok] How long until my money is back?" in shown.stdout
    compared = json_of(
        ragtune(
            "--data-dir", data, "eval", "compare", str(retrieval["id"]), str(rag["id"]), "--json"
        )
    )
    assert compared["metrics"]["hit@1"][0] == retrieval["metrics"]["hit@1"]
    exported = tmp_path / "out.jsonl"
    assert (
        ragtune("--data-dir", data, "eval", "export", "Support", "--out", str(exported)).returncode
        == 0
    )
    assert len(exported.read_text(encoding="utf-8").splitlines()) == 3


def test_squad_json_imports_with_unanswerable_questions(data: str, tmp_path: Path) -> None:
    squad = {
        "data": [
            {
                "title": "Refunds",
                "paragraphs": [
                    {
                        "context": "Money is returned within 14 days after the device arrives.",
                        "qas": [
                            {
                                "id": "a",
                                "question": "When is money returned?",
                                "answers": [{"text": "within 14 days", "answer_start": 18}],
                            },
                            {
                                "id": "b",
                                "question": "Who pays shipping?",
                                "answers": [],
                                "is_impossible": True,
                            },
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    imported = json_of(
        ragtune("--data-dir", data, "eval", "import", str(path), "--set", "SQuAD", "--json")
    )
    assert (imported["format"], imported["imported"]) == ("squad", 2)
    run = json_of(
        ragtune(
            "--data-dir", data, "eval", "run", "--set", "SQuAD", "--mode", "retrieval", "--json"
        )
    )
    unanswerable = run["results"][1]
    assert unanswerable["answerable"] is False and unanswerable["reference"] == (
        "not in the documents"
    )
    assert run["results"][0]["metrics"]["hit@1"] == 1.0  # the passage, found by overlap


def test_bad_usage_and_failures_are_one_line(data: str, tmp_path: Path) -> None:
    missing = ragtune("--data-dir", data, "eval", "run", "--set", "Nope", "--mode", "retrieval")
    assert missing.returncode == 1
    assert "no eval set named 'Nope' (eval sets: none yet)" in missing.stderr
    assert ragtune("--data-dir", data, "eval", "run", "--mode", "sideways").returncode == 2
    source = write_set(tmp_path / "s.jsonl", QUESTIONS)
    assert ragtune("--data-dir", data, "eval", "import", str(source), "--set", "S").returncode == 0
    # A model the server does not have: every question fails, the run says why, exit 1.
    with FakeOpenAI() as server:
        failed = ragtune(
            "--data-dir",
            data,
            "eval",
            "run",
            "--set",
            "S",
            "--mode",
            "base",
            "--model",
            "gpt-retired-2024",
            env=server_env(server),
        )
    assert failed.returncode == 1
    assert "every question failed" in failed.stderr and "retired or unknown" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_a_run_killed_half_way_resumes_without_counting_a_question_twice(
    data: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    questions = [{"question": f"Question number {n}?", "answer": f"{n}"} for n in range(10)]
    source = write_set(tmp_path / "ten.jsonl", questions)
    assert (
        ragtune("--data-dir", data, "eval", "import", str(source), "--set", "Ten").returncode == 0
    )
    fake_openai.inject("/v1/chat/completions", delay=0.4, times=1000)
    env = {**os.environ, **server_env(fake_openai)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "desktop",
            "--data-dir",
            data,
            "eval",
            "run",
            "--set",
            "Ten",
            "--mode",
            "base",
            "--concurrency",
            "2",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            runs = json_of(ragtune("--data-dir", data, "eval", "runs", "--json"))
            if runs and runs[0]["answered"] >= 3:
                break
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    interrupted = json_of(ragtune("--data-dir", data, "eval", "runs", "--json"))[0]
    assert interrupted["status"] == "running" and interrupted["answered"] < 10
    resumed = json_of(
        ragtune(
            "--data-dir",
            data,
            "eval",
            "run",
            "--resume",
            str(interrupted["id"]),
            "--json",
            env=server_env(fake_openai),
        )
    )
    assert resumed["status"] == "complete" and resumed["answered"] == 10
    ids = [r["question_id"] for r in resumed["results"]]
    assert len(ids) == len(set(ids)) == 10
    # Asked again: only what had no saved answer (at most the two in flight at the kill).
    asked = len(fake_openai.requests_to("/v1/chat/completions"))
    assert 10 <= asked <= 10 + 2


def test_the_sweep_scores_a_grid_without_touching_the_library(data: str, tmp_path: Path) -> None:
    source = write_set(tmp_path / "s.jsonl", QUESTIONS)
    assert ragtune("--data-dir", data, "eval", "import", str(source), "--set", "S").returncode == 0
    before = ragtune("--data-dir", data, "documents", "--json").stdout
    result = json_of(
        ragtune(
            "--data-dir",
            data,
            "eval",
            "sweep",
            "--set",
            "S",
            "--strategies",
            "recursive_tokens,fixed_words",
            "--sizes",
            "16,64",
            "--embedders",
            "minilm-l6-v2-static256",
            "--modes",
            "lexical,vector",
            "--k",
            "1,3",
            "--json",
        )
    )
    assert len(result["rows"]) == 2 * 2 * 2 * 2
    assert result["builds"] == {"chunkings": 4, "embeddings": 4}
    assert result["best"]["metrics"]["hit@5"] == 1.0
    assert result["applied"] is None
    assert ragtune("--data-dir", data, "documents", "--json").stdout == before


def test_generate_drafts_questions_grounded_in_chunks(
    data: str, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_reply = json.dumps(
        {"examples": [{"question": "What is this about?", "answer": "Refunds."}]}
    )
    drafted = json_of(
        ragtune(
            "--data-dir",
            data,
            "eval",
            "generate",
            "--set",
            "Drafts",
            "--count",
            "2",
            "--json",
            env=server_env(fake_openai),
        )
    )
    assert drafted["drafted"] == 2 and drafted["target"] == "Drafts"
    assert drafted["questions"][0]["sources"][0]["document"] in {"Refunds", "Network", "Errors"}
    out = tmp_path / "review.jsonl"
    to_file = ragtune(
        "--data-dir",
        data,
        "eval",
        "generate",
        "--set",
        "X",
        "--count",
        "1",
        "--out",
        str(out),
        env=server_env(fake_openai),
    )
    assert to_file.returncode == 0 and len(out.read_text().splitlines()) == 1
    sets = json_of(ragtune("--data-dir", data, "eval", "sets", "--json"))
    assert [s["name"] for s in sets] == ["Drafts"]
