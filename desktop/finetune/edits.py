"""Undoable changes to a dataset: each is a change and its inverse, as plain objects.

An edit's ``run`` applies or reverts it against the dataset store (on the worker queue
that is the store's one writer). What the inverse needs (the ids a redo created, the
rows a delete removed, the examples as they were) is recorded on the edit by the run
that made the change and read by the run of its inverse, which comes after it on the
same queue: an undo never races its redo, however fast the user presses Ctrl+Z."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from desktop.finetune.examples import AnyExample, Split
from desktop.finetune.split import split_by_fraction
from desktop.finetune.store import Dataset, DatasetStore, DeletedDataset, RemovedExample
from desktop.undoable import Edit


class DatasetEdit(Edit[DatasetStore]):
    """A change to a dataset and its inverse (``affected_ids``: examples)."""

    def __init__(self, dataset_id: int | None) -> None:
        super().__init__()
        self.dataset_id = dataset_id


class AddExamples(DatasetEdit):
    """Add examples; with ``create_name`` and no dataset, into that dataset (made if
    missing, and removed again by the undo if it was made here)."""

    def __init__(
        self,
        dataset_id: int | None,
        examples: Sequence[AnyExample],
        *,
        text: str = "Add example",
        create_name: str | None = None,
        select_first: bool = False,
    ) -> None:
        """``select_first``: afterwards only the first new example is selected (an import
        of thousands should not leave them all selected for the next bulk edit)."""
        super().__init__(dataset_id)
        if dataset_id is None and not create_name:
            raise ValueError("a dataset or a name for a new one is needed")
        self.text = text
        self.examples = list(examples)
        self.create_name = create_name
        self.select_first = select_first
        self.ids: list[int] = []
        self.created = False
        self._removed: list[RemovedExample] | None = None
        self._deleted: DeletedDataset | None = None

    def apply(self, store: DatasetStore) -> None:
        if self._deleted is not None:
            store.restore_dataset(self._deleted)
        elif self._removed is not None:
            store.restore_examples(self._removed)
        else:
            if self.dataset_id is None:
                assert self.create_name is not None
                existing = store.dataset_by_name(self.create_name)
                dataset = existing or store.create_dataset(self.create_name)
                self.created = existing is None
                self.dataset_id = dataset.id
            self.ids = store.add_examples(self.dataset_id, self.examples)

    def revert(self, store: DatasetStore) -> None:
        assert self.dataset_id is not None
        if self.created:
            self._deleted = store.delete_dataset(self.dataset_id)
        else:
            self._removed = store.delete_examples(self.ids)

    def affected_ids(self, forward: bool) -> list[int]:
        if not forward:
            return []
        return self.ids[:1] if self.select_first else list(self.ids)


class DeleteExamples(DatasetEdit):
    def __init__(self, dataset_id: int, ids: Sequence[int]) -> None:
        super().__init__(dataset_id)
        self.ids = list(ids)
        self.text = "Delete example" if len(self.ids) == 1 else f"Delete {len(self.ids)} examples"
        self._removed: list[RemovedExample] = []

    def apply(self, store: DatasetStore) -> None:
        self._removed = store.delete_examples(self.ids)

    def revert(self, store: DatasetStore) -> None:
        store.restore_examples(self._removed)

    def affected_ids(self, forward: bool) -> list[int]:
        return [] if forward else list(self.ids)


class DuplicateExamples(DatasetEdit):
    def __init__(self, dataset_id: int, ids: Sequence[int]) -> None:
        super().__init__(dataset_id)
        self.ids = list(ids)
        self.text = (
            "Duplicate example" if len(self.ids) == 1 else f"Duplicate {len(self.ids)} examples"
        )
        self.new_ids: list[int] = []
        self._removed: list[RemovedExample] | None = None

    def apply(self, store: DatasetStore) -> None:
        if self._removed is None:
            self.new_ids = store.duplicate_examples(self.ids)
        else:
            store.restore_examples(self._removed)

    def revert(self, store: DatasetStore) -> None:
        self._removed = store.delete_examples(self.new_ids)

    def affected_ids(self, forward: bool) -> list[int]:
        return list(self.new_ids) if forward else list(self.ids)


class UpdateExamples(DatasetEdit):
    """Save examples as edited (matched by id); the undo puts back what was stored."""

    def __init__(self, dataset_id: int, after: Sequence[AnyExample], text: str) -> None:
        super().__init__(dataset_id)
        self.text = text
        self.after = list(after)
        self._before: list[AnyExample] = []

    def apply(self, store: DatasetStore) -> None:
        self._before = store.update_examples(self.after)

    def revert(self, store: DatasetStore) -> None:
        store.restore(self._before)

    def affected_ids(self, forward: bool) -> list[int]:
        return [e.id for e in self.after if e.id is not None]


class BulkEdit(DatasetEdit):
    """One of the store's bulk edits (``set_system_prompt``, ``add_tag``, ``set_split``…)
    on a selection; they all return the examples as they were, for ``restore``."""

    def __init__(
        self, dataset_id: int, ids: Sequence[int], method: str, *args: Any, text: str
    ) -> None:
        super().__init__(dataset_id)
        self.ids = list(ids)
        self.method = method
        self.args = args
        self.text = text
        self._before: list[AnyExample] = []

    def apply(self, store: DatasetStore) -> None:
        edit: Callable[..., list[AnyExample]] = getattr(store, self.method)
        self._before = edit(self.ids, *self.args)

    def revert(self, store: DatasetStore) -> None:
        store.restore(self._before)

    def affected_ids(self, forward: bool) -> list[int]:
        return list(self.ids)


def set_split(dataset_id: int, ids: Sequence[int], split: Split) -> BulkEdit:
    where = "training" if split == "train" else "validation"
    return BulkEdit(dataset_id, ids, "set_split", split, text=f"Move to {where}")


class SplitByFraction(DatasetEdit):
    """The seeded percentage split of the whole dataset (``split_by_fraction``)."""

    def __init__(self, dataset_id: int, validation_fraction: float, seed: int) -> None:
        super().__init__(dataset_id)
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.text = f"Split {100 - round(validation_fraction * 100)}/" + (
            f"{round(validation_fraction * 100)} (seed {seed})"
        )
        self._before: list[AnyExample] = []

    def apply(self, store: DatasetStore) -> None:
        assert self.dataset_id is not None
        examples = store.examples(self.dataset_id)
        split = split_by_fraction(examples, self.validation_fraction, seed=self.seed)
        changed = [new for new, old in zip(split, examples, strict=True) if new != old]
        self._before = store.update_examples(changed)

    def revert(self, store: DatasetStore) -> None:
        store.restore(self._before)


class CreateDataset(DatasetEdit):
    def __init__(self, name: str, model: str = "") -> None:
        super().__init__(None)
        self.name = name
        self.model = model
        self.text = f"New dataset “{name}”"
        self.dataset: Dataset | None = None
        self._deleted: DeletedDataset | None = None

    def apply(self, store: DatasetStore) -> None:
        if self._deleted is None:
            self.dataset = store.create_dataset(self.name, self.model)
            self.dataset_id = self.dataset.id
        else:
            store.restore_dataset(self._deleted)

    def revert(self, store: DatasetStore) -> None:
        assert self.dataset_id is not None
        self._deleted = store.delete_dataset(self.dataset_id)


class RenameDataset(DatasetEdit):
    def __init__(self, dataset_id: int, name: str) -> None:
        super().__init__(dataset_id)
        self.name = name
        self.text = f"Rename dataset to “{name}”"
        self._old = ""

    def apply(self, store: DatasetStore) -> None:
        assert self.dataset_id is not None
        self._old = store.rename_dataset(self.dataset_id, self.name)

    def revert(self, store: DatasetStore) -> None:
        assert self.dataset_id is not None
        store.rename_dataset(self.dataset_id, self._old)


class DeleteDataset(DatasetEdit):
    def __init__(self, dataset_id: int, name: str) -> None:
        super().__init__(dataset_id)
        self.text = f"Delete dataset “{name}”"
        self._deleted: DeletedDataset | None = None

    def apply(self, store: DatasetStore) -> None:
        assert self.dataset_id is not None
        self._deleted = store.delete_dataset(self.dataset_id)

    def revert(self, store: DatasetStore) -> None:
        assert self._deleted is not None
        store.restore_dataset(self._deleted)
