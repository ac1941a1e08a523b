"""Datasets in the workspace: every change undoes with one inverse call, and a change of
many rows is all or nothing."""

from __future__ import annotations

import sqlite3

import pytest

from desktop.finetune.examples import Message, PreferenceExample, TrainingExample
from desktop.finetune.jsonl import read_chat_jsonl
from desktop.finetune.store import DatasetError, DatasetStore
from desktop.workspace import Workspace
from tests.finetune.conftest import SAMPLE_DATASET


def qa(number: int, system: str = "Be brief.") -> TrainingExample:
    return TrainingExample(
        (
            Message("system", system),
            Message("user", f"Question {number}?"),
            Message("assistant", f"Answer {number}."),
        )
    )


def questions(store: DatasetStore, dataset_id: int) -> list[str]:
    return [e.question for e in store.examples(dataset_id)]


def test_datasets_are_created_renamed_listed_and_deleted(store: DatasetStore) -> None:
    support = store.create_dataset("Support replies", model="gpt-4.1-mini")
    other = store.create_dataset("  billing   faq ")
    assert other.name == "billing faq"
    with pytest.raises(DatasetError, match="already exists"):
        store.create_dataset("Support replies")
    with pytest.raises(DatasetError, match="needs a name"):
        store.create_dataset("   ")
    assert store.rename_dataset(support.id, "Helpdesk") == "Support replies"
    with pytest.raises(DatasetError, match="already exists"):
        store.rename_dataset(other.id, "Helpdesk")
    assert store.set_model(support.id, "gpt-4o-mini") == "gpt-4.1-mini"
    store.add_examples(support.id, [qa(1), qa(2)])
    assert [(d.name, d.model, d.example_count) for d in store.datasets()] == [
        ("billing faq", "", 0),
        ("Helpdesk", "gpt-4o-mini", 2),
    ]
    assert store.dataset_by_name("Helpdesk") == store.dataset(support.id)

    deleted = store.delete_dataset(support.id)
    assert [d.name for d in store.datasets()] == ["billing faq"]
    count = store.workspace.connection().execute("SELECT count(*) FROM training_examples")
    assert count.fetchone()[0] == 0  # ON DELETE CASCADE
    store.restore_dataset(deleted)
    assert store.dataset(support.id).name == "Helpdesk"
    assert questions(store, support.id) == ["Question 1?", "Question 2?"]


def test_examples_load_exactly_as_they_were_added(store: DatasetStore) -> None:
    dataset = store.create_dataset("sample")
    examples = read_chat_jsonl(SAMPLE_DATASET).examples
    ids = store.add_examples(dataset.id, examples)
    loaded = store.examples(dataset.id)
    assert [e.id for e in loaded] == ids
    assert [e.to_openai() for e in loaded] == [e.to_openai() for e in examples]
    assert loaded[37].messages[2].role == "bot"  # wrong data survives storage, to be fixed
    dpo = PreferenceExample(
        (Message("user", "Hi"),),
        (Message("assistant", "Hello!"),),
        (Message("assistant", "What?"),),
        tags=("dpo",),
    )
    (dpo_id,) = store.add_examples(dataset.id, [dpo], position=0)
    assert store.example(dpo_id) == PreferenceExample(**{**dpo.__dict__, "id": dpo_id})
    assert store.count(dataset.id) == 61


def test_add_update_delete_and_move_each_undo_with_one_call(store: DatasetStore) -> None:
    dataset = store.create_dataset("d")
    ids = store.add_examples(dataset.id, [qa(n) for n in range(5)])
    inserted = store.add_examples(dataset.id, [qa(10), qa(11)], position=2)
    assert questions(store, dataset.id)[:5] == [
        "Question 0?",
        "Question 1?",
        "Question 10?",
        "Question 11?",
        "Question 2?",
    ]
    store.delete_examples(inserted)  # undo of the add
    assert questions(store, dataset.id) == [f"Question {n}?" for n in range(5)]

    before = store.examples(dataset.id)
    edited = before[1].with_tag("checked")
    previous = store.update_examples([edited, before[2]])  # the second is unchanged
    assert previous == [before[1]]
    assert store.example(ids[1]).tags == ("checked",)
    store.restore(previous)
    assert store.examples(dataset.id) == before

    removed = store.delete_examples([ids[3], ids[0]])
    assert [r.position for r in removed] == [0, 3]
    assert questions(store, dataset.id) == ["Question 1?", "Question 2?", "Question 4?"]
    store.restore_examples(removed)
    assert store.examples(dataset.id) == before

    order = store.move_examples(dataset.id, [ids[4], ids[0]], 1)
    assert questions(store, dataset.id) == [
        "Question 1?",
        "Question 0?",
        "Question 4?",
        "Question 2?",
        "Question 3?",
    ]
    store.reorder(dataset.id, order)
    assert store.examples(dataset.id) == before
    positions = store.workspace.connection().execute(
        "SELECT position FROM training_examples WHERE dataset_id = ? ORDER BY position",
        (dataset.id,),
    )
    assert [row[0] for row in positions] == [0, 1, 2, 3, 4]


def test_bulk_edits_return_what_restore_needs(store: DatasetStore) -> None:
    dataset = store.create_dataset("d")
    ids = store.add_examples(
        dataset.id, [qa(n, system="You are the Lumenfold bot.") for n in range(4)]
    )
    before = store.examples(dataset.id)
    selection = ids[1:3]

    previous = store.set_system_prompt(selection, "Be kind.")
    assert [e.id for e in previous] == selection
    assert [e.system_prompt for e in store.examples(dataset.id)] == [
        "You are the Lumenfold bot.",
        "Be kind.",
        "Be kind.",
        "You are the Lumenfold bot.",
    ]
    store.restore(previous)
    assert store.examples(dataset.id) == before

    previous = store.replace_in_system_prompt(ids, "Lumenfold", "Acme")
    assert len(previous) == 4
    assert store.example(ids[0]).system_prompt == "You are the Acme bot."
    store.restore(previous)

    previous = store.add_tag(selection, "reviewed")
    assert store.add_tag(selection, "reviewed") == []  # already tagged: nothing changes
    assert [e.tags for e in store.examples(dataset.id)] == [(), ("reviewed",), ("reviewed",), ()]
    removed = store.remove_tag(ids, "reviewed")
    assert [e.id for e in removed] == selection
    store.restore(removed)
    store.restore(previous)
    assert store.examples(dataset.id) == before

    previous = store.set_split([ids[0]], "validation")
    assert store.example(ids[0]).split == "validation"
    store.restore(previous)
    assert store.example(ids[0]).split == "train"

    copies = store.duplicate_examples([ids[0], ids[2]])
    assert questions(store, dataset.id) == [
        "Question 0?",
        "Question 0?",
        "Question 1?",
        "Question 2?",
        "Question 2?",
        "Question 3?",
    ]
    assert store.example_ids(dataset.id)[1] == copies[0]
    store.delete_examples(copies)
    assert store.examples(dataset.id) == before

    with pytest.raises(DatasetError, match="split"):
        store.set_split(ids, "test")  # type: ignore[arg-type]


def test_a_failing_bulk_change_leaves_every_row_as_it_was(store: DatasetStore) -> None:
    dataset = store.create_dataset("d")
    ids = store.add_examples(dataset.id, [qa(n) for n in range(3)])
    before = store.examples(dataset.id)
    # The first row is written before the second turns out not to exist.
    with pytest.raises(DatasetError):
        store.update_examples([before[0].with_tag("y"), TrainingExample(id=999)])
    assert store.examples(dataset.id) == before
    with pytest.raises(DatasetError, match="no longer exist"):
        store.add_tag([ids[0], 999], "z")
    assert store.examples(dataset.id) == before


def test_the_schema_enforces_split_and_cascade(workspace: Workspace) -> None:
    conn = workspace.connection()
    conn.execute("INSERT INTO datasets(id, name, created_at) VALUES (1, 'd', 0)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO training_examples(dataset_id, position, data, split, updated_at) "
            "VALUES (1, 0, '{}', 'test', 0)"
        )
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO training_examples(dataset_id, position, data, updated_at) "
            "VALUES (2, 0, '{}', 0)"
        )
