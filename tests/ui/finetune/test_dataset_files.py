"""Files in and out of the dataset builder (``DatasetFiles``), driven through its real
widgets: the export is the command's, the sample stays reachable, an import asks where
it goes and leaves one example selected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.finetune.examples import Message, PreferenceExample, TrainingExample
from desktop.finetune.store import DatasetStore
from desktop.workers import TaskManager
from tests.test_cli import ragtune
from tests.ui.finetune.test_dataset_builder import SAMPLE, make_builder, qa, seed, settle
from tests.ui.finetune.test_dataset_builder import stored as stored_examples

KINDS = (("chat", "openai"), ("preference", "dpo"), ("messages", "messages"))


def mixed_examples() -> list[TrainingExample | PreferenceExample]:
    """Chat examples and preference pairs, some held out, one reply not trained on."""
    chats: list[TrainingExample | PreferenceExample] = [
        TrainingExample(qa(i).messages, split="validation" if i % 4 == 0 else "train")
        for i in range(1, 9)
    ]
    chats.append(
        TrainingExample(
            (
                Message("user", "Hi"),
                Message("assistant", "Hello", weight=0),
                Message("user", "Bye"),
                Message("assistant", "Goodbye"),
            )
        )
    )
    pairs = [
        PreferenceExample(
            input=(Message("user", f"Summarise report {i}."),),
            preferred_output=(Message("assistant", f"Report {i}: revenue grew."),),
            non_preferred_output=(Message("assistant", "I cannot."),),
            split="validation" if i == 2 else "train",
        )
        for i in range(1, 4)
    ]
    return chats + pairs


def test_the_window_and_the_command_export_the_same_files(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, tmp_path: Path
) -> None:
    seed(app_context, "Mixed bag", mixed_examples())
    builder = make_builder(qtbot, app_context, tasks, [])
    window, command = tmp_path / "window", tmp_path / "command"
    window.mkdir()
    suggested: list[str] = []

    def choose(title: str, name: str) -> Path:
        suggested.append(name)
        return window / name  # the user keeps the suggested name

    builder.choose_save_path = choose
    for kind, format_name in KINDS:
        builder.files.last_export = None
        assert builder.files.export(kind) is not None
        qtbot.waitUntil(lambda: builder.files.last_export is not None, timeout=10_000)
        result = ragtune(
            "--data-dir",
            str(tmp_path / "data"),  # the --data-dir of the app_context fixture
            "dataset",
            "export",
            "Mixed bag",
            "--format",
            format_name,
            "--out",
            str(command),
        )
        assert result.returncode == 0, result.stderr
    assert suggested == [
        "mixed-bag-train.jsonl",
        "mixed-bag-dpo-train.jsonl",
        "mixed-bag-messages-train.jsonl",
    ]
    names = sorted(p.name for p in window.iterdir())
    assert names == sorted(p.name for p in command.iterdir())
    assert names == [
        "mixed-bag-dpo-train.jsonl",
        "mixed-bag-dpo-validation.jsonl",
        "mixed-bag-messages-train.jsonl",
        "mixed-bag-messages-validation.jsonl",
        "mixed-bag-train.jsonl",
        "mixed-bag-validation.jsonl",
    ]
    for name in names:
        assert (window / name).read_bytes() == (command / name).read_bytes(), name
    # Each kind holds its own examples, split: 7 + 2 chat, 2 + 1 preference pairs.
    lines = {name: (window / name).read_text().splitlines() for name in names}
    assert [len(lines[n]) for n in names] == [2, 1, 7, 2, 7, 2]
    assert all("preferred_output" in line for line in lines["mixed-bag-dpo-train.jsonl"])
    plain = json.loads(lines["mixed-bag-messages-train.jsonl"][-1])
    assert [m.get("train") for m in plain["messages"]] == [None, False, None, None]


def test_the_sample_dataset_stays_reachable_once_a_dataset_exists(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager
) -> None:
    seed(app_context, "Mine", [qa(1)])
    builder = make_builder(qtbot, app_context, tasks, [])
    assert builder.examples_stack.currentWidget() is builder.table  # no empty state
    assert builder.load_sample_action in builder.import_menu.actions()
    builder.load_sample_action.trigger()
    qtbot.waitUntil(lambda: builder.model.rowCount() == 60, timeout=10_000)
    settle(qtbot, builder)
    assert [d.name for d in builder.datasets] == ["Mine", "Support replies (sample)"]
    builder.load_sample_action.trigger()  # again: a dataset of its own, not a merge
    qtbot.waitUntil(lambda: len(builder.datasets) == 3, timeout=10_000)
    settle(qtbot, builder)
    assert builder.dataset is not None
    assert builder.dataset.name == "Support replies (sample) (2)"
    assert builder.dataset.example_count == 60


@pytest.mark.parametrize(
    ("answer", "names", "mine"),
    [
        ("new", ["Mine", "support-replies"], 1),
        ("this", ["Mine"], 61),
        (None, ["Mine"], 1),
    ],
)
def test_an_import_asks_whether_it_goes_into_a_new_dataset_or_this_one(
    qtbot: QtBot,
    app_context: AppContext,
    tasks: TaskManager,
    answer: str | None,
    names: list[str],
    mine: int,
) -> None:
    mine_id = seed(app_context, "Mine", [qa(1)])
    builder = make_builder(qtbot, app_context, tasks, [])
    asked: list[tuple[str, str]] = []
    builder.choose_import_target = lambda files, dataset: asked.append((files, dataset)) or answer
    builder.choose_open_paths = lambda kind: [SAMPLE]
    workers = builder.files.import_file("chat")
    assert asked == [("support-replies.jsonl", "Mine")]
    if answer is not None:
        assert workers
        qtbot.waitUntil(lambda: len(builder.datasets) == len(names), timeout=10_000)
        qtbot.waitUntil(lambda: builder.model.rowCount() in (60, 61), timeout=10_000)
    else:
        assert workers == [] and builder.message_label.text() == "Nothing imported."
    settle(qtbot, builder)
    assert [d.name for d in DatasetStore(app_context.workspace).datasets()] == names
    assert len(stored_examples(app_context, mine_id)) == mine


def test_after_an_import_one_example_is_selected_not_all(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager
) -> None:
    builder = make_builder(qtbot, app_context, tasks, [])
    builder.sample_button.click()
    qtbot.waitUntil(lambda: builder.model.rowCount() == 60, timeout=10_000)
    settle(qtbot, builder)
    first = builder.model.example(0)
    assert builder.selected_ids() == [first.id]  # it used to be all 60
    assert builder.editor.example_id == first.id
    builder.table.setFocus()
    qtbot.keyClick(builder.table, Qt.Key.Key_Delete)  # deletes that one, not the import
    settle(qtbot, builder)
    assert builder.model.rowCount() == 59
