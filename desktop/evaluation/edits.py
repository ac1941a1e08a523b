"""Undoable changes to eval sets (``desktop.undoable.Edit``, as the dataset builder's)."""

from __future__ import annotations

from collections.abc import Sequence

from desktop.evaluation.records import EvalQuestion, FormatSpec
from desktop.evaluation.store import DeletedSet, EvalStore, RemovedQuestion
from desktop.undoable import Edit


class SetEdit(Edit[EvalStore]):
    """A change to an eval set and its inverse (``affected_ids``: questions)."""

    def __init__(self, set_id: int | None) -> None:
        super().__init__()
        self.set_id = set_id


class CreateSet(SetEdit):
    def __init__(self, name: str, format: FormatSpec | None = None) -> None:
        super().__init__(None)
        self.name = name
        self.format = format or FormatSpec()
        self.text = f"Create eval set “{name}”"
        self._deleted: DeletedSet | None = None

    def apply(self, store: EvalStore) -> None:
        if self._deleted is not None:
            store.restore_set(self._deleted)
            self.set_id = self._deleted.id
        else:
            self.set_id = store.create_set(self.name, self.format).id

    def revert(self, store: EvalStore) -> None:
        assert self.set_id is not None
        self._deleted = store.delete_set(self.set_id)


class RenameSet(SetEdit):
    def __init__(self, set_id: int, name: str) -> None:
        super().__init__(set_id)
        self.name = name
        self.previous = ""
        self.text = f"Rename to “{name}”"

    def apply(self, store: EvalStore) -> None:
        assert self.set_id is not None
        self.previous = store.rename_set(self.set_id, self.name)

    def revert(self, store: EvalStore) -> None:
        assert self.set_id is not None
        store.rename_set(self.set_id, self.previous)


class DeleteSet(SetEdit):
    def __init__(self, set_id: int, name: str) -> None:
        super().__init__(set_id)
        self.text = f"Delete eval set “{name}”"
        self._deleted: DeletedSet | None = None

    def apply(self, store: EvalStore) -> None:
        assert self.set_id is not None
        self._deleted = store.delete_set(self.set_id)

    def revert(self, store: EvalStore) -> None:
        assert self._deleted is not None
        store.restore_set(self._deleted)


class SetFormat(SetEdit):
    def __init__(self, set_id: int, format: FormatSpec) -> None:
        super().__init__(set_id)
        self.format = format
        self.previous = FormatSpec()
        self.text = "Set the answer format"

    def apply(self, store: EvalStore) -> None:
        assert self.set_id is not None
        self.previous = store.set_format(self.set_id, self.format)

    def revert(self, store: EvalStore) -> None:
        assert self.set_id is not None
        store.set_format(self.set_id, self.previous)


class AddQuestions(SetEdit):
    """Add questions; with ``create_name`` and no set, into that set (made if missing and
    removed again by the undo if it was made here)."""

    def __init__(
        self,
        set_id: int | None,
        questions: Sequence[EvalQuestion],
        *,
        text: str = "Add question",
        create_name: str | None = None,
        format: FormatSpec | None = None,
    ) -> None:
        super().__init__(set_id)
        if set_id is None and not create_name:
            raise ValueError("an eval set or a name for a new one is needed")
        self.text = text
        self.questions = list(questions)
        self.create_name = create_name
        self.format = format
        self.ids: list[int] = []
        self.created = False
        self._removed: list[RemovedQuestion] | None = None
        self._deleted: DeletedSet | None = None

    def apply(self, store: EvalStore) -> None:
        if self._deleted is not None:
            store.restore_set(self._deleted)
            return
        if self._removed is not None:
            store.restore_questions(self._removed)
            return
        if self.set_id is None:
            assert self.create_name is not None
            found = store.set_by_name(self.create_name)
            if found is None:
                found = store.create_set(self.create_name, self.format)
                self.created = True
            self.set_id = found.id
        self.ids = store.add_questions(self.set_id, self.questions)

    def revert(self, store: EvalStore) -> None:
        assert self.set_id is not None
        if self.created:
            self._deleted = store.delete_set(self.set_id)
        else:
            self._removed = store.remove_questions(self.ids)

    def affected_ids(self, forward: bool) -> list[int]:
        return self.ids if forward else []


class UpdateQuestions(SetEdit):
    def __init__(
        self, set_id: int, questions: Sequence[EvalQuestion], text: str = "Edit question"
    ) -> None:
        super().__init__(set_id)
        self.questions = list(questions)
        self.previous: list[EvalQuestion] = []
        self.text = text

    def apply(self, store: EvalStore) -> None:
        self.previous = store.update_questions(self.questions)

    def revert(self, store: EvalStore) -> None:
        store.update_questions(self.previous)

    def affected_ids(self, forward: bool) -> list[int]:
        return [q.id for q in self.questions if q.id is not None]


class DeleteQuestions(SetEdit):
    def __init__(self, set_id: int, question_ids: Sequence[int]) -> None:
        super().__init__(set_id)
        self.question_ids = list(question_ids)
        self.removed: list[RemovedQuestion] = []
        count = len(self.question_ids)
        self.text = f"Delete {count} question{'s' if count != 1 else ''}"

    def apply(self, store: EvalStore) -> None:
        self.removed = store.remove_questions(self.question_ids)

    def revert(self, store: EvalStore) -> None:
        store.restore_questions(self.removed)

    def affected_ids(self, forward: bool) -> list[int]:
        return [] if forward else self.question_ids
