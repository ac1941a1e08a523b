"""``ragtune ask`` as a subprocess against the fake server, configured through the
conventional environment variables."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune


def prepare(tmp_path: Path) -> str:
    data = str(tmp_path / "data")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ports.md").write_text("# Network\n\nThe Hub listens on port 47120.")
    assert ragtune("--data-dir", data, "import", str(tmp_path / "docs")).returncode == 0
    return data


def test_ask_streams_the_answer_then_the_sources(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = prepare(tmp_path)
    fake_openai.chat_reply = "Port 47120 [1]."
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    human = ragtune("--data-dir", data, "ask", "Which port?", "--k", "1", env=env)
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith("Port 47120 [1].")
    assert "[1] Network · score" in human.stdout and "cited" in human.stdout

    machine = ragtune("--data-dir", data, "ask", "Which port?", "--json", env=env)
    result = json.loads(machine.stdout)
    assert result["answer"] == "Port 47120 [1]." and result["citations"] == [1]
    assert result["sources"][0]["document"] == "Network"
    assert {"rank", "score", "document", "text"} <= set(result["sources"][0])
    assert result["usage"]["total_tokens"] > 0 and result["latency_ms"] > 0
    sent = fake_openai.requests_to("/v1/chat/completions")[0]
    assert sent.headers["authorization"] == "Bearer sk-cli"


def test_ask_without_retrieval_and_with_a_failure(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = prepare(tmp_path)
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    plain = json.loads(
        ragtune("--data-dir", data, "ask", "Hi?", "--no-retrieval", "--json", env=env).stdout
    )
    assert plain["sources"] == [] and plain["mode"] == "none"
    fake_openai.inject("/v1/chat/completions", 401)
    failed = ragtune("--data-dir", data, "ask", "Hi?", env=env)
    assert failed.returncode == 1
    assert "rejected the API key" in failed.stderr


def test_ask_searches_the_vectors_of_the_embedder_it_is_told(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    data = prepare(tmp_path)
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    assert ragtune("--data-dir", data, "index", "--embedder", "local", env=env).returncode == 0
    fake_openai.clear_requests()
    local = json.loads(
        ragtune(
            "--data-dir", data, "ask", "Which port?", "--embedder", "local", "--json", env=env
        ).stdout
    )
    assert local["sources"][0]["cosine"] is not None  # found by its local vector
    assert fake_openai.requests_to("/v1/embeddings") == []
    told = json.loads(
        ragtune(
            "--data-dir", data, "ask", "Which port?", "--embedder", "openai", "--json", env=env
        ).stdout
    )
    assert len(fake_openai.requests_to("/v1/embeddings")) == 1  # the question, by the provider
    assert all(s["cosine"] is None for s in told["sources"])  # no provider vectors yet
