"""How examples come into the dataset builder from files and go out as JSONL: the
Import and Export menus, the sample dataset, and the report of lines that could not be
read. Reading and writing run on workers through the fine-tuning front door, whose
export is the same as ``ragtune dataset export``'s; what a file holds becomes one
undoable step."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from shiboken6 import isValid

from desktop.finetune.edits import AddExamples
from desktop.finetune.files import EXPORT_KINDS, ImportOutcome, counted, examples_of_kind
from desktop.finetune.jsonl import ExportSummary, ImportResult
from desktop.resources import resource
from desktop.ui.finetune.import_dialogs import ImportReportDialog
from desktop.workers import STORE_QUEUE, Worker

if TYPE_CHECKING:
    from desktop.ui.finetune.dataset_builder import DatasetBuilder

SAMPLE_DATASET = ("datasets", "support-replies.jsonl")
SAMPLE_NAME = "Support replies (sample)"


class DatasetFiles(QObject):
    def __init__(self, builder: DatasetBuilder) -> None:
        super().__init__(builder)
        self.builder = builder
        self.last_import: ImportOutcome | None = None
        self.last_export: ExportSummary | None = None
        self.report_dialog: ImportReportDialog | None = None
        for action, slot in (
            (builder.import_chat_action, lambda: self.import_file("chat")),
            (builder.import_preference_action, lambda: self.import_file("preference")),
            (builder.import_csv_action, lambda: self.import_file("csv")),
            (builder.load_sample_action, self.load_sample),
            (builder.export_chat_action, lambda: self.export("chat")),
            (builder.export_preference_action, lambda: self.export("preference")),
            (builder.export_messages_action, lambda: self.export("messages")),
        ):
            action.triggered.connect(lambda _=False, slot=slot: slot())
        builder.report_button.clicked.connect(self.show_import_report)

    # -- import --------------------------------------------------------------------------

    def _target(self, paths: list[Path]) -> tuple[int | None, str | None] | None:
        """Where the files go: (the dataset shown, None) or (None, a new dataset's name);
        None when the user cancelled. A dataset with examples is only added to when the
        user says so; an empty one is what a new dataset would be."""
        builder = self.builder
        dataset = builder.dataset
        new_name = builder.free_name(paths[0].stem)
        if dataset is None:
            return None, new_name
        if not dataset.example_count:
            return dataset.id, None
        names = ", ".join(p.name for p in paths)
        answer = builder.choose_import_target(names, dataset.name)
        if answer == "this":
            return dataset.id, None
        if answer == "new":
            return None, new_name
        return None

    def import_file(self, kind: str) -> list[Worker]:
        paths = self.builder.choose_open_paths(kind)
        if not paths:
            return []
        target = self._target(paths)
        if target is None:
            self.builder.set_message("Nothing imported.")
            return []
        dataset_id, create_name = target
        return [
            self.import_path(p, kind, dataset_id=dataset_id, create_name=create_name) for p in paths
        ]

    def load_sample(self) -> Worker:
        """Reachable from the Import menu too: the sample goes into a dataset of its own."""
        name = self.builder.free_name(SAMPLE_NAME)
        return self.import_path(resource(*SAMPLE_DATASET), "chat", create_name=name)

    def import_path(
        self,
        path: Path,
        kind: str,
        *,
        dataset_id: int | None = None,
        create_name: str | None = None,
    ) -> Worker:
        """Read a file on a worker into ``dataset_id`` or a new dataset ``create_name``;
        every line it could not read goes into the report."""
        builder, service, path = self.builder, self.builder.service, Path(path)
        if kind == "csv":
            worker = builder.tasks.run(service.csv_header, path, title="Reading the CSV header")
            worker.signals.result.connect(
                lambda header: self._map_csv(path, header, dataset_id, create_name)
            )
            worker.signals.error.connect(lambda e: builder.report_error(f"Reading {path.name}", e))
            return worker
        worker = builder.tasks.run(service.read_file, path, kind, title=f"Reading {path.name}")
        worker.signals.result.connect(
            lambda result: self._imported(path, kind, result, dataset_id, create_name)
        )
        worker.signals.error.connect(lambda e: builder.report_error(f"Importing {path.name}", e))
        return worker

    def _map_csv(
        self, path: Path, header: list[str], dataset_id: int | None, create_name: str | None
    ) -> None:
        builder = self.builder
        if not header:
            builder.set_message(f"{path.name} is empty.")
            return
        mapping = builder.map_csv_columns(path, header)
        if mapping is None:
            return
        service = builder.service

        def read() -> ImportResult[Any]:
            return service.read_file(
                path, "csv", mapping=mapping.mapping, has_header=mapping.has_header
            )

        worker = builder.tasks.run(read, title=f"Reading {path.name}")
        worker.signals.result.connect(
            lambda result: self._imported(path, "csv", result, dataset_id, create_name)
        )
        worker.signals.error.connect(lambda e: builder.report_error(f"Importing {path.name}", e))

    def _imported(
        self,
        path: Path,
        kind: str,
        result: ImportResult[Any],
        dataset_id: int | None,
        create_name: str | None,
    ) -> None:
        builder = self.builder
        outcome = ImportOutcome(path, kind, len(result.examples), list(result.problems))
        self.last_import = outcome
        message = outcome.summary() + "."
        if result.examples:
            builder.push(
                AddExamples(
                    dataset_id,
                    result.examples,
                    text=f"Import {counted(len(result.examples), 'example')} from {path.name}",
                    create_name=create_name if dataset_id is None else None,
                    select_first=True,
                ),
                message=message,
                warning=bool(outcome.problems),
            )
        else:
            builder.set_message(message, warning=bool(outcome.problems))
            builder.report_button.setVisible(bool(outcome.problems))
        if outcome.problems:
            self.show_import_report()

    def show_import_report(self) -> ImportReportDialog | None:
        if self.last_import is None:
            return None
        if self.report_dialog is not None and isValid(self.report_dialog):
            self.report_dialog.close()
        self.report_dialog = ImportReportDialog(self.last_import, self.builder)
        self.report_dialog.show()
        return self.report_dialog

    # -- export --------------------------------------------------------------------------

    def export(self, kind: str) -> Worker | None:
        """Write the dataset as ``kind`` JSONL: training examples to the chosen file, and
        validation examples (if any) to ``…-validation.jsonl`` beside it."""
        builder = self.builder
        dataset = builder.dataset
        if dataset is None:
            return None
        builder.editor.flush()
        if not examples_of_kind(builder.model.examples, kind):
            what = "preference (DPO)" if kind == "preference" else "chat"
            builder.set_message(f"This dataset has no {what} examples to export.")
            return None
        errors = builder.analysis.error_count if builder.analysis is not None else 0
        if (
            errors
            and kind != "messages"
            and not builder.confirm(
                "Export with errors",
                f"{counted(errors, 'example')} with errors that OpenAI would reject. "
                "Export anyway?",
            )
        ):
            return None
        title = EXPORT_KINDS[kind][0]
        path = builder.choose_save_path(
            f"Export {title}", builder.service.export_name(dataset.name, kind)
        )
        if path is None:
            return None
        service, dataset_id = builder.service, dataset.id
        worker = builder.tasks.run(
            lambda: service.export(dataset_id, kind, path),
            title=f"Exporting {title}",
            queue=STORE_QUEUE,
        )
        worker.signals.result.connect(self._exported)
        worker.signals.error.connect(lambda e: builder.report_error("Exporting", e))
        return worker

    def _exported(self, summary: ExportSummary) -> None:
        self.last_export = summary
        text = f"Exported {counted(summary.train, 'training example')} to {summary.train_path.name}"
        if summary.validation_path is not None:
            text += (
                f" and {counted(summary.validation, 'validation example')} to "
                f"{summary.validation_path.name}"
            )
        self.builder.set_message(text + ".")
        self.builder.message_label.setToolTip(str(summary.train_path.parent))
