"""The dataset builder's behaviour: datasets, their examples in a table, the example
editor and the statistics. The widgets are laid out in ``DatasetBuilderLayout``; files
in and out are ``DatasetFiles``, bulk edits of a selection are ``ExampleEdits``.

Every change is a ``DatasetEdit`` on the undo stack, run by the fine-tuning front door
on the serial "store" queue, so changes, undos and redos happen in the order they were
asked for. After each one the builder re-reads the dataset on the same queue, then
validates it and computes its statistics on a worker (debounced). The GUI thread only
runs the per-example ``check_example`` while the user types."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Signal
from PySide6.QtGui import QHideEvent, QUndoStack
from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from desktop.events import Topic
from desktop.finetune.analysis import Analysis
from desktop.finetune.edits import (
    AddExamples,
    CreateDataset,
    DatasetEdit,
    DeleteDataset,
    RenameDataset,
    UpdateExamples,
)
from desktop.finetune.examples import (
    AnyExample,
    Message,
    TrainingExample,
    common_system_prompt,
)
from desktop.finetune.files import counted
from desktop.finetune.saved_answers import SAVED_ANSWERS, ChatOrigin
from desktop.finetune.service import DatasetSnapshot, FineTuneService
from desktop.finetune.store import Dataset
from desktop.ui.common.events import EventRelay
from desktop.ui.common.table_model import RECORD_ROLE
from desktop.ui.finetune.dataset_builder_layout import DatasetBuilderLayout
from desktop.ui.finetune.dataset_files import DatasetFiles
from desktop.ui.finetune.example_edits import ExampleEdits
from desktop.ui.finetune.examples_model import ExampleFilterProxy
from desktop.ui.finetune.generate_dialog import GenerateDialog
from desktop.ui.finetune.undo import StoreCommand
from desktop.workers import STORE_QUEUE, TaskError, TaskManager, Worker

if TYPE_CHECKING:
    from desktop.retrieval.search import RetrievedChunk

log = logging.getLogger(__name__)

ANALYSIS_QUEUE = "finetune-analysis"


class DatasetBuilder(DatasetBuilderLayout):
    refreshed = Signal()  # the table shows the store as it is now
    analysed = Signal()  # validation and statistics are up to date
    show_requested = Signal()  # something (a saved chat answer) wants the tab in front
    hold_out_requested = Signal(str)  # a dataset's name: make its validation an eval set

    def __init__(
        self,
        service: FineTuneService,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(service.settings().chat_model, parent)
        self.service = service
        self.tasks = tasks
        self.report_error = report_error
        self.datasets: tuple[Dataset, ...] = ()
        self.dataset_id: int | None = None
        self.snapshot: DatasetSnapshot | None = None
        self.analysis: Analysis | None = None
        self.generate_dialog: GenerateDialog | None = None
        self._write_seq = 0
        self._writes = 0
        self._reloads = 0
        self._analyses = 0
        self._analysis_seq = 0
        self._follow_dataset: int | None = None
        self._pending_selection: list[int] = []
        self._focus_new = False
        self._chat_origin: tuple[AddExamples, ChatOrigin] | None = None

        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.files = DatasetFiles(self)
        self.edits = ExampleEdits(self)
        self._connect()
        self._update_actions()
        # Eval questions changed: the leakage warnings must be checked again.
        self.events = EventRelay(service.events, self)
        self.events.on(Topic.EVALUATION, self._evaluation_changed, self)
        self.reload()

    def _connect(self) -> None:
        stack = self.undo_stack
        for signal in (
            stack.canUndoChanged,
            stack.canRedoChanged,
            stack.undoTextChanged,
            stack.redoTextChanged,
        ):
            signal.connect(lambda _: self._update_actions())
        for action, slot in (
            (self.undo_action, self.undo),
            (self.redo_action, self.redo),
            (self.new_dataset_action, self.new_dataset),
            (self.rename_dataset_action, self.rename_dataset),
            (self.delete_dataset_action, self.delete_dataset),
            (self.new_example_action, self.new_example),
            (self.generate_action, self.open_generate_dialog),
            (self.find_action, self.search.setFocus),
            (self.hold_out_action, self._hold_out),
        ):
            action.triggered.connect(lambda _=False, slot=slot: slot())
        self.dataset_combo.activated.connect(self._dataset_chosen)
        self.search.textChanged.connect(lambda _: self.search_timer.start())
        self.search_timer.timeout.connect(self._filter_changed)
        self.reload_timer.timeout.connect(self.reload)
        self.analysis_timer.timeout.connect(self._run_analysis)
        for combo in (self.tag_filter, self.split_filter, self.status_filter):
            combo.currentIndexChanged.connect(lambda _: self._filter_changed())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.customContextMenuRequested.connect(
            lambda pos: self.edit_menu.popup(self.table.viewport().mapToGlobal(pos))
        )
        self.editor.edited.connect(self._example_edited)
        self.editor.checked.connect(self.model.set_live_issues)
        self.editor.undo_requested.connect(self.undo_stack.undo)
        self.editor.redo_requested.connect(self.undo_stack.redo)
        self.stats.inputs_changed.connect(self._schedule_analysis)
        self.stats.model_chosen.connect(self._model_chosen)
        self.stats.show_problems.connect(self.show_problems)

    # -- state -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while typing waits to be saved, or a store change, a re-read or an analysis
        is pending (for tests and the quit path)."""
        return bool(
            self.editor.dirty
            or self._writes
            or self._reloads
            or self._analyses
            or self.reload_timer.isActive()
            or self.analysis_timer.isActive()
        )

    @property
    def dataset(self) -> Dataset | None:
        return next((d for d in self.datasets if d.id == self.dataset_id), None)

    def selected_ids(self) -> list[int]:
        return [e.id for e in self.selected_examples() if e.id is not None]

    def selected_examples(self) -> list[AnyExample]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [self.proxy.data(index, RECORD_ROLE) for index in rows]

    def set_message(self, text: str, *, warning: bool = False) -> None:
        """The right-hand status text: what the last change did (replaced on each one)."""
        self.message_label.setStyleSheet("color:#8a5300;" if warning else "")
        self.message_label.setText(text)
        self.message_label.setToolTip("")
        self.report_button.hide()

    def _update_actions(self) -> None:
        stack = self.undo_stack
        if not isValid(stack) or not isValid(self.undo_button):
            return  # the stack says it is empty while the builder is destroyed
        self.undo_action.setEnabled(stack.canUndo())
        self.redo_action.setEnabled(stack.canRedo())
        self.undo_action.setText(f"Undo {stack.undoText()}" if stack.canUndo() else "Undo")
        self.redo_action.setText(f"Redo {stack.redoText()}" if stack.canRedo() else "Redo")
        self.undo_button.setText("Undo")
        self.redo_button.setText("Redo")
        self.undo_button.setToolTip(f"{self.undo_action.text()} (Ctrl+Z)")
        self.redo_button.setToolTip(f"{self.redo_action.text()} (Ctrl+Shift+Z)")
        has_dataset = self.dataset_id is not None
        has_examples = has_dataset and self.model.rowCount() > 0
        selected = bool(self.table.selectionModel().hasSelection()) and has_examples
        for action in (
            self.rename_dataset_action,
            self.delete_dataset_action,
            self.new_example_action,
            self.generate_action,
        ):
            action.setEnabled(has_dataset)
        for action in (
            self.split_action,
            self.hold_out_action,
            self.export_chat_action,
            self.export_preference_action,
            self.export_messages_action,
        ):
            action.setEnabled(has_examples)
        self.export_button.setEnabled(has_examples)
        for action in (
            self.set_system_action,
            self.replace_system_action,
            self.add_tag_action,
            self.remove_tag_action,
            self.to_train_action,
            self.to_validation_action,
            self.duplicate_action,
            self.delete_action,
        ):
            action.setEnabled(selected)

    def _hold_out(self) -> None:
        if self.dataset is not None:
            self.hold_out_requested.emit(self.dataset.name)

    def hideEvent(self, event: QHideEvent) -> None:
        self.editor.flush()  # leaving the tab, or the window closing, saves pending typing
        super().hideEvent(event)

    # -- changes (all through the undo stack) -------------------------------------------------

    def push(
        self, operation: DatasetEdit, *, message: str | None = None, warning: bool = False
    ) -> StoreCommand:
        """Do ``operation`` as one undoable step; ``message`` is what the status line says
        once it is done (by default the step's own words)."""
        self.editor.flush()
        command = StoreCommand(operation, self._submit, done_message=message, done_warning=warning)
        self.undo_stack.push(command)
        return command

    def undo(self) -> None:
        self.editor.flush()  # typing not yet saved is the most recent change
        self.undo_stack.undo()

    def redo(self) -> None:
        self.editor.flush()
        self.undo_stack.redo()

    def _submit(self, command: StoreCommand, forward: bool) -> None:
        operation = command.operation
        self._write_seq += 1
        self._writes += 1
        title = (
            operation.text if forward else f"Undo {operation.text[0].lower()}{operation.text[1:]}"
        )
        service = self.service
        worker = self.tasks.run(
            lambda: service.apply(operation, forward), title=title, queue=STORE_QUEUE
        )
        worker.signals.result.connect(lambda _: self._operation_done(command, forward))
        worker.signals.error.connect(lambda e: self._operation_failed(command, forward, title, e))
        worker.signals.finished.connect(self._write_finished)

    def _operation_done(self, command: StoreCommand, forward: bool) -> None:
        operation = command.operation
        if operation.dataset_id is not None:
            self._follow_dataset = operation.dataset_id
        ids = operation.affected_ids(forward)
        if ids:
            self._pending_selection = ids
        if forward and command.done_message:
            self.set_message(command.done_message, warning=command.done_warning)
            self.report_button.setVisible(command.done_warning)
        else:
            self.set_message(f"{operation.text}." if forward else f"Undone: {operation.text}.")
        chat = self._chat_origin
        if chat is not None and chat[0] is operation and forward:
            if isinstance(operation, AddExamples) and operation.ids:
                self.editor.set_origin(replace(chat[1], example_id=operation.ids[0]))
            self._chat_origin = None

    def _operation_failed(
        self, command: StoreCommand, forward: bool, title: str, error: TaskError
    ) -> None:
        self.report_error(title, error)
        if forward and isValid(command) and self.undo_stack.index() > 0:
            top = self.undo_stack.command(self.undo_stack.index() - 1)
            if top is command:
                # Nothing happened, so there is nothing to undo: drop the step.
                command.setObsolete(True)
                self.undo_stack.undo()

    def _write_finished(self) -> None:
        self._writes -= 1
        self.reload_timer.start()

    # -- reading the store --------------------------------------------------------------------

    def reload(self) -> Worker:
        """Re-read the datasets and the current one's examples, after pending writes."""
        wanted = self._follow_dataset if self._follow_dataset is not None else self.dataset_id
        self._follow_dataset = None
        seq = self._write_seq
        self._reloads += 1
        service = self.service
        worker = self.tasks.run(
            lambda: service.snapshot(wanted), title="Loading the dataset", queue=STORE_QUEUE
        )
        worker.signals.result.connect(lambda snapshot: self._show_snapshot(snapshot, seq))
        worker.signals.error.connect(lambda e: self.report_error("Loading the dataset", e))
        worker.signals.finished.connect(self._reload_finished)
        return worker

    def _reload_finished(self) -> None:
        self._reloads -= 1

    def _show_snapshot(self, snapshot: DatasetSnapshot, seq: int) -> None:
        if seq != self._write_seq:
            return  # a change was asked for since: its own re-read follows
        switched = snapshot.dataset_id != self.dataset_id
        previous_selection = [] if switched else self.selected_ids()
        self.snapshot = snapshot
        self.datasets = snapshot.datasets
        self.dataset_id = snapshot.dataset_id
        self._show_datasets()
        if switched:
            self.editor.show_nothing()
            self.analysis = None
            self.stats.show_analysis(None)
        self.model.set_examples(snapshot.examples)
        self._update_tag_filter()
        if self.dataset_id is None:
            self.examples_stack.setCurrentWidget(self.no_datasets)
        elif not snapshot.examples:
            self.examples_stack.setCurrentWidget(self.no_examples)
        else:
            self.examples_stack.setCurrentWidget(self.table)
        has_table = self.examples_stack.currentWidget() is self.table
        self.filters.setVisible(has_table)
        self.side.setVisible(has_table)
        # The count at once; the analysis adds errors, tokens and cost when it is done.
        dataset = self.dataset
        self.summary_label.setText(
            counted(len(snapshot.examples), "example") if dataset is not None else ""
        )
        if dataset is not None and dataset.model:
            self.stats.set_model(dataset.model)
        wanted = self._pending_selection or previous_selection
        self._pending_selection = []
        if wanted and wanted != self.selected_ids():
            self.select_examples(wanted)
        self._sync_editor()
        self._update_showing()
        self._update_actions()
        self._schedule_analysis()
        self.refreshed.emit()

    def _show_datasets(self) -> None:
        combo = self.dataset_combo
        combo.blockSignals(True)
        combo.clear()
        for dataset in self.datasets:
            combo.addItem(f"{dataset.name} ({dataset.example_count:,})", dataset.id)
        if self.dataset_id is not None:
            combo.setCurrentIndex(combo.findData(self.dataset_id))
        combo.setEnabled(bool(self.datasets))
        if not self.datasets:
            combo.addItem("No datasets")
        combo.blockSignals(False)

    def _dataset_chosen(self, index: int) -> None:
        dataset_id = self.dataset_combo.itemData(index)
        if dataset_id is None or dataset_id == self.dataset_id:
            return
        self.select_dataset(dataset_id)

    def select_dataset(self, dataset_id: int) -> Worker:
        self.editor.flush()
        self._follow_dataset = dataset_id
        return self.reload()

    def _sync_editor(self) -> None:
        """Show the stored version of the open example, unless the user is typing."""
        example_id = self.editor.example_id
        ids = self.selected_ids()
        if len(ids) != 1:
            if example_id is not None and self.model.row_of(example_id) is None:
                self.editor.show_nothing(len(ids))
            return
        row = self.model.row_of(ids[0])
        if row is None:
            return
        example = self.model.example(row)
        if example.id == example_id and self.editor.dirty:
            return
        self.editor.set_example(example, self.model.position_of(example.id))
        if self._focus_new:
            self._focus_new = False
            self.side.setCurrentWidget(self.editor)
            empty = next((c for c in self.editor.cards if not c.content.toPlainText()), None)
            if empty is not None:
                empty.content.setFocus()

    # -- selection, filters and the editor ------------------------------------------------------

    def select_examples(self, ids: Sequence[int]) -> None:
        selection = QItemSelection()
        first = None
        for example_id in ids:
            row = self.model.row_of(example_id)
            if row is None:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if not index.isValid():
                continue
            selection.select(index, index)
            first = first or index
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.selectionModel().select(selection, flags)
        if first is not None:
            self.table.selectionModel().setCurrentIndex(
                first, QItemSelectionModel.SelectionFlag.NoUpdate
            )
            self.table.scrollTo(first)

    def _selection_changed(self) -> None:
        ids = self.selected_ids()
        self.proxy.pin(ids[0] if len(ids) == 1 else None)
        if len(ids) == 1:
            row = self.model.row_of(ids[0])
            if row is not None:
                self.editor.set_example(self.model.example(row), self.model.position_of(ids[0]))
        else:
            self.editor.show_nothing(len(ids))
        self._update_actions()

    def _example_edited(self, example: AnyExample) -> None:
        if self.dataset_id is None or example.id is None:
            return
        self.model.update_example(example)
        position = self.model.position_of(example.id)
        number = f" {position + 1}" if position is not None else ""
        self.push(UpdateExamples(self.dataset_id, [example], f"Edit example{number}"))

    def _filter_changed(self) -> None:
        self.proxy.pin(None)
        self.proxy.set_filters(
            self.search.text(),
            self.tag_filter.currentData() or "",
            self.split_filter.currentData() or "",
            self.status_filter.currentData() or "",
        )
        self._update_showing()

    def _update_tag_filter(self) -> None:
        current = self.tag_filter.currentData() or ""
        tags = self.model.tags()
        known = [self.tag_filter.itemData(i) for i in range(1, self.tag_filter.count())]
        if known == tags:
            return
        self.tag_filter.blockSignals(True)
        self.tag_filter.clear()
        self.tag_filter.addItem("All tags", "")
        for tag in tags:
            self.tag_filter.addItem(tag, tag)
        found = self.tag_filter.findData(current) if current else 0
        self.tag_filter.setCurrentIndex(max(0, found))
        self.tag_filter.blockSignals(False)
        if current and found < 0:
            self._filter_changed()

    def _update_showing(self) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        if self.proxy.active:
            text = f"{shown:,} of {total:,} shown"
            if total and not shown:
                text = "No example matches the filter"
            self.showing_label.setText(text)
        else:
            self.showing_label.setText("")

    def show_problems(self) -> None:
        self.status_filter.setCurrentIndex(self.status_filter.findData(ExampleFilterProxy.PROBLEMS))

    # -- validation and statistics -----------------------------------------------------------

    def _evaluation_changed(self) -> None:
        self.analysis = None  # the reuse of an analysis assumes the same eval questions
        self._schedule_analysis()

    def _schedule_analysis(self) -> None:
        self.analysis_timer.start()

    def _model_chosen(self, model: str) -> None:
        dataset_id = self.dataset_id
        if dataset_id is None or not model:
            return
        service = self.service
        worker = self.tasks.run(
            lambda: service.set_dataset_model(dataset_id, model),
            title="Saving the dataset's model",
            queue=STORE_QUEUE,
        )
        worker.signals.error.connect(lambda e: self.report_error("Saving the model", e))

    def _run_analysis(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or snapshot.dataset_id is None:
            return
        self._analysis_seq += 1
        seq = self._analysis_seq
        examples, previous, service = snapshot.examples, self.analysis, self.service
        model = self.stats.model_name
        epochs = self.stats.epochs_value
        price = self.stats.price_value
        self._analyses += 1

        def run() -> Analysis:
            return service.analyse(
                examples, model=model, epochs=epochs, price_per_million=price, previous=previous
            )

        worker = self.tasks.run(run, title="Checking the dataset", queue=ANALYSIS_QUEUE)
        worker.signals.result.connect(lambda result: self._show_analysis(result, seq))
        worker.signals.error.connect(lambda e: self.report_error("Checking the dataset", e))
        worker.signals.finished.connect(self._analysis_finished)

    def _analysis_finished(self) -> None:
        self._analyses -= 1

    def _show_analysis(self, analysis: Analysis, seq: int) -> None:
        snapshot = self.snapshot
        if (
            seq != self._analysis_seq
            or snapshot is None
            or analysis.examples is not snapshot.examples
        ):
            return
        self.analysis = analysis
        ids = [e.id for e in analysis.examples]
        self.model.set_analysis(
            {i: issues for i, issues in zip(ids, analysis.issues, strict=True) if i is not None},
            {i: tokens for i, tokens in zip(ids, analysis.tokens, strict=True) if i is not None},
        )
        self.stats.show_analysis(analysis)
        stats = analysis.stats
        parts = [counted(stats.examples, "example")]
        if analysis.error_count:
            parts.append(f"<span style='color:#b71c1c'>{analysis.error_count} with errors</span>")
        if analysis.warning_count:
            parts.append(
                f"<span style='color:#8a5300'>{analysis.warning_count} with warnings</span>"
            )
        if stats.examples:
            parts.append(f"{stats.cost.billed_tokens_per_epoch:,} training tokens per epoch")
        if stats.examples and stats.cost.cost is not None:
            parts.append(f"≈ ${stats.cost.cost:,.2f} for {stats.cost.epochs} epochs")
        self.summary_label.setText(" · ".join(parts))
        self._update_showing()
        self.analysed.emit()

    # -- datasets ------------------------------------------------------------------------------

    def name_taken(self, name: str, *, except_id: int | None = None) -> bool:
        cleaned = " ".join(name.split()).lower()
        return any(d.name.lower() == cleaned and d.id != except_id for d in self.datasets)

    def free_name(self, name: str) -> str:
        """``name``, or ``name (2)``, ``name (3)``… if a dataset has it already."""
        base = " ".join(name.split()) or "Imported"
        candidate, number = base, 2
        while self.name_taken(candidate):
            candidate, number = f"{base} ({number})", number + 1
        return candidate

    def new_dataset(self) -> StoreCommand | None:
        name = self.ask_text("New dataset", "Name of the new dataset:", "", False)
        if name is None or not name.strip():
            return None
        if self.name_taken(name):
            self.set_message(f"A dataset named “{name.strip()}” exists already.")
            return None
        return self.push(CreateDataset(" ".join(name.split()), self.stats.model_name))

    def rename_dataset(self) -> StoreCommand | None:
        dataset = self.dataset
        if dataset is None:
            return None
        name = self.ask_text("Rename dataset", "New name:", dataset.name, False)
        if name is None or not name.strip() or " ".join(name.split()) == dataset.name:
            return None
        if self.name_taken(name, except_id=dataset.id):
            self.set_message(f"A dataset named “{name.strip()}” exists already.")
            return None
        return self.push(RenameDataset(dataset.id, " ".join(name.split())))

    def delete_dataset(self) -> StoreCommand | None:
        dataset = self.dataset
        if dataset is None:
            return None
        if dataset.example_count and not self.confirm(
            "Delete dataset",
            f"Delete “{dataset.name}” and its {counted(dataset.example_count, 'example')}? "
            "Undo (Ctrl+Z) brings them back.",
        ):
            return None
        return self.push(DeleteDataset(dataset.id, dataset.name))

    # -- examples -----------------------------------------------------------------------------

    def add_examples(
        self, examples: Sequence[AnyExample], text: str, *, dataset_id: int | None = None
    ) -> StoreCommand | None:
        target = dataset_id if dataset_id is not None else self.dataset_id
        if target is None or not examples:
            return None
        return self.push(AddExamples(target, examples, text=text))

    def new_example(self) -> StoreCommand | None:
        if self.dataset_id is None:
            return None
        messages = [Message("user", ""), Message("assistant", "")]
        system = common_system_prompt(self.model.examples)
        if system is not None:
            messages.insert(0, Message("system", system))
        self._focus_new = True
        return self.add_examples([TrainingExample(tuple(messages))], "New example")

    def add_example_from_chat(
        self,
        question: str,
        answer: str,
        *,
        system_prompt: str | None,
        sources: Sequence[RetrievedChunk] = (),
        keep_context: bool | None = None,
    ) -> StoreCommand:
        """Add a chat answer to the current dataset (or to "Saved answers", made if needed)
        and open it in the editor, where the user keeps or strips its sources."""
        if keep_context is None:
            keep_context = self.editor.origin.keep_context if self.editor.origin else False
        origin = ChatOrigin(None, question, answer, system_prompt, tuple(sources), keep_context)
        operation = AddExamples(
            self.dataset_id,
            [origin.example()],
            text="Save a chat answer",
            create_name=None if self.dataset_id is not None else SAVED_ANSWERS,
        )
        self._chat_origin = (operation, origin)
        self.search.clear()
        for combo in (self.status_filter, self.split_filter, self.tag_filter):
            combo.setCurrentIndex(0)
        self.side.setCurrentWidget(self.editor)
        self.show_requested.emit()
        return self.push(operation)

    # -- drafting from documents --------------------------------------------------------------

    def open_generate_dialog(self) -> GenerateDialog | None:
        dataset = self.dataset
        if dataset is None:
            return None
        if self.generate_dialog is not None and isValid(self.generate_dialog):
            if not self.generate_dialog.running:
                self.generate_dialog.close()
                self.generate_dialog.deleteLater()
            else:
                self.generate_dialog.raise_()
                return self.generate_dialog
        dialog = GenerateDialog(
            self.service,
            self.tasks,
            self.report_error,
            dataset_name=dataset.name,
            system_prompt=common_system_prompt(self.model.examples),
            parent=self,
        )
        dataset_id = dataset.id
        dialog.accept_example.connect(
            lambda example: self.add_examples(
                [example], "Accept a drafted example", dataset_id=dataset_id
            )
        )
        self.generate_dialog = dialog
        dialog.show()
        return dialog
