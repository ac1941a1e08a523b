"""The Decide tab and the evaluation: the latest runs per mode are cited, the "no
evaluation set" warning goes once a set of 20+ questions was run, and a recommendation
the runs disagree with says so."""

from __future__ import annotations

from dataclasses import replace

from desktop.decision.checklist import Answers, comparison_table, recommend, warnings_for
from desktop.decision.evidence import (
    EvaluationSets,
    Evidence,
    EvidenceSources,
    MeasuredRun,
    evaluation_evidence,
    gather_evidence,
)
from desktop.evaluation.records import EvalQuestion, QuestionResult, RunConfig
from desktop.evaluation.store import EvalStore
from desktop.settings import Settings
from desktop.workspace import Workspace
from tests.decision.builders import NOW


def ran(store: EvalStore, set_id: int, mode: str, values: dict[str, float], at: float) -> int:
    """A finished run of ``mode`` over the whole set, every question answered."""
    questions = store.questions(set_id)
    run_id = store.create_run(
        set_id, "Support", store.set_hash(set_id), RunConfig(mode, model="m"), len(questions)
    )
    for q in questions:
        assert q.id is not None
        store.save_result(
            run_id, QuestionResult(q.id, q.position, q.question, q.answer, True, "ok")
        )
    store.set_run_status(run_id, "complete", metrics=values)
    with store.workspace.transaction() as tx:
        tx.execute("UPDATE eval_runs SET created_at = ? WHERE id = ?", (at, run_id))
    return run_id


def test_runs_are_evidence_only_from_twenty_questions(workspace: Workspace) -> None:
    store = EvalStore(workspace)
    assert evaluation_evidence(store) == EvaluationSets(note="no evaluation set yet")
    made = store.create_set("Support")
    store.add_questions(made.id, [EvalQuestion(f"q{n}?", "a") for n in range(19)])
    ran(store, made.id, "rag", {"f1": 0.7}, NOW.timestamp())
    small = evaluation_evidence(store)
    assert (small.sets, small.runs, small.measured) == (1, (), False)
    assert small.note == "no run of 20 or more questions yet"
    warnings = {w.id for w in warnings_for(Evidence(evaluation=small), Answers(), "rag")}
    assert warnings == {"evaluation_not_run"}

    store.add_questions(made.id, [EvalQuestion("q19?", "a")])  # the old run is stale now
    rag = ran(store, made.id, "rag", {"f1": 0.7, "format_adherence": 0.2}, NOW.timestamp())
    ft = ran(store, made.id, "ft", {"f1": 0.4, "format_adherence": 0.95}, NOW.timestamp() - 60)
    evidence = evaluation_evidence(store)
    assert evidence.measured
    assert [(r.mode, r.run_id, r.questions, r.metric, r.value) for r in evidence.runs] == [
        ("rag", rag, 20, "f1", 0.7),
        ("ft", ft, 20, "f1", 0.4),
    ]
    gathered = gather_evidence(EvidenceSources.of(workspace), Settings(), None, NOW)
    assert gathered.evaluation == evidence
    assert Evidence.from_dict(gathered.to_dict()).evaluation == evidence  # snapshots load
    assert not {w.id for w in warnings_for(gathered, Answers(), "rag")} & {
        "no_evaluation_set",
        "evaluation_not_run",
        "runs_disagree",
    }


RUNS = (
    MeasuredRun("rag", "Base + RAG", "m", 1, "Support", NOW.timestamp(), 60, "correct", 0.85, 0.3),
    MeasuredRun(
        "ft", "Fine-tuned", "ft:m", 2, "Support", NOW.timestamp(), 60, "correct", 0.55, 0.97
    ),
)


def test_the_comparison_table_and_the_format_card_cite_the_runs() -> None:
    evidence = Evidence(evaluation=EvaluationSets(1, RUNS))
    rows = {r.aspect: r.measured for r in comparison_table(evidence)}
    assert rows["Measured on your questions"] == (
        "Base + RAG 85% correct, Fine-tuned 55% correct (eval set “Support”, 60 questions, "
        f"{NOW.astimezone().strftime('%Y-%m-%d')})"
    )
    assert rows["Format control"] == "measured format adherence: Base + RAG 30%, Fine-tuned 97%"


def test_a_recommendation_the_runs_contradict_says_so() -> None:
    evidence = Evidence(evaluation=EvaluationSets(1, RUNS))
    disagree = {w.id: w.text for w in warnings_for(evidence, Answers(), "fine_tune")}
    assert "runs_disagree" in disagree
    assert "Base + RAG scored 85% (correct) against 55% for Fine-tuned" in disagree["runs_disagree"]
    assert "runs_disagree" not in {w.id for w in warnings_for(evidence, Answers(), "rag")}
    close = replace(evidence, evaluation=EvaluationSets(1, (RUNS[0], replace(RUNS[1], value=0.83))))
    assert "runs_disagree" not in {w.id for w in warnings_for(close, Answers(), "fine_tune")}
    # The recommendation carries the warning the tab shows.
    ids = {w.id for w in recommend(evidence, Answers()).warnings}
    assert "no_evaluation_set" not in ids and "evaluation_not_run" not in ids
