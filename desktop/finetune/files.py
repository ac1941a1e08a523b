"""Dataset files: one definition of what an export writes (the file names, which examples
each kind takes, the validation file beside the training one) and of how an imported
file is read (its kind, and the split its name implies). The window and ``ragtune
dataset`` both go through here, so the same dataset gives the same files from either."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from desktop.finetune.examples import AnyExample, PreferenceExample, Split, TrainingExample
from desktop.finetune.jsonl import (
    ExportSummary,
    ImportResult,
    export_chat_jsonl,
    export_chat_messages_jsonl,
    export_preference_jsonl,
    read_chat_jsonl,
    read_csv,
    read_preference_jsonl,
)
from desktop.finetune.validation import Issue

ExportKind = Literal["chat", "preference", "messages"]
ImportKind = Literal["chat", "preference", "csv"]

EXPORT_KINDS: dict[str, tuple[str, str]] = {
    "chat": ("OpenAI chat JSONL", "train.jsonl"),
    "preference": ("OpenAI DPO JSONL", "dpo-train.jsonl"),
    "messages": ("Chat-messages JSONL for TRL, Axolotl", "messages-train.jsonl"),
}
"""Kind → (what it is, the ending of its training file's name)."""
MESSAGES_TRAINING_FIELD = "train"
"""Per-message flag for replies with a weight (Axolotl's ``message_field_training``)."""


class NothingToExport(ValueError):
    """The dataset has no example of the kind asked for."""


def counted(number: int, noun: str) -> str:
    """``1 example``, ``2 examples``, ``1,000 examples``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def file_stem(dataset_name: str) -> str:
    """A dataset name as the start of a file name: lower case, words joined by "-", no
    path separators."""
    words = re.sub(r"[^\w.]+", " ", dataset_name.lower()).split()
    return "-".join(words).strip(".-") or "dataset"


def export_name(dataset_name: str, kind: str) -> str:
    """The training file's name for an export of ``kind`` (``support-train.jsonl``)."""
    return f"{file_stem(dataset_name)}-{EXPORT_KINDS[kind][1]}"


def validation_path_for(train: Path) -> Path:
    """``x-train.jsonl`` -> ``x-validation.jsonl``; otherwise ``x-validation.jsonl`` beside."""
    stem = train.stem
    for ending in ("train", "training"):
        if stem.lower().endswith(ending):
            return train.with_name(stem[: -len(ending)] + "validation" + train.suffix)
    return train.with_name(f"{stem}-validation{train.suffix}")


def split_of_file(path: Path) -> Split:
    """A file named like a validation file (``…-validation.jsonl``, ``val.jsonl``) imports
    into the validation split, so an export read back keeps its split."""
    words = re.split(r"[^a-z]+", path.stem.lower())
    return "validation" if {"validation", "valid", "val"} & set(words) else "train"


def examples_of_kind(examples: Sequence[AnyExample], kind: str) -> list[Any]:
    """The examples an export of ``kind`` takes: preference pairs for DPO, chat examples
    for the others."""
    wanted = PreferenceExample if kind == "preference" else TrainingExample
    return [e for e in examples if isinstance(e, wanted)]


def export_examples(examples: Sequence[AnyExample], kind: str, train_path: Path) -> ExportSummary:
    """Write the examples of ``kind``: training examples to ``train_path`` and, when any
    example is held out, validation examples to ``validation_path_for(train_path)``."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {kind!r}")
    chosen = examples_of_kind(examples, kind)
    if not chosen:
        what = "preference (DPO)" if kind == "preference" else "chat"
        raise NothingToExport(f"the dataset has no {what} examples to export")
    train_path = Path(train_path)
    held_out = (
        validation_path_for(train_path) if any(e.split == "validation" for e in chosen) else None
    )
    if kind == "chat":
        return export_chat_jsonl(chosen, train_path, held_out)
    if kind == "preference":
        return export_preference_jsonl(chosen, train_path, held_out)
    return export_chat_messages_jsonl(
        chosen, train_path, held_out, training_field=MESSAGES_TRAINING_FIELD
    )


def kinds_to_export(examples: Sequence[AnyExample]) -> list[str]:
    """Every kind a dataset can be handed to another trainer as."""
    kinds = []
    if examples_of_kind(examples, "chat"):
        kinds += ["chat", "messages"]
    if examples_of_kind(examples, "preference"):
        kinds.append("preference")
    return kinds


def read_examples(
    path: Path,
    kind: str,
    *,
    mapping: dict[str, Any] | None = None,
    has_header: bool = True,
) -> ImportResult[Any]:
    """Read a chat JSONL, DPO JSONL or CSV file (CSV with a column mapping); the split
    follows the file's name."""
    path = Path(path)
    split = split_of_file(path)
    if kind == "csv":
        if mapping is None:
            raise ValueError("a CSV file needs a column mapping")
        return read_csv(path, mapping, has_header=has_header, split=split)
    if kind == "preference":
        return read_preference_jsonl(path, split=split)
    if kind == "chat":
        return read_chat_jsonl(path, split=split)
    raise ValueError(f"unknown import kind {kind!r}")


@dataclass(frozen=True)
class ImportOutcome:
    """One file's import, as the report and the command show it."""

    path: Path
    kind: str  # "chat", "preference" or "csv"
    imported: int
    problems: list[Issue] = field(default_factory=list)
    dataset: str = ""

    def summary(self) -> str:
        text = f"{self.path.name}: {counted(self.imported, 'example')} imported"
        errors = [p for p in self.problems if p.severity == "error"]
        warnings = [p for p in self.problems if p.severity != "error"]
        if errors:
            text += f"; {counted(len(errors), 'line')} could not be read"
        if warnings:
            text += f"; {counted(len(warnings), 'warning')}"
        return text
