"""The fine-tuning front door's dataset side: imports of every kind, the one export,
statistics and file validation, on a test workspace (no Qt, no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.finetune.edits import AddExamples, DeleteDataset
from desktop.finetune.examples import Message, PreferenceExample, TrainingExample
from desktop.finetune.files import NothingToExport
from desktop.finetune.jsonl import Column, Constant
from desktop.finetune.service import FineTuneService
from desktop.finetune.store import DatasetError
from desktop.providers.client import ProviderAccess
from desktop.settings import EnvOverrides, Settings
from desktop.workspace import Workspace
from tests.finetune.conftest import MODEL, SAMPLE_DATASET


@pytest.fixture
def service(workspace: Workspace) -> Iterator[FineTuneService]:
    settings = Settings(chat_model=MODEL)
    access = ProviderAccess(lambda: settings, None, EnvOverrides(None, None))
    made = FineTuneService(workspace, lambda: settings, access)
    yield made
    made.close()


def chat(number: int, split: str = "train") -> TrainingExample:
    return TrainingExample(
        (Message("user", f"Question {number}?"), Message("assistant", f"Answer {number}.")),
        split=split,  # type: ignore[arg-type]
    )


def test_imports_of_chat_dpo_and_csv_go_into_the_named_dataset(
    service: FineTuneService, tmp_path: Path
) -> None:
    outcome = service.import_file(SAMPLE_DATASET, "Support")
    assert (outcome.dataset, outcome.imported, outcome.problems) == ("Support", 60, [])
    dpo = tmp_path / "pairs.jsonl"
    dpo.write_text(
        json.dumps(
            PreferenceExample(
                input=(Message("user", "Hi"),),
                preferred_output=(Message("assistant", "Hello!"),),
                non_preferred_output=(Message("assistant", "What."),),
            ).to_openai()
        )
        + "\n"
    )
    assert service.import_file(dpo, "Pairs", "preference").imported == 1
    table = tmp_path / "qa-validation.csv"
    table.write_text("question,answer\nWhere?,Here.\nWhen?,Now.\n")
    mapping = {"system": Constant("Be brief."), "user": Column("question"), "assistant": "answer"}
    from_csv = service.import_file(table, "Support", "csv", mapping=mapping)
    assert (from_csv.imported, from_csv.problems) == (2, [])
    added = service.examples("Support")[-2:]
    assert [e.system_prompt for e in added] == ["Be brief."] * 2
    assert [e.split for e in added] == ["validation"] * 2  # the file's name says so
    assert [(d.name, d.example_count) for d in service.datasets()] == [
        ("Pairs", 1),
        ("Support", 62),
    ]


def test_one_export_names_filters_and_splits_the_files(
    service: FineTuneService, tmp_path: Path
) -> None:
    dataset = service.create_dataset("Q&A / v2")
    service.apply(AddExamples(dataset.id, [chat(1), chat(2, "validation"), chat(3)]))
    summary = service.export_to_folder(dataset.id, tmp_path, "chat")
    assert summary.train_path.name == "q-a-v2-train.jsonl"  # no path separator in a name
    assert summary.validation_path is not None
    assert summary.validation_path.name == "q-a-v2-validation.jsonl"
    assert (summary.train, summary.validation) == (2, 1)
    with pytest.raises(NothingToExport, match="no preference"):
        service.export_to_folder(dataset.id, tmp_path, "preference")
    written = service.export_all(dataset.id, tmp_path / "all")
    assert [s.train_path.name for s in written] == [
        "q-a-v2-train.jsonl",
        "q-a-v2-messages-train.jsonl",
    ]
    assert (tmp_path / "all" / "q-a-v2-train.jsonl").read_bytes() == summary.train_path.read_bytes()


def test_a_dataset_is_found_by_name_or_the_error_lists_the_names(
    service: FineTuneService,
) -> None:
    made = service.create_dataset("Support")
    assert service.dataset("Support") == service.dataset(made.id)
    with pytest.raises(DatasetError, match=r"no dataset named 'Nope' \(datasets: Support\)"):
        service.dataset("Nope")
    edit = service.apply(DeleteDataset(made.id, made.name))
    assert service.datasets() == []
    service.apply(edit, forward=False)  # undo brings it back
    assert [d.name for d in service.datasets()] == ["Support"]


def test_statistics_use_the_dataset_model_else_the_settings(service: FineTuneService) -> None:
    dataset = service.create_dataset("Support")
    service.apply(AddExamples(dataset.id, [chat(i) for i in range(20)]))
    stats = service.stats("Support")
    assert stats.cost.model == MODEL and stats.train_examples == 20
    assert service.stats("Support", epochs=2).cost.epochs == 2
    snapshot = service.snapshot(None)
    assert snapshot.dataset_id == dataset.id and len(snapshot.examples) == 20


def test_a_file_is_validated_without_importing_it(tmp_path: Path) -> None:
    checked = FineTuneService.validate_file(SAMPLE_DATASET, model=MODEL)
    assert checked.lines == 60
    assert {(i.line, i.category) for i in checked.errors} == {
        (17, "example_missing_assistant_message"),
        (38, "unrecognized_role"),
        (38, "example_missing_assistant_message"),
    }
    cited = tmp_path / "cited.jsonl"
    cited.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "When?"},
                    {"role": "assistant", "content": "Within 14 days [1]."},
                ]
            }
        )
        + "\n"
    )
    (warning,) = FineTuneService.validate_file(cited, model=MODEL).warnings
    assert (warning.line, warning.category) == (1, "citation_without_source")
    assert warning.message.startswith("line 1: the reply cites [1]")
