"""Datasets of training examples in the workspace.

Every change of more than one row is one transaction (a crash leaves the old state or
the new one). Every change returns what its undo needs, and the undo is a plain call:

- ``add_examples`` returns new ids: undo with ``delete_examples(ids)``, whose result
  ``restore_examples`` takes for the redo (so the rows keep their ids).
- ``delete_examples`` returns the removed rows with their positions: undo with
  ``restore_examples(removed)`` (same ids, same places).
- ``update_examples`` and the bulk edits return the examples as they were before:
  undo with ``restore(previous)``.
- ``move_examples`` / ``reorder`` return the previous order: undo with
  ``reorder(dataset_id, previous)``.
- ``delete_dataset`` returns the dataset and its rows: undo with ``restore_dataset``.

Positions are kept dense (0..n-1) per dataset, so "row 12" in the table is position 12.
The ``data`` column holds the example's OpenAI JSON line (chat or preference);
tags, notes and split have their own columns.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from desktop.finetune.examples import (
    AnyExample,
    PreferenceExample,
    Split,
    TrainingExample,
    example_from_record,
)
from desktop.workspace.store import Workspace

logger = logging.getLogger(__name__)

# The tables are declared in desktop/finetune/schema.py (version 5).


class DatasetError(Exception):
    """A dataset operation that cannot be done, with a reason a user can act on."""


@dataclass(frozen=True)
class Dataset:
    id: int
    name: str
    created_at: float
    model: str
    example_count: int = 0


@dataclass(frozen=True)
class RemovedExample:
    """A deleted row, with what ``restore_examples`` needs to put it back."""

    dataset_id: int
    position: int
    example: AnyExample
    updated_at: float


@dataclass(frozen=True)
class DeletedDataset:
    dataset: Dataset
    examples: tuple[RemovedExample, ...]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _example(row: sqlite3.Row) -> AnyExample:
    return example_from_record(
        json.loads(row["data"]),
        tags=tuple(json.loads(row["tags"])),
        notes=row["notes"],
        split=row["split"],
        id=row["id"],
    )


class DatasetStore:
    """Datasets and their examples in one workspace (tables from ``desktop.finetune.schema``)."""

    def __init__(self, workspace: Workspace, clock: Callable[[], float] = time.time) -> None:
        self.workspace = workspace
        self._clock = clock

    # -- datasets --------------------------------------------------------------------

    def datasets(self) -> list[Dataset]:
        rows = self.workspace.connection().execute(
            "SELECT d.id, d.name, d.created_at, d.model, "
            "(SELECT count(*) FROM training_examples e WHERE e.dataset_id = d.id) AS n "
            "FROM datasets d ORDER BY d.name COLLATE NOCASE, d.id"
        )
        return [Dataset(r["id"], r["name"], r["created_at"], r["model"], r["n"]) for r in rows]

    def records(self) -> list[tuple[str, Any]]:
        """Every stored example as (its dataset's name, its OpenAI JSON object, or None
        when the stored text is unreadable), datasets in creation order: what the
        Decide tab's evidence validates and measures."""
        rows = self.workspace.connection().execute(
            "SELECT d.name, e.data FROM training_examples e JOIN datasets d "
            "ON d.id = e.dataset_id ORDER BY d.id, e.position"
        )
        records: list[tuple[str, Any]] = []
        for name, data in rows:
            try:
                records.append((str(name), json.loads(data)))
            except ValueError:
                records.append((str(name), None))
        return records

    def dataset_names(self) -> list[str]:
        """In creation order."""
        rows = self.workspace.connection().execute("SELECT name FROM datasets ORDER BY id")
        return [str(row[0]) for row in rows]

    def dataset(self, dataset_id: int) -> Dataset:
        row = (
            self.workspace.connection()
            .execute(
                "SELECT d.id, d.name, d.created_at, d.model, "
                "(SELECT count(*) FROM training_examples e WHERE e.dataset_id = d.id) AS n "
                "FROM datasets d WHERE d.id = ?",
                (dataset_id,),
            )
            .fetchone()
        )
        if row is None:
            raise DatasetError(f"there is no dataset with id {dataset_id}")
        return Dataset(row["id"], row["name"], row["created_at"], row["model"], row["n"])

    def dataset_by_name(self, name: str) -> Dataset | None:
        row = (
            self.workspace.connection()
            .execute("SELECT id FROM datasets WHERE name = ?", (name,))
            .fetchone()
        )
        return None if row is None else self.dataset(row["id"])

    @staticmethod
    def _clean_name(name: str) -> str:
        cleaned = " ".join(name.split())
        if not cleaned:
            raise DatasetError("a dataset needs a name")
        return cleaned

    def create_dataset(self, name: str, model: str = "") -> Dataset:
        """A new, empty dataset. Undo: ``delete_dataset(dataset.id)``."""
        name = self._clean_name(name)
        try:
            with self.workspace.transaction() as tx:
                cursor = tx.execute(
                    "INSERT INTO datasets(name, created_at, model) VALUES (?, ?, ?)",
                    (name, self._clock(), model),
                )
        except sqlite3.IntegrityError:
            raise DatasetError(f"a dataset named {name!r} already exists") from None
        assert cursor.lastrowid is not None
        return self.dataset(cursor.lastrowid)

    def rename_dataset(self, dataset_id: int, name: str) -> str:
        """Rename; returns the old name (undo: rename back)."""
        name = self._clean_name(name)
        old = self.dataset(dataset_id).name
        try:
            with self.workspace.transaction() as tx:
                tx.execute("UPDATE datasets SET name = ? WHERE id = ?", (name, dataset_id))
        except sqlite3.IntegrityError:
            raise DatasetError(f"a dataset named {name!r} already exists") from None
        return old

    def set_model(self, dataset_id: int, model: str) -> str:
        """Set the base model the dataset is meant for; returns the previous one."""
        old = self.dataset(dataset_id).model
        with self.workspace.transaction() as tx:
            tx.execute("UPDATE datasets SET model = ? WHERE id = ?", (model, dataset_id))
        return old

    def delete_dataset(self, dataset_id: int) -> DeletedDataset:
        """Delete a dataset and its examples; returns them for ``restore_dataset``."""
        with self.workspace.transaction() as tx:
            dataset = self.dataset(dataset_id)
            rows = tx.execute(
                "SELECT * FROM training_examples WHERE dataset_id = ? ORDER BY position",
                (dataset_id,),
            ).fetchall()
            tx.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
        removed = tuple(
            RemovedExample(dataset_id, row["position"], _example(row), row["updated_at"])
            for row in rows
        )
        return DeletedDataset(dataset, removed)

    def restore_dataset(self, deleted: DeletedDataset) -> None:
        """Put back a deleted dataset with the same id, name and examples."""
        d = deleted.dataset
        try:
            with self.workspace.transaction() as tx:
                tx.execute(
                    "INSERT INTO datasets(id, name, created_at, model) VALUES (?, ?, ?, ?)",
                    (d.id, d.name, d.created_at, d.model),
                )
                self._insert_rows(tx, deleted.examples)
        except sqlite3.IntegrityError as exc:
            raise DatasetError(f"cannot restore dataset {d.name!r}: {exc}") from None

    # -- reading examples -------------------------------------------------------------

    def examples(self, dataset_id: int) -> list[AnyExample]:
        """All examples of a dataset in table order, each with its ``id``."""
        rows = self.workspace.connection().execute(
            "SELECT id, data, tags, notes, split FROM training_examples "
            "WHERE dataset_id = ? ORDER BY position",
            (dataset_id,),
        )
        return [_example(row) for row in rows]

    def example(self, example_id: int) -> AnyExample:
        row = (
            self.workspace.connection()
            .execute(
                "SELECT id, data, tags, notes, split FROM training_examples WHERE id = ?",
                (example_id,),
            )
            .fetchone()
        )
        if row is None:
            raise DatasetError(f"there is no example with id {example_id}")
        return _example(row)

    def example_ids(self, dataset_id: int) -> list[int]:
        rows = self.workspace.connection().execute(
            "SELECT id FROM training_examples WHERE dataset_id = ? ORDER BY position",
            (dataset_id,),
        )
        return [row[0] for row in rows]

    def count(self, dataset_id: int) -> int:
        row = (
            self.workspace.connection()
            .execute("SELECT count(*) FROM training_examples WHERE dataset_id = ?", (dataset_id,))
            .fetchone()
        )
        return int(row[0])

    # -- changing examples -------------------------------------------------------------

    def add_examples(
        self, dataset_id: int, examples: Sequence[AnyExample], position: int | None = None
    ) -> list[int]:
        """Insert examples at ``position`` (default: the end); returns their new ids.

        Any ``id`` the examples carry is ignored. Undo: ``delete_examples(ids)``.
        """
        now = self._clock()
        with self.workspace.transaction() as tx:
            self._require_dataset(tx, dataset_id)
            size = self._size(tx, dataset_id)
            at = size if position is None else max(0, min(position, size))
            self._shift(tx, dataset_id, at, len(examples))
            ids = []
            for offset, example in enumerate(examples):
                cursor = tx.execute(
                    "INSERT INTO training_examples"
                    "(dataset_id, position, data, tags, notes, split, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (dataset_id, at + offset, *self._columns(example), now),
                )
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
        return ids

    def update_examples(self, examples: Sequence[AnyExample]) -> list[AnyExample]:
        """Save edited examples (matched by ``id``); returns them as they were before.

        Undo: ``restore(previous)``. Examples equal to what is stored are not touched.
        """
        now = self._clock()
        previous: list[AnyExample] = []
        with self.workspace.transaction() as tx:
            for example in examples:
                if example.id is None:
                    raise DatasetError("an example without an id cannot be updated")
                row = tx.execute(
                    "SELECT id, data, tags, notes, split FROM training_examples WHERE id = ?",
                    (example.id,),
                ).fetchone()
                if row is None:
                    raise DatasetError(f"there is no example with id {example.id}")
                before = _example(row)
                if before == example:
                    continue
                previous.append(before)
                tx.execute(
                    "UPDATE training_examples SET data = ?, tags = ?, notes = ?, split = ?, "
                    "updated_at = ? WHERE id = ?",
                    (*self._columns(example), now, example.id),
                )
        return previous

    def restore(self, previous: Sequence[AnyExample]) -> list[AnyExample]:
        """Undo an update or a bulk edit (and returns what it overwrote, for redo)."""
        return self.update_examples(previous)

    def delete_examples(self, example_ids: Iterable[int]) -> list[RemovedExample]:
        """Delete rows; returns them with their positions. Undo: ``restore_examples``."""
        wanted = sorted(set(example_ids))
        if not wanted:
            return []
        removed: list[RemovedExample] = []
        with self.workspace.transaction() as tx:
            rows = self._rows(tx, wanted)
            for row in rows:
                removed.append(
                    RemovedExample(
                        row["dataset_id"], row["position"], _example(row), row["updated_at"]
                    )
                )
            tx.executemany("DELETE FROM training_examples WHERE id = ?", [(i,) for i in wanted])
            for dataset_id in {r.dataset_id for r in removed}:
                self._renumber(tx, dataset_id)
        removed.sort(key=lambda r: (r.dataset_id, r.position))
        return removed

    def restore_examples(self, removed: Sequence[RemovedExample]) -> None:
        """Put deleted rows back with their ids, at their old positions."""
        with self.workspace.transaction() as tx:
            self._insert_rows(tx, removed)

    def move_examples(self, dataset_id: int, example_ids: Sequence[int], to: int) -> list[int]:
        """Move rows (kept in their current relative order) so the first lands at ``to``
        in the resulting order; returns the previous order for ``reorder``."""
        moving = set(example_ids)
        with self.workspace.transaction() as tx:
            order = self._order(tx, dataset_id)
            if not moving <= set(order):
                raise DatasetError("an example to move is not in this dataset")
            picked = [i for i in order if i in moving]
            rest = [i for i in order if i not in moving]
            at = max(0, min(to, len(rest)))
            self._write_order(tx, dataset_id, [*rest[:at], *picked, *rest[at:]])
        return order

    def reorder(self, dataset_id: int, ordered_ids: Sequence[int]) -> list[int]:
        """Set the whole order at once (the undo of a move); returns the previous order."""
        with self.workspace.transaction() as tx:
            order = self._order(tx, dataset_id)
            if sorted(order) != sorted(ordered_ids):
                raise DatasetError("the new order must list every example of the dataset once")
            self._write_order(tx, dataset_id, list(ordered_ids))
        return order

    # -- bulk edits ------------------------------------------------------------------

    def _edit(
        self, example_ids: Iterable[int], change: Callable[[AnyExample], AnyExample]
    ) -> list[AnyExample]:
        """Apply ``change`` to each example in one transaction; returns the changed ones
        as they were before."""
        ids = sorted(set(example_ids))
        now = self._clock()
        previous: list[AnyExample] = []
        with self.workspace.transaction() as tx:
            rows = self._rows(tx, ids)
            if len(rows) != len(ids):
                raise DatasetError("some examples no longer exist")
            updates = []
            for row in rows:
                before = _example(row)
                after = change(before)
                if after == before:
                    continue
                previous.append(before)
                updates.append((*self._columns(after), now, before.id))
            tx.executemany(
                "UPDATE training_examples SET data = ?, tags = ?, notes = ?, split = ?, "
                "updated_at = ? WHERE id = ?",
                updates,
            )
        return previous

    def set_system_prompt(self, example_ids: Iterable[int], text: str | None) -> list[AnyExample]:
        """Set (or with None remove) the system prompt of chat examples. Undo: ``restore``."""

        def change(example: AnyExample) -> AnyExample:
            if isinstance(example, TrainingExample):
                return example.with_system_prompt(text)
            return example

        return self._edit(example_ids, change)

    def replace_in_system_prompt(
        self, example_ids: Iterable[int], old: str, new: str
    ) -> list[AnyExample]:
        """Replace text inside the system prompts of chat examples. Undo: ``restore``."""

        def change(example: AnyExample) -> AnyExample:
            if isinstance(example, TrainingExample):
                return example.replace_in_system_prompt(old, new)
            return example

        return self._edit(example_ids, change)

    def add_tag(self, example_ids: Iterable[int], tag: str) -> list[AnyExample]:
        tag = tag.strip()
        if not tag:
            raise DatasetError("a tag cannot be empty")
        return self._edit(example_ids, lambda e: e.with_tag(tag))

    def remove_tag(self, example_ids: Iterable[int], tag: str) -> list[AnyExample]:
        return self._edit(example_ids, lambda e: e.without_tag(tag))

    def set_notes(self, example_ids: Iterable[int], notes: str) -> list[AnyExample]:
        return self._edit(example_ids, lambda e: replace(e, notes=notes))

    def set_split(self, example_ids: Iterable[int], split: Split) -> list[AnyExample]:
        if split not in ("train", "validation"):
            raise DatasetError(f"split must be 'train' or 'validation', not {split!r}")
        return self._edit(example_ids, lambda e: replace(e, split=split))

    def duplicate_examples(self, example_ids: Iterable[int]) -> list[int]:
        """Copy each example to just after itself; returns the copies' ids, in table
        order. Undo: ``delete_examples(ids)``."""
        ids = set(example_ids)
        if not ids:
            return []
        now = self._clock()
        new_ids: list[int] = []
        with self.workspace.transaction() as tx:
            rows = self._rows(tx, sorted(ids))
            datasets = {row["dataset_id"] for row in rows}
            for dataset_id in datasets:
                order = self._order(tx, dataset_id)
                copies = {row["id"]: row for row in rows if row["dataset_id"] == dataset_id}
                final: list[int] = []
                for example_id in order:
                    final.append(example_id)
                    row = copies.get(example_id)
                    if row is None:
                        continue
                    cursor = tx.execute(
                        "INSERT INTO training_examples"
                        "(dataset_id, position, data, tags, notes, split, updated_at) "
                        "VALUES (?, -1, ?, ?, ?, ?, ?)",
                        (dataset_id, row["data"], row["tags"], row["notes"], row["split"], now),
                    )
                    assert cursor.lastrowid is not None
                    final.append(cursor.lastrowid)
                    new_ids.append(cursor.lastrowid)
                self._write_order(tx, dataset_id, final)
        return new_ids

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _columns(example: AnyExample) -> tuple[str, str, str, str]:
        if not isinstance(example, TrainingExample | PreferenceExample):
            raise TypeError(f"not an example: {example!r}")
        return (
            _dumps(example.to_openai()),
            _dumps(list(example.tags)),
            example.notes,
            example.split,
        )

    @staticmethod
    def _require_dataset(tx: sqlite3.Connection, dataset_id: int) -> None:
        if tx.execute("SELECT 1 FROM datasets WHERE id = ?", (dataset_id,)).fetchone() is None:
            raise DatasetError(f"there is no dataset with id {dataset_id}")

    @staticmethod
    def _size(tx: sqlite3.Connection, dataset_id: int) -> int:
        row = tx.execute(
            "SELECT count(*) FROM training_examples WHERE dataset_id = ?", (dataset_id,)
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _shift(tx: sqlite3.Connection, dataset_id: int, at: int, by: int) -> None:
        if by:
            tx.execute(
                "UPDATE training_examples SET position = position + ? "
                "WHERE dataset_id = ? AND position >= ?",
                (by, dataset_id, at),
            )

    @staticmethod
    def _rows(tx: sqlite3.Connection, ids: Sequence[int]) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = []
        for start in range(0, len(ids), 500):  # stay under SQLite's variable limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows.extend(
                tx.execute(
                    f"SELECT * FROM training_examples WHERE id IN ({marks}) "
                    "ORDER BY dataset_id, position",
                    tuple(chunk),
                ).fetchall()
            )
        rows.sort(key=lambda r: (r["dataset_id"], r["position"]))
        return rows

    @staticmethod
    def _order(tx: sqlite3.Connection, dataset_id: int) -> list[int]:
        rows = tx.execute(
            "SELECT id FROM training_examples WHERE dataset_id = ? ORDER BY position, id",
            (dataset_id,),
        )
        return [row[0] for row in rows]

    @staticmethod
    def _write_order(tx: sqlite3.Connection, dataset_id: int, ordered_ids: Sequence[int]) -> None:
        tx.executemany(
            "UPDATE training_examples SET position = ? WHERE id = ? AND position != ?",
            [(position, i, position) for position, i in enumerate(ordered_ids)],
        )

    def _renumber(self, tx: sqlite3.Connection, dataset_id: int) -> None:
        self._write_order(tx, dataset_id, self._order(tx, dataset_id))

    def _insert_rows(self, tx: sqlite3.Connection, removed: Sequence[RemovedExample]) -> None:
        by_dataset: dict[int, list[RemovedExample]] = {}
        for item in removed:
            by_dataset.setdefault(item.dataset_id, []).append(item)
        for dataset_id, items in by_dataset.items():
            self._require_dataset(tx, dataset_id)
            order = self._order(tx, dataset_id)
            # Re-insert in position order: each lands at its old index of the final list.
            for item in sorted(items, key=lambda r: r.position):
                if item.example.id is None:
                    raise DatasetError("a removed example without an id cannot be restored")
                try:
                    tx.execute(
                        "INSERT INTO training_examples"
                        "(id, dataset_id, position, data, tags, notes, split, updated_at) "
                        "VALUES (?, ?, -1, ?, ?, ?, ?, ?)",
                        (
                            item.example.id,
                            dataset_id,
                            *self._columns(item.example),
                            item.updated_at,
                        ),
                    )
                except sqlite3.IntegrityError:
                    raise DatasetError(
                        f"example {item.example.id} already exists; cannot restore it"
                    ) from None
                order.insert(min(item.position, len(order)), item.example.id)
            self._write_order(tx, dataset_id, order)
