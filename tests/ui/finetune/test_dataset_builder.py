"""The Fine-tuning tab's dataset builder, driven through its real widgets: every check is
on what the store holds afterwards, or on what the user sees."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.chat.prompt import (
    GROUNDED_SYSTEM_PROMPT,
    PLAIN_SYSTEM_PROMPT,
    format_source,
    sources_message,
)
from desktop.context import AppContext
from desktop.finetune.edits import RenameDataset
from desktop.finetune.examples import Message, TrainingExample
from desktop.finetune.jsonl import read_chat_jsonl
from desktop.finetune.saved_answers import SAVED_ANSWERS
from desktop.finetune.split import split_by_fraction
from desktop.finetune.store import DatasetStore
from desktop.resources import resource
from desktop.retrieval.search import RetrievedChunk
from desktop.ui.finetune.dataset_builder import DatasetBuilder
from desktop.ui.finetune.dataset_files import SAMPLE_NAME
from desktop.ui.finetune.examples_model import ExampleTableModel
from desktop.ui.finetune.finetune_tab import FineTuningTab
from desktop.workers import TaskError, TaskManager
from tests.chat.test_prompt import chunk
from tests.helpers.fake_openai import FakeOpenAI

SAMPLE = resource("datasets", "support-replies.jsonl")


def qa(number: int, system: str | None = "Answer briefly.") -> TrainingExample:
    messages = [Message("user", f"Question {number}?"), Message("assistant", f"Answer {number}.")]
    if system is not None:
        messages.insert(0, Message("system", system))
    return TrainingExample(tuple(messages))


def seed(context: AppContext, name: str, examples: list[TrainingExample]) -> int:
    store = DatasetStore(context.workspace)
    dataset = store.create_dataset(name)
    store.add_examples(dataset.id, examples)
    return dataset.id


def stored(context: AppContext, dataset_id: int) -> list[Any]:
    return DatasetStore(context.workspace).examples(dataset_id)


def settle(qtbot: QtBot, builder: DatasetBuilder, timeout: int = 10_000) -> None:
    """Wait until every store change, re-read and analysis has been shown."""
    qtbot.waitUntil(lambda: not builder.busy, timeout=timeout)


@pytest.fixture
def errors() -> list[tuple[str, TaskError]]:
    return []


def make_builder(
    qtbot: QtBot, context: AppContext, tasks: TaskManager, errors: list[tuple[str, TaskError]]
) -> DatasetBuilder:
    builder = DatasetBuilder(context.finetune(), tasks, lambda title, e: errors.append((title, e)))
    qtbot.addWidget(builder)
    builder.resize(1400, 860)
    builder.show()
    builder.confirm = lambda title, text: True
    builder.analysis_timer.setInterval(0)  # the debounce is for typing users, not tests
    settle(qtbot, builder)
    return builder


@pytest.fixture
def sample_id(app_context: AppContext) -> int:
    return seed(app_context, "Support", read_chat_jsonl(SAMPLE).examples)


@pytest.fixture
def builder(
    qtbot: QtBot,
    app_context: AppContext,
    tasks: TaskManager,
    errors: list[tuple[str, TaskError]],
    sample_id: int,
) -> Iterator[DatasetBuilder]:
    widget = make_builder(qtbot, app_context, tasks, errors)
    assert widget.model.rowCount() == 60
    yield widget
    assert errors == []


def test_the_sample_dataset_shows_its_three_planted_defects(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, errors: list
) -> None:
    builder = make_builder(qtbot, app_context, tasks, errors)
    assert builder.examples_stack.currentWidget() is builder.no_datasets
    assert builder.sample_button.text() == "Load the sample dataset"
    builder.sample_button.click()
    qtbot.waitUntil(lambda: builder.model.rowCount() == 60, timeout=10_000)
    settle(qtbot, builder)
    assert builder.dataset is not None and builder.dataset.name == SAMPLE_NAME
    model = builder.model
    status = {row + 1: model.data(model.index(row, ExampleTableModel.STATUS)) for row in range(60)}
    assert status[17] == "error"  # no assistant message
    assert status[38] == "error"  # role "bot"
    assert status[52] == "warning"  # duplicate of line 9
    assert [line for line, s in status.items() if s != "valid"] == [17, 38, 52]
    tip = model.data(model.index(37, ExampleTableModel.STATUS), Qt.ItemDataRole.ToolTipRole)
    assert "'bot'" in tip
    tip = model.data(model.index(51, ExampleTableModel.STATUS), Qt.ItemDataRole.ToolTipRole)
    assert "the same example as example 9" in tip

    # The filters narrow the table: by text (all words), and by status.
    builder.search.setText("hallo")
    qtbot.waitUntil(lambda: builder.proxy.rowCount() == 1, timeout=2000)
    assert builder.proxy.index(0, ExampleTableModel.QUESTION).data().startswith("Hallo")
    builder.search.clear()
    qtbot.waitUntil(lambda: builder.proxy.rowCount() == 60, timeout=2000)
    builder.show_problems()
    shown = [builder.proxy.index(r, 0).data() for r in range(builder.proxy.rowCount())]
    assert shown == ["17", "38", "52"]

    stats = builder.stats
    assert "60 examples" in stats.count_label.text()
    assert "in the range where gains usually show" in stats.size_label.text()
    assert "2 examples have errors" in stats.problems_label.text()
    assert stats.billed_label.text() == "3 × 23,628 = 70,884 tokens"
    assert "$0.35" in stats.cost_label.text()  # gpt-4.1-mini at $5 per million
    stats.epochs.setValue(2)
    qtbot.waitUntil(lambda: "2 × 23,628" in stats.billed_label.text(), timeout=5000)
    assert errors == []


def test_editing_an_example_then_undo_and_redo(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, sample_id: int
) -> None:
    original = stored(app_context, sample_id)[2]
    builder.select_examples([original.id])
    editor = builder.editor
    assert editor.example_id == original.id
    user = next(card for card in editor.cards if card.role.currentText() == "user")
    user.content.setFocus()
    user.content.moveCursor(user.content.textCursor().MoveOperation.End)
    qtbot.keyClicks(user.content, " Thanks!")
    assert editor.dirty  # saved after a pause in typing
    settle(qtbot, builder)
    edited = stored(app_context, sample_id)[2]
    assert edited.question == original.question + " Thanks!"
    assert edited.messages[0] == original.messages[0]  # the rest untouched, exactly

    # Role and weight changes are saved at once and checked live.
    assistant = next(card for card in editor.cards if card.role.currentText() == "assistant")
    assistant.weight.setCurrentIndex(assistant.weight.findData(0))
    settle(qtbot, builder)
    assert stored(app_context, sample_id)[2].messages[-1].weight == 0

    # Ctrl+Z in the table undoes the weight, then the typing; Ctrl+Shift+Z redoes.
    builder.table.setFocus()
    qtbot.keyClick(builder.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, builder)
    assert stored(app_context, sample_id)[2] == edited
    qtbot.keyClick(builder.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, builder)
    assert stored(app_context, sample_id)[2] == original
    assert editor.cards[1].content.toPlainText() == original.question  # the editor follows
    shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(builder.table, Qt.Key.Key_Z, shift)
    settle(qtbot, builder)
    assert stored(app_context, sample_id)[2] == edited
    assert editor.cards[1].content.toPlainText() == edited.question

    # Ctrl+Z typed in a text field goes to the same history.
    qtbot.keyClick(editor.cards[1].content, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, builder)
    assert stored(app_context, sample_id)[2] == original


def test_turns_are_added_moved_and_removed_with_live_validation(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, sample_id: int
) -> None:
    first = stored(app_context, sample_id)[0]
    builder.select_examples([first.id])
    editor = builder.editor
    card = editor.add_turn()  # after the assistant: a user turn, empty
    assert card is not None and card.role.currentText() == "user"
    assert "content is empty" in editor.issue_label.text()  # checked at once
    status = builder.model.data(builder.model.index(0, ExampleTableModel.STATUS))
    assert status == "error"
    qtbot.keyClicks(card.content, "And how long does it take?")
    assert "No format problems" in editor.issue_label.text()
    editor.move_turn(card, -1)
    settle(qtbot, builder)
    roles = [m.role for m in stored(app_context, sample_id)[0].messages]
    assert roles == ["system", "user", "user", "assistant"]
    editor.remove_turn(editor.cards[2])
    settle(qtbot, builder)
    assert stored(app_context, sample_id)[0] == first


def test_a_new_example_starts_with_the_datasets_system_prompt_and_is_checked_as_typed(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, sample_id: int
) -> None:
    system = stored(app_context, sample_id)[0].system_prompt
    builder.table.setFocus()
    qtbot.keyClick(builder.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, builder)
    editor = builder.editor
    new = stored(app_context, sample_id)[-1]
    assert editor.example_id == new.id and builder.selected_ids() == [new.id]
    assert [m.role for m in new.messages] == ["system", "user", "assistant"]
    assert new.system_prompt == system
    assert editor.cards[1].content.hasFocus()  # ready to type the question
    assert "error" in editor.issue_label.text()
    qtbot.keyClicks(editor.cards[1].content, "Can I pause syncing?")
    qtbot.keyClicks(editor.cards[2].content, "Yes, from the Agent's menu.")
    assert "No format problems" in editor.issue_label.text()
    qtbot.keyClicks(editor.tags, "pausing")
    settle(qtbot, builder)
    new = stored(app_context, sample_id)[-1]
    assert (new.question, new.answer, new.tags) == (
        "Can I pause syncing?",
        "Yes, from the Agent's menu.",
        ("pausing",),
    )
    status = builder.model.data(builder.model.index(60, ExampleTableModel.STATUS))
    assert status == "valid"


def test_bulk_setting_the_system_prompt_of_a_selection_and_undoing_it(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, sample_id: int
) -> None:
    before = stored(app_context, sample_id)
    chosen = [before[i].id for i in (1, 4, 16)]
    builder.select_examples(chosen)
    assert builder.editor.pages.currentWidget() is builder.editor.placeholder
    asked: list[str] = []
    builder.ask_text = lambda title, label, text, multiline: asked.append(label) or "Be brief."
    assert builder.set_system_action.isEnabled()
    builder.set_system_action.trigger()
    settle(qtbot, builder)
    assert "3 selected" in asked[0]
    after = stored(app_context, sample_id)
    for old, new in zip(before, after, strict=True):
        if old.id in chosen:
            assert new.system_prompt == "Be brief."
            assert new.messages[1:] == old.messages[1:]
        else:
            assert new == old
    assert builder.undo_action.text() == "Undo Set the system prompt of 3 examples"
    builder.undo_action.trigger()
    settle(qtbot, builder)
    assert stored(app_context, sample_id) == before
    builder.redo_action.trigger()
    settle(qtbot, builder)
    assert stored(app_context, sample_id) == after


def test_other_bulk_actions_and_deleting_with_undo(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, sample_id: int
) -> None:
    before = stored(app_context, sample_id)
    chosen = [before[0].id, before[1].id]
    builder.select_examples(chosen)
    builder.ask_text = lambda *args: "billing"
    builder.add_tag_action.trigger()
    builder.to_validation_action.trigger()
    builder.duplicate_action.trigger()
    settle(qtbot, builder)
    after = stored(app_context, sample_id)
    assert len(after) == 62
    assert [e.tags for e in after[:4]] == [("billing",)] * 4
    assert [e.split for e in after[:4]] == ["validation"] * 4
    assert builder.selected_ids() == [after[1].id, after[3].id]  # the copies
    builder.tag_filter.setCurrentIndex(builder.tag_filter.findData("billing"))
    assert builder.proxy.rowCount() == 4
    builder.table.setFocus()
    qtbot.keyClick(builder.table, Qt.Key.Key_Delete)
    settle(qtbot, builder)
    assert len(stored(app_context, sample_id)) == 60
    for _ in range(4):
        builder.undo()
    settle(qtbot, builder)
    assert stored(app_context, sample_id) == before


def test_split_80_20_with_a_seed_gives_the_same_split_twice(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, sample_id: int
) -> None:
    builder.choose_split = lambda count: (0.2, 7)
    builder.split_action.trigger()
    settle(qtbot, builder)
    first = stored(app_context, sample_id)
    held_out = [e.id for e in first if e.split == "validation"]
    assert len(held_out) == 12
    expected = split_by_fraction(read_chat_jsonl(SAMPLE).examples, 0.2, seed=7)
    assert [e.split for e in first] == [e.split for e in expected]
    assert "48 training · 12 validation" in builder.stats.count_label.text()

    builder.undo()
    settle(qtbot, builder)
    assert all(e.split == "train" for e in stored(app_context, sample_id))
    builder.split_action.trigger()
    settle(qtbot, builder)
    assert [e.id for e in stored(app_context, sample_id) if e.split == "validation"] == held_out

    # By hand: an example moved is in exactly one split.
    builder.select_examples([held_out[0]])
    builder.to_train_action.trigger()
    settle(qtbot, builder)
    splits = {e.id: e.split for e in stored(app_context, sample_id)}
    assert splits[held_out[0]] == "train"
    assert sum(1 for s in splits.values() if s == "validation") == 11


def test_export_then_import_gives_the_same_examples_byte_for_byte(
    qtbot: QtBot,
    builder: DatasetBuilder,
    app_context: AppContext,
    sample_id: int,
    tmp_path: Path,
) -> None:
    target = tmp_path / "support-train.jsonl"
    builder.choose_save_path = lambda title, suggested: target
    builder.export_chat_action.trigger()
    qtbot.waitUntil(lambda: builder.files.last_export is not None, timeout=10_000)
    assert target.read_bytes() == SAMPLE.read_bytes()  # no split yet: one file, as read
    assert not (tmp_path / "support-validation.jsonl").exists()

    builder.choose_split = lambda count: (0.25, 3)
    builder.split_action.trigger()
    settle(qtbot, builder)
    builder.files.last_export = None
    builder.export_chat_action.trigger()
    qtbot.waitUntil(lambda: builder.files.last_export is not None, timeout=10_000)
    validation = tmp_path / "support-validation.jsonl"
    assert builder.files.last_export.validation_path == validation
    train_lines = target.read_bytes().splitlines(keepends=True)
    validation_lines = validation.read_bytes().splitlines(keepends=True)
    assert (len(train_lines), len(validation_lines)) == (45, 15)
    assert sorted(train_lines + validation_lines) == sorted(
        SAMPLE.read_bytes().splitlines(keepends=True)
    )

    # Import both files into a new dataset, export again: the same bytes.
    builder.ask_text = lambda *args: "Round trip"
    builder.new_dataset_action.trigger()
    qtbot.waitUntil(lambda: builder.dataset is not None and builder.dataset.name == "Round trip")
    builder.choose_open_paths = lambda kind: [target, validation]
    builder.files.import_file("chat")
    qtbot.waitUntil(lambda: builder.model.rowCount() == 60, timeout=10_000)
    settle(qtbot, builder)
    round_trip = stored(app_context, builder.dataset.id)
    original = stored(app_context, sample_id)
    assert sorted(json.dumps(e.to_openai()) for e in round_trip) == sorted(
        json.dumps(e.to_openai()) for e in original
    )
    assert [e.split for e in round_trip].count("validation") == 15
    again = tmp_path / "again-train.jsonl"
    builder.choose_save_path = lambda title, suggested: again
    builder.files.last_export = None
    builder.export_chat_action.trigger()
    qtbot.waitUntil(lambda: builder.files.last_export is not None, timeout=10_000)
    assert again.read_bytes() == target.read_bytes()
    assert (tmp_path / "again-validation.jsonl").read_bytes() == validation.read_bytes()


def test_importing_malformed_lines_reports_them_by_line_and_imports_the_rest(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, tmp_path: Path
) -> None:
    good = [json.dumps(qa(i).to_openai()) for i in range(1, 5)]
    lines = [
        good[0],
        '{"messages": [{"role": "user", "content": "cut off',
        good[1],
        "[1, 2, 3]",
        '{"prompt": "a legacy completion line", "completion": "no"}',
        "",
        good[2],
        good[3],
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    builder.ask_text = lambda *args: "Imported"
    builder.new_dataset()
    qtbot.waitUntil(lambda: builder.dataset is not None and builder.dataset.name == "Imported")
    builder.choose_open_paths = lambda kind: [path]
    builder.files.import_file("chat")
    qtbot.waitUntil(lambda: builder.model.rowCount() == 4, timeout=10_000)
    settle(qtbot, builder)
    assert [e.question for e in stored(app_context, builder.dataset.id)] == [
        f"Question {i}?" for i in range(1, 5)
    ]
    dialog = builder.files.report_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    rows = dialog.rows()
    assert [row[0] for row in rows] == ["2", "4", "5"]
    assert "not valid JSON" in rows[0][2]
    assert "not a JSON object" in rows[1][2]
    assert "messages" in rows[2][2]
    assert "3 lines could not be read" in builder.message_label.text()
    dialog.close()
    # The import is one undoable step.
    builder.undo()
    settle(qtbot, builder)
    assert stored(app_context, builder.dataset.id) == []


def test_drafting_from_documents_is_reviewed_and_cancel_keeps_what_was_accepted(
    qtbot: QtBot,
    chat_context: AppContext,
    fake_openai: FakeOpenAI,
    tasks: TaskManager,
    errors: list,
) -> None:
    dataset_id = seed(chat_context, "Drafted", [])

    def reply(body: dict[str, Any]) -> str:
        passage = re.search(r"<<<\n(.*)\n>>>", body["messages"][-1]["content"], re.DOTALL)
        assert passage is not None
        title = passage.group(1).splitlines()[0].strip("# ")
        pairs = [
            {"question": f"What does the {title} page say?", "answer": f"It covers {title}."},
            {"question": f"Is {title} documented?", "answer": "Yes."},
        ]
        return json.dumps({"examples": pairs})

    fake_openai.chat_reply = reply
    fake_openai.inject("/v1/chat/completions")  # the first chunk at once
    fake_openai.inject("/v1/chat/completions", delay=1.0, times=5)  # then slowly
    builder = make_builder(qtbot, chat_context, tasks, errors)
    assert builder.dataset_id == dataset_id
    dialog = builder.open_generate_dialog()
    assert dialog is not None and not dialog.isModal()
    qtbot.waitUntil(lambda: dialog.tree.topLevelItemCount() == 3, timeout=5000)
    dialog.check_all(True)
    worker = dialog.start()
    assert worker is not None
    qtbot.waitUntil(lambda: dialog.proposals.rowCount() >= 2, timeout=10_000)
    assert dialog.running
    first = dialog.proposals.proposals[0].example
    assert first.messages[-1].role == "assistant"
    dialog.table.selectRow(0)
    dialog.accept_button.click()
    dialog.reject_row(1)
    assert [p.state for p in dialog.proposals.proposals[:2]] == ["accepted", "rejected"]
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert "Cancelled" in dialog.status.text()
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 2  # the third never asked
    settle(qtbot, builder)
    kept = stored(chat_context, dataset_id)
    assert kept == [
        TrainingExample(first.messages, tags=first.tags, notes=first.notes, id=kept[0].id)
    ]
    assert builder.model.rowCount() == 1
    builder.undo()  # accepting is an undoable step too
    settle(qtbot, builder)
    assert stored(chat_context, dataset_id) == []
    dialog.close()
    assert errors == []


def refunds_source() -> RetrievedChunk:
    return chunk(1, "Money is returned within 14 days.", "refunds.md")


def test_a_chat_answer_becomes_an_editable_example_with_or_without_its_sources(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, errors: list
) -> None:
    """Stripped, nothing in the example may still point at sources (the grounded system
    prompt and the [1] used to stay); kept, the user turn is the chat prompt's layout."""
    tab = FineTuningTab(app_context, tasks, lambda title, e: errors.append((title, e)))
    qtbot.addWidget(tab)
    tab.resize(1400, 860)
    tab.show()
    builder = tab.builder
    builder.analysis_timer.setInterval(0)
    settle(qtbot, builder)
    question = "When do I get my money back?"
    with qtbot.waitSignal(tab.show_requested):
        tab.add_example_from_chat(
            question,
            "Within 14 days [1].",
            system_prompt=GROUNDED_SYSTEM_PROMPT,
            sources=[refunds_source()],
        )
    qtbot.waitUntil(lambda: builder.editor.example_id is not None, timeout=10_000)
    settle(qtbot, builder)
    assert builder.dataset is not None and builder.dataset.name == SAVED_ANSWERS
    example = stored(app_context, builder.dataset.id)[0]
    assert [m.role for m in example.messages] == ["system", "user", "assistant"]
    assert example.question == question  # sources stripped by default
    assert example.system_prompt == PLAIN_SYSTEM_PROMPT  # no "use only the numbered sources"
    assert example.answer == "Within 14 days."  # no [1] citing a source that is not there
    assert builder.model.data(builder.model.index(0, ExampleTableModel.STATUS)) == "valid"
    editor = builder.editor
    assert editor.origin_box.isVisible() and editor.keep_context.isEnabled()
    editor.keep_context.setChecked(True)
    settle(qtbot, builder)
    kept = stored(app_context, builder.dataset.id)[0]
    assert kept.question == sources_message(question, [format_source(1, refunds_source())])
    assert kept.question.startswith('Sources:\n<source id="1" document="refunds.md"')
    assert (kept.system_prompt, kept.answer) == (GROUNDED_SYSTEM_PROMPT, "Within 14 days [1].")
    answer = editor.cards[2].content
    answer.moveCursor(answer.textCursor().MoveOperation.End)
    qtbot.keyClicks(answer, " Refunds go to the original card [1].")
    editor.flush()
    settle(qtbot, builder)
    assert stored(app_context, builder.dataset.id)[0].answer.endswith("original card [1].")
    editor.keep_context.setChecked(False)  # the edited reply loses its markers too
    settle(qtbot, builder)
    stripped = stored(app_context, builder.dataset.id)[0]
    assert stripped.answer == "Within 14 days. Refunds go to the original card."
    assert (stripped.question, stripped.system_prompt) == (question, PLAIN_SYSTEM_PROMPT)
    assert errors == []


def test_a_reply_citing_sources_the_example_lacks_is_a_warning(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, errors: list
) -> None:
    cited = TrainingExample(
        (
            Message("system", "Answer briefly."),
            Message("user", "When do I get my money back?"),
            Message("assistant", "Within 14 days [1]."),
        )
    )
    seed(app_context, "Cited", [qa(1), cited])
    builder = make_builder(qtbot, app_context, tasks, errors)
    model = builder.model
    assert model.data(model.index(1, ExampleTableModel.STATUS)) == "warning"
    tip = model.data(model.index(1, ExampleTableModel.STATUS), Qt.ItemDataRole.ToolTipRole)
    assert "example 2: the reply cites [1], but the example has no such source" in tip
    assert model.data(model.index(0, ExampleTableModel.STATUS)) == "valid"


def test_datasets_are_created_renamed_and_deleted_with_undo(
    qtbot: QtBot, builder: DatasetBuilder, app_context: AppContext, sample_id: int
) -> None:
    builder.ask_text = lambda *args: "Billing"
    builder.new_dataset()
    settle(qtbot, builder)
    assert builder.dataset is not None and builder.dataset.name == "Billing"
    assert builder.examples_stack.currentWidget() is builder.no_examples
    builder.ask_text = lambda *args: "Support"
    assert builder.rename_dataset() is None  # taken: said, not done
    assert "exists already" in builder.message_label.text()
    builder.select_dataset(sample_id)
    settle(qtbot, builder)
    builder.delete_dataset()
    settle(qtbot, builder)
    store = DatasetStore(app_context.workspace)
    assert [d.name for d in store.datasets()] == ["Billing"]
    builder.undo()
    settle(qtbot, builder)
    assert builder.dataset_id == sample_id and builder.model.rowCount() == 60
    assert len(store.examples(sample_id)) == 60
    builder.ask_text = lambda *args: "Helpdesk"
    builder.rename_dataset_action.trigger()
    settle(qtbot, builder)
    assert store.dataset(sample_id).name == "Helpdesk"
    assert builder.dataset_combo.currentText() == "Helpdesk (60)"


def test_the_examples_model_passes_the_model_tester(qtmodeltester: Any) -> None:
    model = ExampleTableModel()
    model.set_examples([TrainingExample(qa(i).messages, id=i + 1) for i in range(5)])
    qtmodeltester.check(model)


def test_a_change_the_store_refuses_is_reported_and_leaves_nothing_to_undo(
    qtbot: QtBot, builder: DatasetBuilder, errors: list, app_context: AppContext, sample_id: int
) -> None:
    other = seed(app_context, "Other", [])
    builder.push(RenameDataset(other, "Support"))  # the name is taken
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    settle(qtbot, builder)
    assert "already exists" in errors[0][1].message
    assert not builder.undo_stack.canUndo()
    assert [d.name for d in DatasetStore(app_context.workspace).datasets()] == ["Other", "Support"]
    errors.clear()


def test_the_status_line_follows_every_change_in_plain_words(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, errors: list, tmp_path: Path
) -> None:
    """It used to keep "60 examples … 60 examples imported" after the dataset was deleted,
    and to say "1 examples"."""
    builder = make_builder(qtbot, app_context, tasks, errors)
    builder.sample_button.click()
    qtbot.waitUntil(lambda: builder.model.rowCount() == 60, timeout=10_000)
    settle(qtbot, builder)
    assert builder.summary_label.text().startswith("60 examples · ")
    assert builder.message_label.text() == "support-replies.jsonl: 60 examples imported."
    builder.delete_dataset()
    settle(qtbot, builder)
    assert builder.examples_stack.currentWidget() is builder.no_datasets
    assert builder.summary_label.text() == ""
    assert builder.message_label.text() == f"Delete dataset “{SAMPLE_NAME}”."
    builder.undo()
    settle(qtbot, builder)
    assert builder.summary_label.text().startswith("60 examples · ")
    assert builder.message_label.text() == f"Undone: Delete dataset “{SAMPLE_NAME}”."

    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(qa(1).to_openai()) + "\n")
    builder.choose_import_target = lambda files, dataset: "new"
    builder.choose_open_paths = lambda kind: [one]
    builder.files.import_file("chat")
    qtbot.waitUntil(lambda: builder.model.rowCount() == 1, timeout=10_000)
    settle(qtbot, builder)
    assert builder.message_label.text() == "one.jsonl: 1 example imported."
    assert builder.summary_label.text().startswith("1 example · ")
    builder.table.setFocus()
    qtbot.keyClick(builder.table, Qt.Key.Key_Delete)
    settle(qtbot, builder)
    assert builder.message_label.text() == "Delete example."
    assert builder.summary_label.text() == "0 examples"
    assert errors == []
