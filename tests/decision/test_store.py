"""The decision saved in the workspace, and what changed since the last visit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from desktop.decision.checklist import Answer, Answers, recommend
from desktop.decision.evidence import (
    ChunkingConfig,
    DecisionInputs,
    EvaluationSets,
    Evidence,
    FormatRigidity,
    KnowledgeChange,
    LabelledExamples,
    LibrarySize,
    ProviderFineTuning,
    RetrievalLatency,
    SystemPromptSavings,
    VocabularyFragmentation,
)
from desktop.decision.store import (
    KEEP_SNAPSHOTS,
    DecisionStore,
    changes_since_last_visit,
    recommendation_change,
)
from desktop.workspace import Workspace


@pytest.fixture
def store(workspace: Workspace) -> DecisionStore:
    ticks = iter(range(1_000, 1_000_000))
    return DecisionStore(workspace, clock=lambda: float(next(ticks)))


EVIDENCE = Evidence(
    measured_at=100.0,
    chat_model="gpt-4.1-mini",
    knowledge=KnowledgeChange(10, 1, 2, 200.0, 2, added_total=4, updated_total=6),
    size=LibrarySize(10, 120_000, "gpt-4.1-mini", 1_047_576),
    format=FormatRigidity(20, 12, 4, 16, 0.8),
    latency=RetrievalLatency(12, 40.2, 95.0),
    vocabulary=VocabularyFragmentation("o200k_base", 5_000, 800, 1.31, 1.0, 1.31),
    examples=LabelledExamples(1, 14, 12, "support", 12),
    prompt=SystemPromptSavings(600, 1_000, 600_000),
    provider=ProviderFineTuning("openai", "https://api.openai.com/v1", "unknown"),
    evaluation=EvaluationSets(0),
    chunking=ChunkingConfig("recursive_tokens", False, False, 40),
)


def test_the_workspace_schema_has_the_tables(workspace: Workspace) -> None:
    names = {
        row[0]
        for row in workspace.connection().execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"decision_answers", "decision_inputs", "decision_snapshots"} <= names


def test_answers_and_inputs_are_saved_and_returned(store: DecisionStore) -> None:
    assert store.answers() == Answers()
    given = Answers(
        {"change": Answer.YES, "format": Answer.NO, "size": Answer.UNSURE},
        DecisionInputs(250.0, 3_000, "You are terse."),
    )
    previous = store.save_answers(given)
    assert previous == Answers()
    saved = store.answers()
    assert saved.answers == {"change": Answer.YES, "format": Answer.NO}
    assert saved.get("size") is Answer.UNSURE
    assert saved.inputs == given.inputs
    assert store.save_answers(Answers()) == saved  # the undo value
    assert store.answers() == Answers()


def test_a_fresh_workspace_has_nothing_saved_yet(workspace: Workspace) -> None:
    store = DecisionStore(workspace)
    assert store.answers() == Answers()
    assert store.last_snapshot() is None


def test_a_snapshot_round_trips_and_returns_the_previous_visit(store: DecisionStore) -> None:
    answers = Answers({"change": Answer.YES}, DecisionInputs(300.0, None, ""))
    recommendation = recommend(EVIDENCE, answers)
    assert store.save_snapshot(EVIDENCE, answers, recommendation) is None
    last = store.last_snapshot()
    assert last is not None
    assert last.evidence == EVIDENCE
    assert last.answers.get("change") is Answer.YES
    assert last.recommendation is not None
    assert last.recommendation.choice == recommendation.choice
    assert last.recommendation.reasons == recommendation.reasons
    assert last.recommendation.warnings == recommendation.warnings

    later = replace(EVIDENCE, latency=RetrievalLatency(12, 85.0, 140.0))
    previous = store.save_snapshot(later, answers, recommend(later, answers))
    assert previous is not None and previous.evidence == EVIDENCE
    assert store.last_snapshot().evidence == later  # type: ignore[union-attr]


def test_an_unchanged_visit_only_moves_the_time(store: DecisionStore, workspace: Workspace) -> None:
    answers = Answers()
    store.save_snapshot(EVIDENCE, answers, recommend(EVIDENCE, answers))
    first = store.last_snapshot()
    again = replace(EVIDENCE, measured_at=999.0)  # measured later, nothing else differs
    store.save_snapshot(again, answers, recommend(again, answers))
    count = workspace.connection().execute("SELECT count(*) FROM decision_snapshots").fetchone()[0]
    assert count == 1
    assert store.last_snapshot().at > first.at  # type: ignore[union-attr]


def test_old_snapshots_are_pruned(store: DecisionStore, workspace: Workspace) -> None:
    for n in range(KEEP_SNAPSHOTS + 5):
        evidence = replace(EVIDENCE, latency=RetrievalLatency(n + 1, float(n), float(n)))
        store.save_snapshot(evidence, Answers(), recommend(evidence, Answers()))
    count = workspace.connection().execute("SELECT count(*) FROM decision_snapshots").fetchone()[0]
    assert count == KEEP_SNAPSHOTS
    assert store.last_snapshot().evidence.latency.samples == KEEP_SNAPSHOTS + 5  # type: ignore[union-attr]


def test_changes_since_last_visit_in_plain_words() -> None:
    now = replace(
        EVIDENCE,
        knowledge=replace(EVIDENCE.knowledge, added_total=5, updated_total=8, removed_total=1),
        latency=RetrievalLatency(30, 85.0, 95.4),
        examples=replace(EVIDENCE.examples, best_valid=60),
        provider=replace(EVIDENCE.provider, can_fine_tune="yes"),
        evaluation=EvaluationSets(1),
        format=replace(EVIDENCE.format, rigid_share=0.8004),
    )
    assert changes_since_last_visit(EVIDENCE, now) == [
        "1 document added, 2 documents updated, 1 document removed since your last visit",
        "Median retrieval latency went from 40 ms to 85 ms",
        "Valid training examples went from 12 to 60",
        "Whether the provider can fine-tune went from unknown to yes",
        "Evaluation sets went from 0 to 1",
    ]  # p95 95.0 → 95.4 and 80.0 % → 80.04 % look the same: not reported


def test_changes_when_a_figure_appears_or_disappears() -> None:
    before = replace(EVIDENCE, latency=RetrievalLatency())
    assert changes_since_last_visit(before, EVIDENCE)[:2] == [
        "Median retrieval latency is now measured: 40 ms",
        "95th-percentile retrieval latency is now measured: 95 ms",
    ]
    gone = replace(EVIDENCE, size=LibrarySize())
    assert changes_since_last_visit(EVIDENCE, gone) == [
        "The library's size can no longer be measured (it was 120 k tokens)"
    ]
    assert changes_since_last_visit(None, EVIDENCE) == []
    assert changes_since_last_visit(EVIDENCE, EVIDENCE) == []


def test_recommendation_change() -> None:
    both = recommend(EVIDENCE, Answers())
    assert both.choice == "both"
    # "no" against a history that shows change: the only knowledge need goes neutral.
    tuned = recommend(EVIDENCE, Answers({"change": Answer.NO}))
    assert tuned.choice == "fine_tune"
    assert recommendation_change(None, both) is None
    assert recommendation_change(both, both) is None
    assert recommendation_change(both, tuned) == (
        "The recommendation changed from both to fine-tuning"
    )
    surer = replace(both, confidence_label="high")
    assert recommendation_change(both, surer) == (
        f"Confidence in both went from {both.confidence_label} to high"
    )
