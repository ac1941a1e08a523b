"""The undo stack's command for a dataset edit (``desktop.finetune.edits``) or an eval
set edit (``desktop.evaluation.edits``).

``StoreCommand`` holds no state of its own, so a command Qt deletes takes nothing with
it: the edit remembers what its inverse needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from desktop.undoable import Edit

Submit = Callable[["StoreCommand", bool], None]


class StoreCommand(QUndoCommand):
    """Runs its operation forward (redo) or backward (undo) through ``submit``.
    ``done_message`` is what the status line says once it is done (None: its text)."""

    def __init__(
        self,
        operation: Edit[Any],
        submit: Submit,
        *,
        done_message: str | None = None,
        done_warning: bool = False,
    ) -> None:
        super().__init__(operation.text)
        self.operation = operation
        self.done_message = done_message
        self.done_warning = done_warning
        self._submit = submit

    def redo(self) -> None:
        self._submit(self, True)

    def undo(self) -> None:
        self._submit(self, False)
