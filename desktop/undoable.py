"""Undoable changes as plain objects: a change and its inverse, run against a store on
the one writer queue. The dataset builder's edits (``desktop.finetune.edits``) and the
eval sets' (``desktop.evaluation.edits``) are kinds of it; the window's undo stack runs
any of them (``desktop.ui.finetune.undo.StoreCommand``)."""

from __future__ import annotations

from typing import Generic, TypeVar

Store = TypeVar("Store")


class Edit(Generic[Store]):
    """A change and its inverse; ``done`` says whether the change is in effect now.

    What the inverse needs (the ids a redo created, the rows a delete removed, the
    records as they were) is recorded on the edit by the run that made the change and
    read by the run of its inverse, which comes after it on the same queue: an undo
    never races its redo, however fast the user presses Ctrl+Z."""

    text = "Change"

    def __init__(self) -> None:
        self.done = False

    def run(self, store: Store, forward: bool) -> Edit[Store]:
        """Apply or revert on a worker; a revert of a change that never took is a no-op."""
        if forward:
            self.apply(store)
            self.done = True
        elif self.done:
            self.revert(store)
            self.done = False
        return self

    def apply(self, store: Store) -> None:
        raise NotImplementedError

    def revert(self, store: Store) -> None:
        raise NotImplementedError

    def affected_ids(self, forward: bool) -> list[int]:
        """Records to select after the change or its undo."""
        return []
