"""Dataset file names: one definition for the window and the commands."""

from __future__ import annotations

from pathlib import Path

from desktop.finetune.files import (
    counted,
    export_name,
    file_stem,
    split_of_file,
    validation_path_for,
)


def test_export_names_and_their_validation_files() -> None:
    assert export_name("Support replies (sample)", "chat") == "support-replies-sample-train.jsonl"
    assert export_name("Q&A / v2", "preference") == "q-a-v2-dpo-train.jsonl"
    assert export_name("...", "messages") == "dataset-messages-train.jsonl"
    assert file_stem("Ünïcode names") == "ünïcode-names"
    assert validation_path_for(Path("out/x-train.jsonl")) == Path("out/x-validation.jsonl")
    assert validation_path_for(Path("out/x.jsonl")) == Path("out/x-validation.jsonl")


def test_a_file_name_says_its_split_and_counts_read_as_words() -> None:
    assert split_of_file(Path("support-validation.jsonl")) == "validation"
    assert split_of_file(Path("val.jsonl")) == "validation"
    assert split_of_file(Path("interval.jsonl")) == "train"
    assert [counted(n, "example") for n in (0, 1, 2, 1000)] == [
        "0 examples",
        "1 example",
        "2 examples",
        "1,000 examples",
    ]
