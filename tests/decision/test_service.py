"""The decision front door: evidence, recommendation and reasons, as data and text (what
``ragtune decide`` prints), read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.decision.checklist import Answer, Answers
from desktop.decision.evidence import DecisionInputs
from desktop.decision.service import AnswersFileError, DecisionService
from desktop.decision.store import DecisionStore
from desktop.settings import Settings
from tests.decision.builders import NOW, Builder, chat

SETTINGS = Settings(provider="ollama", base_url="http://localhost:11434/v1", chat_model="llama3")


@pytest.fixture
def library(build: Builder) -> Builder:
    run = build.run("import", 100)
    for n in range(4):
        build.document(f"d{n}.md", "Refunds are paid within fourteen days. " * 30, 100, 20)
        build.event(run, f"d{n}.md", "added", 100)
    later = build.run("rescan", 5)
    build.event(later, "d1.md", "updated", 5)
    for n, latency in enumerate((20.0, 25.0, 30.0, 35.0, 400.0)):
        build.search(latency, days=n + 1)
    build.dataset("replies", [chat('{"answer": "x"}') for _ in range(12)])
    return build


def test_decide_with_an_answers_file(library: Builder, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(
        json.dumps({"change": "yes", "format": "yes", "latency_budget_ms": 1000}), encoding="utf-8"
    )
    data, text = DecisionService(library.workspace, lambda: SETTINGS).headless(path, NOW)
    assert data["date"] == "2026-11-23"
    assert data["answers"]["change"] == "yes"
    assert data["answers"]["size"] == "unsure"
    assert data["inputs"]["latency_budget_ms"] == 1000
    evidence = data["evidence"]
    assert evidence["knowledge"]["changed_90d"] == 1
    assert evidence["latency"]["median_ms"] == 30.0
    assert evidence["latency"]["p95_ms"] == 400.0
    assert evidence["examples"]["best_valid"] == 12
    assert evidence["format"]["json_examples"] == 12
    assert evidence["provider"]["can_fine_tune"] == "no"
    recommendation = data["recommendation"]
    # Format needs fine-tuning, but Ollama cannot train: retrieval now, said so.
    assert recommendation["choice"] == "rag"
    assert "blocked" in recommendation["summary"]
    assert {w["id"] for w in recommendation["warnings"]} == {
        "prompt_only_format",
        "no_evaluation_set",
    }
    assert len(data["comparison"]) == 10
    assert data["comparison"][0]["aspect"] == "Freshness"
    json.dumps(data)  # all of it is JSON
    assert "1. Does the knowledge change often?  [yes]" in text
    assert "Recommendation: RAG (confidence" in text
    assert " ! Relying on prompts for a strict format" in text
    assert " - Output format:" in text  # the card that points the other way


def test_decide_without_a_file_uses_the_saved_answers(library: Builder) -> None:
    DecisionStore(library.workspace).save_answers(
        Answers({"attribution": Answer.YES}, DecisionInputs(None, 100, "Be brief."))
    )
    data, _text = DecisionService(library.workspace, lambda: SETTINGS).headless(None, NOW)
    assert data["answers"]["attribution"] == "yes"
    assert data["inputs"]["system_prompt_tokens"] == 3
    assert "system_prompt" not in data["evidence"]["inputs"]  # the text stays private


def test_decide_is_read_only(library: Builder) -> None:
    DecisionService(library.workspace, lambda: SETTINGS).headless(None, NOW)
    assert DecisionStore(library.workspace).last_snapshot() is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('["yes"]', "must be a JSON object"),
        ('{"change": "perhaps"}', "change: 'perhaps' is not an answer"),
        ('{"speed": "yes"}', "unknown key 'speed'"),
    ],
)
def test_a_bad_answers_file_says_what_is_wrong(
    library: Builder, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "answers.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AnswersFileError, match=message):
        DecisionService(library.workspace, lambda: SETTINGS).headless(path, NOW)


def test_a_missing_answers_file(library: Builder, tmp_path: Path) -> None:
    with pytest.raises(AnswersFileError, match="cannot read"):
        DecisionService(library.workspace, lambda: SETTINGS).headless(tmp_path / "nope.json", NOW)
