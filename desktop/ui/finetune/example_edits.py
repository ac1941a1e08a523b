"""Changes to the selected examples of the dataset builder (the Edit menu and the table's
keys): delete, duplicate, system prompt, tags, split. Each is one undoable edit."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop.finetune.edits import (
    BulkEdit,
    DeleteExamples,
    DuplicateExamples,
    SplitByFraction,
    set_split,
)
from desktop.finetune.examples import common_system_prompt
from desktop.finetune.files import counted
from desktop.ui.finetune.undo import StoreCommand

if TYPE_CHECKING:
    from desktop.ui.finetune.dataset_builder import DatasetBuilder


class ExampleEdits(QObject):
    def __init__(self, builder: DatasetBuilder) -> None:
        super().__init__(builder)
        self.builder = builder
        for action, slot in (
            (builder.delete_action, self.delete_selected),
            (builder.duplicate_action, self.duplicate_selected),
            (builder.set_system_action, self.set_system_prompt),
            (builder.replace_system_action, self.replace_in_system_prompt),
            (builder.add_tag_action, self.add_tag),
            (builder.remove_tag_action, self.remove_tag),
            (builder.to_train_action, lambda: self.move_to("train")),
            (builder.to_validation_action, lambda: self.move_to("validation")),
            (builder.split_action, self.split_by_percentage),
        ):
            action.triggered.connect(lambda _=False, slot=slot: slot())

    def delete_selected(self) -> StoreCommand | None:
        ids, dataset_id = self.builder.selected_ids(), self.builder.dataset_id
        if not ids or dataset_id is None:
            return None
        return self.builder.push(DeleteExamples(dataset_id, ids))

    def duplicate_selected(self) -> StoreCommand | None:
        ids, dataset_id = self.builder.selected_ids(), self.builder.dataset_id
        if not ids or dataset_id is None:
            return None
        return self.builder.push(DuplicateExamples(dataset_id, ids))

    def _bulk(self, method: str, *args: object, text: str) -> StoreCommand | None:
        ids, dataset_id = self.builder.selected_ids(), self.builder.dataset_id
        if not ids or dataset_id is None:
            return None
        return self.builder.push(BulkEdit(dataset_id, ids, method, *args, text=text))

    def set_system_prompt(self) -> StoreCommand | None:
        ids = self.builder.selected_ids()
        if not ids:
            return None
        current = common_system_prompt(self.builder.selected_examples()) or ""
        text = self.builder.ask_text(
            "Set system prompt",
            f"System prompt for the {len(ids)} selected example(s). Leave it empty to remove "
            "the system message.",
            current,
            True,
        )
        if text is None:
            return None
        return self._bulk(
            "set_system_prompt",
            text if text.strip() else None,
            text=f"Set the system prompt of {counted(len(ids), 'example')}",
        )

    def replace_in_system_prompt(self) -> StoreCommand | None:
        if not self.builder.selected_ids():
            return None
        answer = self.builder.ask_replace()
        if answer is None or not answer[0]:
            return None
        old, new = answer
        return self._bulk("replace_in_system_prompt", old, new, text="Replace in system prompts")

    def add_tag(self) -> StoreCommand | None:
        if not self.builder.selected_ids():
            return None
        tag = self.builder.ask_text("Add tag", "Tag to add to the selected examples:", "", False)
        if tag is None or not tag.strip():
            return None
        return self._bulk("add_tag", tag.strip(), text=f"Add tag “{tag.strip()}”")

    def remove_tag(self) -> StoreCommand | None:
        examples = self.builder.selected_examples()
        if not examples:
            return None
        tags = Counter(tag for e in examples for tag in e.tags)
        suggestion = tags.most_common(1)[0][0] if tags else ""
        tag = self.builder.ask_text(
            "Remove tag", "Tag to remove from the selected examples:", suggestion, False
        )
        if tag is None or not tag.strip():
            return None
        return self._bulk("remove_tag", tag.strip(), text=f"Remove tag “{tag.strip()}”")

    def move_to(self, split: str) -> StoreCommand | None:
        ids, dataset_id = self.builder.selected_ids(), self.builder.dataset_id
        if not ids or dataset_id is None or split not in ("train", "validation"):
            return None
        return self.builder.push(
            set_split(dataset_id, ids, "train" if split == "train" else "validation")
        )

    def split_by_percentage(self) -> StoreCommand | None:
        builder = self.builder
        if builder.dataset_id is None or not builder.model.rowCount():
            return None
        chosen = builder.choose_split(builder.model.rowCount())
        if chosen is None:
            return None
        fraction, seed = chosen
        return builder.push(SplitByFraction(builder.dataset_id, fraction, seed))
