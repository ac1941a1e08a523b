"""The evaluation's tables: the migration from a version-9 workspace, sets and questions
with undoable edits, runs with one result per question, staleness."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from desktop.evaluation.edits import (
    AddQuestions,
    CreateSet,
    DeleteQuestions,
    DeleteSet,
    RenameSet,
    SetFormat,
    UpdateQuestions,
)
from desktop.evaluation.records import (
    EvalQuestion,
    ExpectedSource,
    FormatSpec,
    QuestionResult,
    RunConfig,
)
from desktop.evaluation.store import EvalSetError, EvalStore
from desktop.workspace import Workspace
from desktop.workspace.schema import LATEST_VERSION
from tests.helpers.old_workspace import old_workspace

QUESTIONS = [
    EvalQuestion(
        "How long do refunds take?",
        "14 days",
        (ExpectedSource("refund-policy.txt", "within 14 days", 10, 24),),
        alternatives=("fourteen days",),
        tags=("refunds",),
    ),
    EvalQuestion("Who won in 2030?", "not in the documents", answerable=False),
]


def test_a_version_9_workspace_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = old_workspace(
        tmp_path / "old.ragtune.sqlite",
        9,
        [
            "INSERT INTO meta(key, value) VALUES ('created_by', 'an older RAGTune')",
            "INSERT INTO datasets(name, created_at) VALUES ('kept', 1.0)",
        ],
    )
    with Workspace(path) as ws:
        assert ws.schema_version == LATEST_VERSION == 14
        assert ws.get_meta("created_by") == "an older RAGTune"
        tables = {row[0] for row in ws.connection().execute("SELECT name FROM sqlite_master")}
        assert {"eval_sets", "eval_questions", "eval_runs", "eval_results", "eval_sweeps"} <= tables
        assert ws.connection().execute("SELECT name FROM datasets").fetchone()[0] == "kept"
        store = EvalStore(ws)
        made = store.create_set("After the migration")
        store.add_questions(made.id, QUESTIONS)
        assert store.questions(made.id)[0].sources == QUESTIONS[0].sources


def test_sets_and_questions_round_trip(store: EvalStore) -> None:
    made = store.create_set("  Support   questions ")
    assert made.name == "Support questions"
    with pytest.raises(EvalSetError, match="exists already"):
        store.create_set("support QUESTIONS")
    ids = store.add_questions(made.id, QUESTIONS)
    loaded = store.questions(made.id)
    assert [q.id for q in loaded] == ids
    assert [q.position for q in loaded] == [0, 1]
    assert loaded[0].content_key() == QUESTIONS[0].content_key()
    assert loaded[0].tags == ("refunds",) and not loaded[1].answerable
    assert store.sets()[0].question_count == 2
    format = FormatSpec("json_schema", schema={"type": "object"})
    store.set_format(made.id, format)
    assert store.get_set(made.id).format == format


def test_edits_undo_and_redo(store: EvalStore) -> None:
    create = CreateSet("Set")
    create.run(store, True)
    assert create.set_id is not None
    set_id = create.set_id
    add = AddQuestions(set_id, QUESTIONS, text="Import")
    add.run(store, True)
    assert len(store.questions(set_id)) == 2
    edited = store.questions(set_id)
    update = UpdateQuestions(set_id, [replace(edited[0], answer="2 weeks")])
    update.run(store, True)
    assert store.questions(set_id)[0].answer == "2 weeks"
    update.run(store, False)
    assert store.questions(set_id)[0].answer == "14 days"
    delete = DeleteQuestions(set_id, [edited[1].id or 0])
    delete.run(store, True)
    assert [q.question for q in store.questions(set_id)] == ["How long do refunds take?"]
    delete.run(store, False)
    assert [q.id for q in store.questions(set_id)] == [q.id for q in edited]
    RenameSet(set_id, "Renamed").run(store, True)
    SetFormat(set_id, FormatSpec("json")).run(store, True)
    assert store.get_set(set_id).name == "Renamed" and store.get_set(set_id).format.kind == "json"
    gone = DeleteSet(set_id, "Renamed")
    gone.run(store, True)
    assert store.sets() == []
    gone.run(store, False)
    assert [q.id for q in store.questions(set_id)] == [q.id for q in edited]
    add.run(store, False)
    assert store.questions(set_id) == []
    add.run(store, True)
    assert len(store.questions(set_id)) == 2
    # Into a set made for it, and removed again by the undo.
    into_new = AddQuestions(None, QUESTIONS[:1], create_name="Saved from chat")
    into_new.run(store, True)
    assert store.set_by_name("Saved from chat") is not None
    into_new.run(store, False)
    assert store.set_by_name("Saved from chat") is None


def _result(question: EvalQuestion, status: str = "ok", answer: str = "x") -> QuestionResult:
    assert question.id is not None
    return QuestionResult(
        question.id, question.position, question.question, question.answer, True, status, answer
    )


def test_one_result_per_question_and_staleness(store: EvalStore) -> None:
    made = store.create_set("Set")
    store.add_questions(made.id, QUESTIONS)
    questions = store.questions(made.id)
    run_id = store.create_run(made.id, made.name, store.set_hash(made.id), RunConfig("base"), 2)
    assert store.save_result(run_id, _result(questions[0], "failed", ""))
    assert store.save_result(run_id, _result(questions[0], "ok", "first"))  # a retry wins
    assert not store.save_result(run_id, _result(questions[0], "ok", "second"))  # kept once
    assert [r.answer for r in store.results(run_id)] == ["first"]
    assert store.answered_ids(run_id) == {questions[0].id}
    run = store.run(run_id)
    assert run is not None and (run.answered, run.failed, run.stale) == (1, 0, False)
    assert run.resumable
    changed = replace(questions[1], answer="nobody")
    store.update_questions([changed])
    again = store.run(run_id)
    assert again is not None and again.stale and not again.resumable
    # The set deleted: its runs stay, marked stale, and come back with an undo.
    deleted = store.delete_set(made.id)
    orphan = store.run(run_id)
    assert orphan is not None and orphan.set_id is None and orphan.stale
    store.restore_set(deleted)
    restored = store.run(run_id)
    assert restored is not None and restored.set_id == made.id
