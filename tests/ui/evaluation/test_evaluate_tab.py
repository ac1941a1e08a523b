"""The Evaluate tab over a real workspace and the fake server: sets edited with undo,
imports with a report, runs started from one dialog and followed live without blocking
the window, compare with its chart and the "changed" filter, the sweep, and the hooks
from the Chat tab and the dataset builder."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.app import build_main_window
from desktop.context import AppContext
from desktop.evaluation.records import EvalQuestion, ExpectedSource
from desktop.finetune.edits import AddExamples
from desktop.finetune.examples import Message, TrainingExample
from desktop.retrieval.service import RetrievalService
from desktop.ui.evaluation.dialogs import RunDialog, RunRequest
from desktop.ui.evaluation.evaluate_tab import EvaluateTab
from desktop.warmup import warm_up
from desktop.workers import TaskError, TaskManager
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.responsiveness import Heartbeat

Errors = list[tuple[str, TaskError]]
QUESTIONS = [
    EvalQuestion(
        "How long until my money is back?",
        "within 14 days",
        (ExpectedSource("refunds.md", "within 14 days"),),
    ),
    EvalQuestion(
        "Which TCP port does the Hub listen on?",
        "47120",
        (ExpectedSource("ports.md", "TCP port 47120"),),
    ),
    EvalQuestion("What does LFS-4012 mean?", "the shelf quota is exhausted"),
]


def request(*modes: str, **changes: object) -> RunRequest:
    base = RunRequest(
        modes=modes,
        model="gpt-4.1-mini",
        fine_tuned_model="",
        judge_model="",
        judge_prompt="",
        system_prompt="",
        search_mode="hybrid",
        k=2,
        limit=None,
        concurrency=8,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def errors() -> Errors:
    return []


@pytest.fixture
def open_tab(
    qtbot: QtBot,
    chat_context: AppContext,
    retrieval: RetrievalService,
    tasks: TaskManager,
    errors: Errors,
) -> Callable[[], EvaluateTab]:
    def make() -> EvaluateTab:
        warm_up(chat_context)
        tab = EvaluateTab(chat_context, tasks, lambda t, e: errors.append((t, e)))
        qtbot.addWidget(tab)
        tab.resize(1024, 640)
        tab.show()
        settle(qtbot, tab)
        return tab

    return make


def settle(qtbot: QtBot, tab: EvaluateTab) -> None:
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)


@pytest.fixture
def with_set(chat_context: AppContext) -> int:
    service = chat_context.evaluation()
    made = service.create_set("Support")
    service.store.add_questions(made.id, QUESTIONS)
    return made.id


def test_an_empty_workspace_says_what_to_do(open_tab: Callable[[], EvaluateTab]) -> None:
    tab = open_tab()
    q = tab.questions
    assert q.stack.currentWidget() is q.no_sets
    assert "Import" in q.no_sets_import.text()
    assert not q.new_question_action.isEnabled()
    assert tab.runs_view.stack.currentWidget() is tab.runs_view.empty
    assert tab.compare.stack.currentWidget() is tab.compare.empty
    assert tab.sweep.stack.currentWidget() is tab.sweep.empty


def test_sets_and_questions_are_edited_with_undo_and_redo(
    qtbot: QtBot, open_tab: Callable[[], EvaluateTab], chat_context: AppContext, errors: Errors
) -> None:
    tab = open_tab()
    tab.ask_text = lambda *_: "Support"
    tab.new_set()
    settle(qtbot, tab)
    assert tab.eval_set is not None and tab.eval_set.name == "Support"
    assert tab.questions.stack.currentWidget() is tab.questions.no_questions
    tab.new_question()
    settle(qtbot, tab)
    editor = tab.questions.editor
    assert editor.question.toPlainText() == "New question"
    editor.question.setPlainText("Which port does the Hub use?")
    editor.answer.setPlainText("47120")
    editor.sources.setPlainText("ports.md | TCP port 47120")
    editor.tags.setText("network, ports")
    editor.question.setFocus()
    qtbot.keyClick(editor.question, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, tab)
    stored = chat_context.evaluation().questions("Support")
    assert [(q.question, q.answer, q.tags) for q in stored] == [
        ("Which port does the Hub use?", "47120", ("network", "ports"))
    ]
    assert stored[0].sources == (ExpectedSource("ports.md", "TCP port 47120"),)
    assert tab.questions.model.rowCount() == 1
    tab.undo_stack.undo()
    settle(qtbot, tab)
    assert chat_context.evaluation().questions("Support")[0].question == "New question"
    tab.undo_stack.redo()
    settle(qtbot, tab)
    assert editor.question.toPlainText() == "Which port does the Hub use?"
    tab.questions.select_question(stored[0].id or 0)
    tab.delete_questions()
    settle(qtbot, tab)
    assert chat_context.evaluation().questions("Support") == []
    tab.undo_stack.undo()
    settle(qtbot, tab)
    assert len(chat_context.evaluation().questions("Support")) == 1
    assert not errors


def test_an_import_reports_bad_lines_and_flags_leaked_questions(
    qtbot: QtBot, open_tab: Callable[[], EvaluateTab], chat_context: AppContext, tmp_path: Path
) -> None:
    finetune = chat_context.finetune()
    dataset = finetune.create_dataset("Replies")
    finetune.apply(
        AddExamples(
            dataset.id,
            [
                TrainingExample(
                    (Message("user", QUESTIONS[1].question), Message("assistant", "47120"))
                )
            ],
        )
    )
    finetune.close()
    path = tmp_path / "questions.jsonl"
    lines = [json.dumps(q.to_json()) for q in QUESTIONS] + ["{oops"]
    path.write_text("\n".join(lines), encoding="utf-8")
    tab = open_tab()
    tab.import_file(path)
    settle(qtbot, tab)
    assert tab.eval_set is not None and tab.eval_set.name == "questions"
    assert tab.questions.model.rowCount() == 3
    assert "1 line(s) could not be read" in tab.questions.message.text()
    report = tab.report_dialog
    assert report.rows() == [
        (
            "4",
            "eval import",
            "not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        )
    ]
    report.close()
    model = tab.questions.model
    checks = [model.index(r, model.CHECKS).data() for r in range(model.rowCount())]
    assert checks == ["", "in training data", ""]
    tip = model.index(1, model.CHECKS).data(Qt.ItemDataRole.ToolTipRole)
    assert "“Replies” example 1" in tip
    assert "1 question(s) are also training questions" in tab.questions.leaks_label.text()


def test_runs_in_every_mode_start_from_one_dialog_and_show_live(
    qtbot: QtBot,
    open_tab: Callable[[], EvaluateTab],
    with_set: int,
    fake_openai: FakeOpenAI,
    chat_context: AppContext,
) -> None:
    tab = open_tab()
    seen: list[RunDialog] = []

    def answer(dialog: RunDialog) -> RunRequest:
        seen.append(dialog)
        dialog.choose_all_four()
        assert dialog.problem_text() == "The fine-tuned modes need a fine-tuned model."
        dialog.fine_tuned.setCurrentText("ft:gpt-4.1-mini:org::abc")
        fake_openai.models.append("ft:gpt-4.1-mini:org::abc")
        qtbot.waitUntil(
            lambda: "Estimate: 4 run(s), 12 questions" in dialog.estimate_label.text(),
            timeout=20_000,
        )
        return dialog.request()

    tab.ask_run = answer
    fake_openai.inject("/v1/chat/completions", delay=0.3, times=100)
    with Heartbeat() as heartbeat:
        workers = tab.open_run_dialog()
        assert len(workers) == 4
        qtbot.waitUntil(lambda: tab.runs_view.progress.isVisible(), timeout=20_000)
        settle(qtbot, tab)
    heartbeat.assert_kept_ticking()
    runs = chat_context.evaluation().runs("Support")
    assert sorted(r.mode for r in runs) == ["base", "ft", "ft-rag", "rag"]
    assert all(r.status == "complete" and r.answered == 3 for r in runs)
    assert tab.runs_view.runs.rowCount() == 4
    assert tab.pages.currentWidget() is tab.runs_view
    rag = next(r for r in runs if r.mode == "rag")
    results = tab.runs_view.results
    tab.runs_view.select_run(rag.id)
    qtbot.waitUntil(lambda: results.run is not None and results.run.id == rag.id, timeout=10_000)
    assert results.rowCount() == 3
    tab.runs_view.results_table.selectRow(0)
    detail = tab.runs_view.detail.toPlainText()
    assert "Reference: within 14 days" in detail and "Retrieved:" in detail
    # Compare: the latest run per mode is ticked, with a bar per run.
    compare = tab.compare
    assert compare.stack.currentIndex() == 1
    qtbot.waitUntil(lambda: compare.comparison is not None, timeout=10_000)
    assert len(compare.comparison.runs) == 4
    assert compare.chart.values == []  # drawn when the page is shown, not before
    tab.pages.setCurrentWidget(compare)
    assert len(compare.chart.values) == 4
    assert compare.metrics.rowCount() == len(compare.comparison.keys)
    compare.only_changed.setChecked(True)
    assert compare.filter.rowCount() == len(compare.comparison.changed())
    tab.pages.setCurrentWidget(tab.history)
    assert tab.history.stack.currentIndex() == 1
    assert set(tab.history.chart.lines) == {"base", "rag", "ft", "ft-rag"}  # a line per mode


def test_stop_keeps_what_was_answered_and_resume_finishes(
    qtbot: QtBot,
    open_tab: Callable[[], EvaluateTab],
    with_set: int,
    fake_openai: FakeOpenAI,
    chat_context: AppContext,
) -> None:
    tab = open_tab()
    fake_openai.inject("/v1/chat/completions", delay=0.5, times=100)
    (_worker,) = tab.start_runs(request("base", concurrency=1))
    qtbot.waitUntil(lambda: tab.runs_view.stop_action.isEnabled(), timeout=10_000)
    qtbot.waitUntil(
        lambda: len(fake_openai.requests_to("/v1/chat/completions")) >= 1, timeout=10_000
    )
    tab.stop_runs()
    settle(qtbot, tab)
    (run,) = chat_context.evaluation().runs("Support")
    assert run.status == "stopped" and 1 <= run.answered < 3
    tab.runs_view.select_run(run.id)
    assert "stopped (resumable)" in tab.runs_view.runs.index(0, 4).data()
    assert tab.runs_view.resume_action.isEnabled()
    tab.resume_selected()
    settle(qtbot, tab)
    finished = chat_context.evaluation().run(run.id)
    assert finished.status == "complete" and finished.answered == 3


def test_the_sweep_shows_a_table_and_a_chart_and_applies_a_row(
    qtbot: QtBot, open_tab: Callable[[], EvaluateTab], with_set: int, chat_context: AppContext
) -> None:
    tab = open_tab()
    sweep = tab.sweep
    for name, box in sweep.strategy_boxes.items():
        box.setChecked(name == "fixed_words")
    sweep.sizes.setText("16, 64")
    for name, box in sweep.embedder_boxes.items():
        box.setChecked(name == "minilm-l6-v2-static256")
    sweep.ks.setText("1, 3")
    assert sweep.count_label.text().startswith("8 configurations: 2 chunkings, 2 embeddings")
    sweep.sizes.setText("16, x")
    assert not sweep.run_button.isEnabled() and "whole numbers" in sweep.problem.text()
    sweep.sizes.setText("16, 64")
    with qtbot.waitSignal(tab.sweep_finished, timeout=60_000):
        sweep.run_button.click()
    assert sweep.model.rowCount() == 8
    assert sweep.stack.currentIndex() == 1
    assert sweep.chart.values
    tab.confirm = lambda *_: True
    small = next(
        r for r in range(sweep.proxy.rowCount()) if sweep.proxy.index(r, 1).data() == "16 words"
    )
    sweep.table.selectRow(small)
    assert sweep.apply_button.isEnabled()
    row = sweep.selected_row()
    assert (row.strategy, row.size) == ("fixed_words", 16)
    sweep.apply_button.click()
    qtbot.waitUntil(lambda: "Re-chunked the library" in sweep.summary.text(), timeout=20_000)
    assert chat_context.library().chunking().strategy.name == row.strategy
    assert chat_context.settings.search_k == row.k


def test_every_action_is_reachable_from_the_keyboard(
    qtbot: QtBot, open_tab: Callable[[], EvaluateTab], with_set: int
) -> None:
    tab = open_tab()
    q = tab.questions
    for action in (
        q.new_question_action,
        q.import_action,
        q.draft_action,
        q.export_action,
        q.undo_action,
        q.redo_action,
        q.delete_action,
        tab.runs_view.run_action,
    ):
        assert action.shortcut().toString(), action.text()
        assert (
            action.shortcut().toString(action.shortcut().SequenceFormat.NativeText)
            in action.toolTip()
        )
    # Tab leaves the editor's text boxes instead of typing a tab into them.
    for box in (q.editor.question, q.editor.answer, q.editor.sources):
        assert box.tabChangesFocus()
    q.table.setFocus()
    qtbot.keyClick(q.table, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not q.table
    assert tab.minimumSizeHint().width() <= 1024 and tab.minimumSizeHint().height() <= 600


def test_a_chat_answer_and_a_held_out_split_arrive_through_the_window(
    qtbot: QtBot,
    chat_context: AppContext,
    retrieval: RetrievalService,
    tasks: TaskManager,
    fake_openai: FakeOpenAI,
) -> None:
    warm_up(chat_context)
    window = build_main_window(chat_context, tasks)
    qtbot.addWidget(window)
    window.resize(1024, 640)
    window.show()
    window.select_tab("Chat")
    chat = window.chat_tab
    fake_openai.chat_reply = "Refunds arrive within 14 days [1]."
    chat.input.setPlainText("When do I get my money back?")
    chat.ask()
    qtbot.waitUntil(lambda: chat.active is None, timeout=20_000)
    card = chat.view.cards[-1]
    assert card.save_eval_button.isEnabled()
    card.save_eval_button.click()
    qtbot.waitUntil(
        lambda: window.tabs.tabText(window.tabs.currentIndex()) == "Evaluate", timeout=5000
    )
    tab: EvaluateTab = window.tab("Evaluate")  # type: ignore[assignment]
    settle(qtbot, tab)
    (saved,) = chat_context.evaluation().questions("Saved from chat")
    assert saved.question == "When do I get my money back?"
    assert saved.answer == "Refunds arrive within 14 days [1]."
    assert saved.sources and saved.sources[0].document == "Refunds"
    assert tab.questions.editor.question.toPlainText() == saved.question

    finetune = chat_context.finetune()
    dataset = finetune.create_dataset("Held")
    finetune.apply(
        AddExamples(
            dataset.id,
            [
                TrainingExample((Message("user", "a?"), Message("assistant", "b"))),
                TrainingExample(
                    (Message("user", "Which port?"), Message("assistant", "47120")),
                    split="validation",
                ),
            ],
        )
    )
    finetune.close()
    window.select_tab("Fine-tuning")
    builder = window.finetune_tab.builder
    qtbot.waitUntil(lambda: not builder.busy, timeout=10_000)
    builder.select_dataset(dataset.id)
    qtbot.waitUntil(
        lambda: builder.dataset is not None and builder.dataset.id == dataset.id, timeout=10_000
    )
    qtbot.waitUntil(lambda: builder.hold_out_action.isEnabled(), timeout=10_000)
    builder.hold_out_action.trigger()
    qtbot.waitUntil(
        lambda: window.tabs.tabText(window.tabs.currentIndex()) == "Evaluate", timeout=5000
    )
    qtbot.waitUntil(
        lambda: tab.eval_set is not None and tab.eval_set.name == "Held (held out)", timeout=10_000
    )
    assert [q.question for q in chat_context.evaluation().questions("Held (held out)")] == [
        "Which port?"
    ]


def test_drafted_questions_are_reviewed_before_they_are_kept(
    qtbot: QtBot,
    open_tab: Callable[[], EvaluateTab],
    with_set: int,
    fake_openai: FakeOpenAI,
    chat_context: AppContext,
) -> None:
    fake_openai.chat_reply = json.dumps(
        {"examples": [{"question": "What is described here?", "answer": "A policy."}]}
    )
    tab = open_tab()
    dialog = tab.open_draft_dialog()
    assert dialog is not None
    dialog.count.setValue(3)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)
    assert dialog.list.count() == 3
    dialog.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    dialog.accept()
    settle(qtbot, tab)
    questions = chat_context.evaluation().questions("Support")
    assert len(questions) == len(QUESTIONS) + 2
    kept = questions[-2:]
    assert all(q.tags == ("drafted",) and q.sources for q in kept)
    assert "“A policy.”" not in kept[0].sources[0].describe()  # the chunk, not the answer
    tab.undo_stack.undo()
    settle(qtbot, tab)
    assert len(chat_context.evaluation().questions("Support")) == len(QUESTIONS)


def test_the_summary_tooltip_defines_every_figure(
    qtbot: QtBot, open_tab: Callable[[], EvaluateTab], with_set: int, chat_context: AppContext
) -> None:
    service = chat_context.evaluation()
    run = service.start_run("Support", service.config("retrieval"))
    from desktop.progress import drive

    drive(service.run_questions(run.id), stops_itself=True)
    tab = open_tab()
    tab.pages.setCurrentWidget(tab.runs_view)
    tab.runs_view.select_run(run.id)
    tip = tab.runs_view.summary.toolTip()
    assert "mrr: Mean reciprocal rank" in tip and "hit@5:" in tip
    header = tab.runs_view.runs.index(0, tab.runs_view.runs.HEADLINE)
    assert "covering an expected source in the top 5" in header.data(Qt.ItemDataRole.ToolTipRole)
