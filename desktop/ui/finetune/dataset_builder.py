"""The dataset builder: datasets, their examples in a table, the example editor, the
statistics, and the ways examples come in (by hand, from chat, from documents, from
files) and go out (JSONL exports).

Every change to the store is a ``DatasetEdit`` on the undo stack and runs on the
serial "store" queue, so changes, undos and redos happen in the order they were asked
for. After each one the builder re-reads the dataset on the same queue, then validates
it and computes its statistics on a worker (debounced). The GUI thread only runs the
per-example ``check_example`` while the user types."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop.context import AppContext
from desktop.finetune.analysis import Analysis, Counters, analyse
from desktop.finetune.edits import (
    AddExamples,
    BulkEdit,
    CreateDataset,
    DatasetEdit,
    DeleteDataset,
    DeleteExamples,
    DuplicateExamples,
    RenameDataset,
    SplitByFraction,
    UpdateExamples,
    set_split,
)
from desktop.finetune.examples import (
    AnyExample,
    Message,
    PreferenceExample,
    Split,
    TrainingExample,
)
from desktop.finetune.jsonl import (
    ExportSummary,
    ImportResult,
    csv_header,
    export_chat_jsonl,
    export_chat_messages_jsonl,
    export_preference_jsonl,
    read_chat_jsonl,
    read_csv,
    read_preference_jsonl,
)
from desktop.finetune.store import Dataset, DatasetStore
from desktop.resources import resource
from desktop.ui.common.dialogs import Confirm, ask
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.table_model import RECORD_ROLE, fit_columns
from desktop.ui.finetune.example_editor import ExampleEditor
from desktop.ui.finetune.examples_model import (
    ERROR,
    WARNING,
    ExampleFilterProxy,
    ExampleTableModel,
)
from desktop.ui.finetune.generate_dialog import GenerateDialog
from desktop.ui.finetune.import_dialogs import (
    CsvMapping,
    CsvMappingDialog,
    ImportOutcome,
    ImportReportDialog,
)
from desktop.ui.finetune.saved_answers import SAVED_ANSWERS, ChatOrigin, chat_example
from desktop.ui.finetune.split_dialog import SplitDialog
from desktop.ui.finetune.stats_panel import StatsPanel
from desktop.ui.finetune.undo import StoreCommand
from desktop.workers import TaskError, TaskManager, Worker

log = logging.getLogger(__name__)

STORE_QUEUE = "store"
ANALYSIS_QUEUE = "finetune-analysis"
ANALYSIS_DELAY_MS = 250
SEARCH_DELAY_MS = 150  # filtering 50,000 rows on every keystroke would lag the typing
SAMPLE_DATASET = ("datasets", "support-replies.jsonl")
SAMPLE_NAME = "Support replies (sample)"

AskText = Callable[[str, str, str, bool], "str | None"]  # title, label, text, multiline

_IMPORT_KINDS = {
    "chat": ("Import OpenAI chat JSONL", "JSON Lines (*.jsonl *.json);;All files (*)"),
    "preference": ("Import OpenAI DPO JSONL", "JSON Lines (*.jsonl *.json);;All files (*)"),
    "csv": ("Import CSV", "CSV files (*.csv *.tsv *.txt);;All files (*)"),
}
_EXPORT_KINDS = {
    "chat": ("OpenAI chat JSONL", "train.jsonl"),
    "preference": ("OpenAI DPO JSONL", "dpo-train.jsonl"),
    "messages": ("Chat-messages JSONL for TRL, Axolotl", "messages-train.jsonl"),
}


@dataclass(frozen=True)
class Snapshot:
    """The store as one worker read it: every dataset, and the examples of one."""

    datasets: tuple[Dataset, ...]
    dataset_id: int | None
    examples: list[AnyExample]


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


def common_system_prompt(examples: Sequence[AnyExample]) -> str | None:
    prompts = Counter(
        e.system_prompt
        for e in examples
        if isinstance(e, TrainingExample) and e.system_prompt is not None
    )
    return prompts.most_common(1)[0][0] if prompts else None


class DatasetBuilder(QWidget):
    refreshed = Signal()  # the table shows the store as it is now
    analysed = Signal()  # validation and statistics are up to date
    show_requested = Signal()  # something (a saved chat answer) wants the tab in front

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.tasks = tasks
        self.report_error = report_error
        # Injectable for tests: nothing modal opens unless these defaults run.
        self.confirm: Confirm = ask(self)
        self.ask_text: AskText = self._ask_text
        self.ask_replace: Callable[[], tuple[str, str] | None] = self._ask_replace
        self.choose_split: Callable[[int], tuple[float, int] | None] = self._choose_split
        self.choose_open_paths: Callable[[str], list[Path]] = self._choose_open_paths
        self.choose_save_path: Callable[[str, str], Path | None] = self._choose_save_path
        self.map_csv_columns: Callable[[Path, list[str]], CsvMapping | None] = self._map_csv_columns

        self.datasets: tuple[Dataset, ...] = ()
        self.dataset_id: int | None = None
        self.snapshot: Snapshot | None = None
        self.analysis: Analysis | None = None
        self.last_import: ImportOutcome | None = None
        self.last_export: ExportSummary | None = None
        self.generate_dialog: GenerateDialog | None = None
        self.report_dialog: ImportReportDialog | None = None
        self._counters = Counters()
        self._write_seq = 0
        self._writes = 0
        self._reloads = 0
        self._analyses = 0
        self._analysis_seq = 0
        self._follow_dataset: int | None = None
        self._pending_selection: list[int] = []
        self._focus_new = False
        self._chat_operation: AddExamples | None = None
        self._chat_source: tuple[str, str | None, bool] | None = None

        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)

        self._build_actions()
        self._build_widgets()
        self._connect()
        self._update_actions()
        self.reload()

    # =====================================================================================
    # Construction
    # =====================================================================================

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: str | QKeySequence | QKeySequence.StandardKey | list[QKeySequence] | None = None,
        tip: str = "",
        owner: QWidget | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda _=False: slot())
        if shortcut is not None:
            given = list(shortcut) if isinstance(shortcut, list | tuple) else [shortcut]
            keys = [QKeySequence(key) for key in given]
            action.setShortcuts(keys)
            names = " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            tip = f"{tip} ({names})" if tip else names
            action.setShortcutContext(
                Qt.ShortcutContext.WidgetShortcut
                if owner is not None
                else Qt.ShortcutContext.WidgetWithChildrenShortcut
            )
            (owner or self).addAction(action)
        if tip:
            action.setToolTip(tip)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.undo_action = a(
            "Undo", self.undo, QKeySequence(QKeySequence.StandardKey.Undo), "Undo the last change"
        )
        self.redo_action = a(
            "Redo",
            self.redo,
            [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")],
            "Redo what was undone",
        )
        self.new_dataset_action = a("New dataset…", self.new_dataset, "Ctrl+Shift+N")
        self.rename_dataset_action = a("Rename…", self.rename_dataset, "F2", "Rename the dataset")
        self.delete_dataset_action = a(
            "Delete dataset", self.delete_dataset, None, "Delete the dataset (undo brings it back)"
        )
        self.new_example_action = a(
            "New example", self.new_example, "Ctrl+N", "Write an example by hand"
        )
        self.import_chat_action = a(
            "OpenAI chat JSONL…", lambda: self.import_file("chat"), "Ctrl+I"
        )
        self.import_preference_action = a(
            "OpenAI DPO (preference) JSONL…", lambda: self.import_file("preference")
        )
        self.import_csv_action = a("CSV with column mapping…", lambda: self.import_file("csv"))
        self.generate_action = a(
            "Draft from documents…",
            self.open_generate_dialog,
            "Ctrl+G",
            "Let the chat model draft question-and-answer pairs from library chunks",
        )
        self.split_action = a(
            "Split…", self.split_by_percentage, None, "Hold out a share for validation"
        )
        self.export_chat_action = a(
            "OpenAI chat JSONL (training + validation)…", lambda: self.export("chat"), "Ctrl+E"
        )
        self.export_preference_action = a(
            "OpenAI DPO JSONL (training + validation)…", lambda: self.export("preference")
        )
        self.export_messages_action = a(
            "Chat-messages JSONL for TRL / Axolotl…", lambda: self.export("messages")
        )
        self.set_system_action = a("Set system prompt…", self.set_system_prompt)
        self.replace_system_action = a("Replace in system prompt…", self.replace_in_system_prompt)
        self.add_tag_action = a("Add tag…", self.add_tag)
        self.remove_tag_action = a("Remove tag…", self.remove_tag)
        self.to_train_action = a("Move to training", lambda: self.move_to("train"))
        self.to_validation_action = a("Move to validation", lambda: self.move_to("validation"))
        self.find_action = a(
            "Filter", lambda: self.search.setFocus(), QKeySequence.StandardKey.Find
        )

    def _build_widgets(self) -> None:
        # -- datasets row ---------------------------------------------------------------------
        self.dataset_combo = QComboBox()
        self.dataset_combo.setMinimumWidth(240)
        self.dataset_combo.setToolTip("The dataset shown (each workspace can hold several)")
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Dataset</b>"))
        top.addWidget(self.dataset_combo)
        for action in (
            self.new_dataset_action,
            self.rename_dataset_action,
            self.delete_dataset_action,
        ):
            top.addWidget(self._button(action))
        top.addSpacing(16)
        self.undo_button = self._button(self.undo_action)
        self.redo_button = self._button(self.redo_action)
        top.addWidget(self.undo_button)
        top.addWidget(self.redo_button)
        top.addStretch(1)

        # -- actions row ------------------------------------------------------------------------
        self.delete_action = self._action(
            "Delete", self.delete_selected, QKeySequence.StandardKey.Delete, "Delete the selection"
        )
        self.duplicate_action = self._action(
            "Duplicate", self.duplicate_selected, "Ctrl+D", "Duplicate the selection"
        )
        self.import_menu = QMenu(self)
        for action in (self.import_chat_action, self.import_preference_action):
            self.import_menu.addAction(action)
        self.import_menu.addAction(self.import_csv_action)
        self.edit_menu = QMenu(self)
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.edit_menu.addSeparator()
        for action in (
            self.set_system_action,
            self.replace_system_action,
            self.add_tag_action,
            self.remove_tag_action,
        ):
            self.edit_menu.addAction(action)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.to_train_action)
        self.edit_menu.addAction(self.to_validation_action)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.duplicate_action)
        self.edit_menu.addAction(self.delete_action)
        self.export_menu = QMenu(self)
        for action in (
            self.export_chat_action,
            self.export_preference_action,
            self.export_messages_action,
        ):
            self.export_menu.addAction(action)
        self.new_example_button = self._button(self.new_example_action)
        self.import_button = self._menu_button("Import", self.import_menu, "Import examples")
        self.generate_button = self._button(self.generate_action)
        self.edit_button = self._menu_button(
            "Edit", self.edit_menu, "Undo, redo, and changes to the selected examples"
        )
        self.split_button = self._button(self.split_action)
        self.export_button = self._menu_button("Export", self.export_menu, "Write JSONL files")
        actions_row = QHBoxLayout()
        for widget in (
            self.new_example_button,
            self.import_button,
            self.generate_button,
            self.edit_button,
            self.split_button,
            self.export_button,
        ):
            actions_row.addWidget(widget)
        actions_row.addStretch(1)

        # -- filters -------------------------------------------------------------------------
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter examples by text (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.tag_filter = QComboBox()
        self.tag_filter.addItem("All tags", "")
        self.tag_filter.setMinimumContentsLength(10)
        self.split_filter = QComboBox()
        for label, value in (
            ("Both splits", ""),
            ("Training", "train"),
            ("Validation", "validation"),
        ):
            self.split_filter.addItem(label, value)
        self.status_filter = QComboBox()
        for label, value in (
            ("Any status", ""),
            ("Errors or warnings", ExampleFilterProxy.PROBLEMS),
            ("Errors", ERROR),
            ("Warnings", WARNING),
            ("Valid", "valid"),
        ):
            self.status_filter.addItem(label, value)
        self.showing_label = QLabel()
        self.filters = QWidget()
        filters = QHBoxLayout(self.filters)
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.tag_filter)
        filters.addWidget(self.split_filter)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.showing_label)

        # -- table ---------------------------------------------------------------------------
        self.model = ExampleTableModel(self)
        self.proxy = ExampleFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(ExampleTableModel.INDEX, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        fit_columns(
            self.table,
            ExampleTableModel.QUESTION,
            ("9999", "W" * 18, "99", "99,999", "billing, sync", "validation", "warning"),
        )
        for action in (self.delete_action, self.duplicate_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.removeAction(action)
            self.table.addAction(action)

        self.no_datasets = EmptyState(
            "No datasets yet",
            "A dataset holds the examples a model is fine-tuned on: conversations that show "
            "the model how to answer. Create one and write examples by hand, import a JSONL "
            "or CSV file, draft examples from your documents, or save answers from the Chat "
            "tab.",
        )
        self.no_datasets.add_action("New dataset…", self.new_dataset)
        self.no_datasets.add_action("Import a JSONL file…", lambda: self.import_file("chat"))
        self.sample_button = self.no_datasets.add_action(
            "Load the sample dataset", self.load_sample
        )
        self.no_examples = EmptyState(
            "This dataset has no examples yet",
            "Write one by hand (Ctrl+N), import a JSONL or CSV file, or let the chat model "
            "draft question-and-answer pairs from your library documents for you to review. "
            "OpenAI needs at least 10 examples; gains usually show from 50–100 good ones.",
        )
        self.no_examples.add_action("New example", self.new_example)
        self.no_examples.add_action("Import a file…", lambda: self.import_file("chat"))
        self.no_examples.add_action("Draft from documents…", self.open_generate_dialog)
        self.examples_stack = QStackedWidget()
        self.examples_stack.addWidget(self.no_datasets)
        self.examples_stack.addWidget(self.no_examples)
        self.examples_stack.addWidget(self.table)

        # -- editor and statistics ---------------------------------------------------------------
        self.editor = ExampleEditor()
        self.stats = StatsPanel(self.context.settings.chat_model)
        self.side = QTabWidget()
        self.side.addTab(self.editor, "Example")
        self.side.addTab(self.stats, "Statistics")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.filters)
        left_layout.addWidget(self.examples_stack, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([820, 520])

        # -- status line -----------------------------------------------------------------------
        self.summary_label = QLabel()
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.report_button = QPushButton("Import report…")
        self.report_button.hide()
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary_label)
        bottom.addSpacing(16)
        bottom.addWidget(self.message_label, 1)
        bottom.addWidget(self.report_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(actions_row)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._filter_changed)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(0)
        self._reload_timer.timeout.connect(self.reload)
        self.analysis_timer = QTimer(self)
        self.analysis_timer.setSingleShot(True)
        self.analysis_timer.setInterval(ANALYSIS_DELAY_MS)
        self.analysis_timer.timeout.connect(self._run_analysis)

    @staticmethod
    def _button(action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    @staticmethod
    def _menu_button(text: str, menu: QMenu, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        return button

    def _connect(self) -> None:
        stack = self.undo_stack
        stack.canUndoChanged.connect(lambda _: self._update_actions())
        stack.canRedoChanged.connect(lambda _: self._update_actions())
        stack.undoTextChanged.connect(lambda _: self._update_actions())
        stack.redoTextChanged.connect(lambda _: self._update_actions())
        self.dataset_combo.activated.connect(self._dataset_chosen)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.tag_filter.currentIndexChanged.connect(lambda _: self._filter_changed())
        self.split_filter.currentIndexChanged.connect(lambda _: self._filter_changed())
        self.status_filter.currentIndexChanged.connect(lambda _: self._filter_changed())
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
        self.report_button.clicked.connect(self.show_import_report)

    # =====================================================================================
    # State
    # =====================================================================================

    @property
    def busy(self) -> bool:
        """True while typing waits to be saved, or a store change, a re-read or an analysis
        is pending (for tests and the quit path)."""
        return bool(
            self.editor.dirty
            or self._writes
            or self._reloads
            or self._analyses
            or self._reload_timer.isActive()
            or self.analysis_timer.isActive()
        )

    @property
    def dataset(self) -> Dataset | None:
        return next((d for d in self.datasets if d.id == self.dataset_id), None)

    def _store(self) -> DatasetStore:
        """Only on workers: opening the workspace touches the disk."""
        return DatasetStore(self.context.workspace)

    def selected_ids(self) -> list[int]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [self.proxy.data(index, RECORD_ROLE).id for index in rows]

    def selected_examples(self) -> list[AnyExample]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [self.proxy.data(index, RECORD_ROLE) for index in rows]

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

    def hideEvent(self, event: QHideEvent) -> None:
        self.editor.flush()  # leaving the tab, or the window closing, saves pending typing
        super().hideEvent(event)

    # =====================================================================================
    # Store changes (all through the undo stack)
    # =====================================================================================

    def push(self, operation: DatasetEdit) -> StoreCommand:
        """Do ``operation`` as one undoable step."""
        self.editor.flush()
        command = StoreCommand(operation, self._submit)
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
        worker = self.tasks.run(
            lambda: operation.run(self._store(), forward), title=title, queue=STORE_QUEUE
        )
        worker.signals.result.connect(lambda _: self._operation_done(operation, forward))
        worker.signals.error.connect(lambda e: self._operation_failed(command, forward, title, e))
        worker.signals.finished.connect(self._write_finished)

    def _operation_done(self, operation: DatasetEdit, forward: bool) -> None:
        if operation.dataset_id is not None:
            self._follow_dataset = operation.dataset_id
        ids = operation.affected_ids(forward)
        if ids:
            self._pending_selection = ids
        if operation is self._chat_operation and forward and self._chat_source is not None:
            question, context, keep = self._chat_source
            if isinstance(operation, AddExamples) and operation.ids:
                self.editor.set_origin(ChatOrigin(operation.ids[0], question, context, keep))
            self._chat_source = None

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
        self._reload_timer.start()

    # =====================================================================================
    # Reading the store
    # =====================================================================================

    def reload(self) -> Worker:
        """Re-read the datasets and the current one's examples, after pending writes."""
        wanted = self._follow_dataset if self._follow_dataset is not None else self.dataset_id
        self._follow_dataset = None
        seq = self._write_seq
        self._reloads += 1

        def load() -> Snapshot:
            store = self._store()
            datasets = tuple(store.datasets())
            ids = [d.id for d in datasets]
            chosen = wanted if wanted in ids else (ids[0] if ids else None)
            examples = store.examples(chosen) if chosen is not None else []
            return Snapshot(datasets, chosen, examples)

        worker = self.tasks.run(load, title="Loading the dataset", queue=STORE_QUEUE)
        worker.signals.result.connect(lambda snapshot: self._show_snapshot(snapshot, seq))
        worker.signals.error.connect(lambda e: self.report_error("Loading the dataset", e))
        worker.signals.finished.connect(self._reload_finished)
        return worker

    def _reload_finished(self) -> None:
        self._reloads -= 1

    def _show_snapshot(self, snapshot: Snapshot, seq: int) -> None:
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
        dataset = self.dataset
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
        self.editor.flush()
        self._follow_dataset = dataset_id
        self.reload()

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

    # =====================================================================================
    # Selection, filters and the editor
    # =====================================================================================

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

    # =====================================================================================
    # Validation and statistics
    # =====================================================================================

    def _schedule_analysis(self) -> None:
        self.analysis_timer.start()

    def _model_chosen(self, model: str) -> None:
        dataset_id = self.dataset_id
        if dataset_id is None or not model:
            return
        worker = self.tasks.run(
            lambda: self._store().set_model(dataset_id, model),
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
        examples = snapshot.examples
        model = self.stats.model_name
        epochs = self.stats.epochs_value
        price = self.stats.price_value
        previous = self.analysis
        counters = self._counters
        self._analyses += 1

        def run() -> Analysis:
            return analyse(
                examples,
                model=model,
                epochs=epochs,
                price_per_million=price,
                counter=counters.for_model(model),
                previous=previous,
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
        parts = [f"{stats.examples:,} examples"]
        if analysis.error_count:
            parts.append(f"<span style='color:#b71c1c'>{analysis.error_count} with errors</span>")
        if analysis.warning_count:
            parts.append(
                f"<span style='color:#8a5300'>{analysis.warning_count} with warnings</span>"
            )
        parts.append(f"{stats.cost.billed_tokens_per_epoch:,} training tokens per epoch")
        if stats.cost.cost is not None:
            parts.append(f"≈ ${stats.cost.cost:,.2f} for {stats.cost.epochs} epochs")
        self.summary_label.setText(" · ".join(parts))
        self._update_showing()
        self.analysed.emit()

    # =====================================================================================
    # Datasets
    # =====================================================================================

    def _name_taken(self, name: str, *, except_id: int | None = None) -> bool:
        cleaned = " ".join(name.split()).lower()
        return any(d.name.lower() == cleaned and d.id != except_id for d in self.datasets)

    def new_dataset(self) -> StoreCommand | None:
        name = self.ask_text("New dataset", "Name of the new dataset:", "", False)
        if name is None or not name.strip():
            return None
        if self._name_taken(name):
            self.message_label.setText(f"A dataset named “{name.strip()}” exists already.")
            return None
        return self.push(CreateDataset(" ".join(name.split()), self.stats.model_name))

    def rename_dataset(self) -> StoreCommand | None:
        dataset = self.dataset
        if dataset is None:
            return None
        name = self.ask_text("Rename dataset", "New name:", dataset.name, False)
        if name is None or not name.strip() or " ".join(name.split()) == dataset.name:
            return None
        if self._name_taken(name, except_id=dataset.id):
            self.message_label.setText(f"A dataset named “{name.strip()}” exists already.")
            return None
        return self.push(RenameDataset(dataset.id, " ".join(name.split())))

    def delete_dataset(self) -> StoreCommand | None:
        dataset = self.dataset
        if dataset is None:
            return None
        if dataset.example_count and not self.confirm(
            "Delete dataset",
            f"Delete “{dataset.name}” and its {dataset.example_count:,} examples? "
            "Undo (Ctrl+Z) brings them back.",
        ):
            return None
        return self.push(DeleteDataset(dataset.id, dataset.name))

    # =====================================================================================
    # Examples
    # =====================================================================================

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

    def delete_selected(self) -> StoreCommand | None:
        ids = self.selected_ids()
        if not ids or self.dataset_id is None:
            return None
        return self.push(DeleteExamples(self.dataset_id, ids))

    def duplicate_selected(self) -> StoreCommand | None:
        ids = self.selected_ids()
        if not ids or self.dataset_id is None:
            return None
        return self.push(DuplicateExamples(self.dataset_id, ids))

    def _bulk(self, method: str, *args: object, text: str) -> StoreCommand | None:
        ids = self.selected_ids()
        if not ids or self.dataset_id is None:
            return None
        return self.push(BulkEdit(self.dataset_id, ids, method, *args, text=text))

    def set_system_prompt(self) -> StoreCommand | None:
        ids = self.selected_ids()
        if not ids:
            return None
        current = common_system_prompt(self.selected_examples()) or ""
        text = self.ask_text(
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
            text=f"Set the system prompt of {len(ids)} example(s)",
        )

    def replace_in_system_prompt(self) -> StoreCommand | None:
        if not self.selected_ids():
            return None
        answer = self.ask_replace()
        if answer is None or not answer[0]:
            return None
        old, new = answer
        return self._bulk("replace_in_system_prompt", old, new, text="Replace in system prompts")

    def add_tag(self) -> StoreCommand | None:
        if not self.selected_ids():
            return None
        tag = self.ask_text("Add tag", "Tag to add to the selected examples:", "", False)
        if tag is None or not tag.strip():
            return None
        return self._bulk("add_tag", tag.strip(), text=f"Add tag “{tag.strip()}”")

    def remove_tag(self) -> StoreCommand | None:
        examples = self.selected_examples()
        if not examples:
            return None
        tags = Counter(tag for e in examples for tag in e.tags)
        suggestion = tags.most_common(1)[0][0] if tags else ""
        tag = self.ask_text(
            "Remove tag", "Tag to remove from the selected examples:", suggestion, False
        )
        if tag is None or not tag.strip():
            return None
        return self._bulk("remove_tag", tag.strip(), text=f"Remove tag “{tag.strip()}”")

    def move_to(self, split: str) -> StoreCommand | None:
        ids = self.selected_ids()
        if not ids or self.dataset_id is None or split not in ("train", "validation"):
            return None
        return self.push(
            set_split(self.dataset_id, ids, "train" if split == "train" else "validation")
        )

    def split_by_percentage(self) -> StoreCommand | None:
        if self.dataset_id is None or not self.model.rowCount():
            return None
        chosen = self.choose_split(self.model.rowCount())
        if chosen is None:
            return None
        fraction, seed = chosen
        return self.push(SplitByFraction(self.dataset_id, fraction, seed))

    # =====================================================================================
    # From chat
    # =====================================================================================

    def add_example_from_chat(
        self,
        question: str,
        answer: str,
        *,
        system_prompt: str | None,
        context: str | None,
        keep_context: bool | None = None,
    ) -> StoreCommand:
        """Add a chat answer to the current dataset (or to "Saved answers", made if needed)
        and open it in the editor, where the user keeps or strips the context."""
        if keep_context is None:
            keep_context = self.editor.origin.keep_context if self.editor.origin else False
        example = chat_example(
            question,
            answer,
            system_prompt=system_prompt,
            context=context,
            keep_context=keep_context,
        )
        operation = AddExamples(
            self.dataset_id,
            [example],
            text="Save a chat answer",
            create_name=None if self.dataset_id is not None else SAVED_ANSWERS,
        )
        self._chat_operation = operation
        self._chat_source = (question, context, keep_context)
        self.search.clear()
        self.status_filter.setCurrentIndex(0)
        self.split_filter.setCurrentIndex(0)
        self.tag_filter.setCurrentIndex(0)
        self.side.setCurrentWidget(self.editor)
        self.show_requested.emit()
        return self.push(operation)

    # =====================================================================================
    # Import
    # =====================================================================================

    def import_file(self, kind: str) -> list[Worker]:
        return [self.import_path(path, kind) for path in self.choose_open_paths(kind)]

    def load_sample(self) -> Worker:
        return self.import_path(resource(*SAMPLE_DATASET), "chat", create_name=SAMPLE_NAME)

    def import_path(self, path: Path, kind: str, *, create_name: str | None = None) -> Worker:
        """Read a file on a worker; what it holds becomes one undoable step, and every line
        it could not read goes into the report."""
        path = Path(path)
        if kind == "csv":
            worker = self.tasks.run(csv_header, path, title="Reading the CSV header")
            worker.signals.result.connect(lambda header: self._map_csv(path, header, create_name))
            worker.signals.error.connect(lambda e: self.report_error(f"Reading {path.name}", e))
            return worker
        reader = read_chat_jsonl if kind == "chat" else read_preference_jsonl
        worker = self.tasks.run(
            reader, path, split=split_of_file(path), title=f"Reading {path.name}"
        )
        worker.signals.result.connect(
            lambda result: self._imported(path, kind, result, create_name)
        )
        worker.signals.error.connect(lambda e: self.report_error(f"Importing {path.name}", e))
        return worker

    def _map_csv(self, path: Path, header: list[str], create_name: str | None) -> None:
        if not header:
            self.message_label.setText(f"{path.name} is empty.")
            return
        mapping = self.map_csv_columns(path, header)
        if mapping is None:
            return
        worker = self.tasks.run(
            lambda: read_csv(
                path, mapping.mapping, has_header=mapping.has_header, split=split_of_file(path)
            ),
            title=f"Reading {path.name}",
        )
        worker.signals.result.connect(
            lambda result: self._imported(path, "csv", result, create_name)
        )
        worker.signals.error.connect(lambda e: self.report_error(f"Importing {path.name}", e))

    def _imported(
        self, path: Path, kind: str, result: ImportResult, create_name: str | None
    ) -> None:
        outcome = ImportOutcome(path, kind, len(result.examples), list(result.problems))
        self.last_import = outcome
        self.message_label.setText(outcome.summary() + ".")
        self.message_label.setStyleSheet("color:#8a5300;" if outcome.problems else "")
        self.report_button.setVisible(bool(outcome.problems))
        if result.examples:
            target = self.dataset_id if create_name is None else None
            self.push(
                AddExamples(
                    target,
                    result.examples,
                    text=f"Import {len(result.examples):,} examples from {path.name}",
                    create_name=create_name or (path.stem if target is None else None),
                )
            )
        if outcome.problems:
            self.show_import_report()

    def show_import_report(self) -> ImportReportDialog | None:
        if self.last_import is None:
            return None
        if self.report_dialog is not None and isValid(self.report_dialog):
            self.report_dialog.close()
        self.report_dialog = ImportReportDialog(self.last_import, self)
        self.report_dialog.show()
        return self.report_dialog

    # =====================================================================================
    # Export
    # =====================================================================================

    def export(self, kind: str) -> Worker | None:
        """Write the dataset as ``kind`` JSONL: training examples to the chosen file, and
        validation examples (if any) to ``…-validation.jsonl`` beside it."""
        dataset = self.dataset
        if dataset is None:
            return None
        self.editor.flush()
        wanted = PreferenceExample if kind == "preference" else TrainingExample
        examples = [e for e in self.model.examples if isinstance(e, wanted)]
        if not examples:
            what = "preference (DPO)" if kind == "preference" else "chat"
            self.message_label.setText(f"This dataset has no {what} examples to export.")
            return None
        errors = self.analysis.error_count if self.analysis is not None else 0
        if (
            errors
            and kind != "messages"
            and not self.confirm(
                "Export with errors",
                f"{errors} example(s) have errors that OpenAI would reject. Export anyway?",
            )
        ):
            return None
        title, suggested = _EXPORT_KINDS[kind]
        stem = "-".join(dataset.name.lower().split())
        path = self.choose_save_path(f"Export {title}", f"{stem}-{suggested}")
        if path is None:
            return None
        validation = validation_path_for(path)
        dataset_id = dataset.id

        def write() -> ExportSummary:
            stored = [e for e in self._store().examples(dataset_id) if isinstance(e, wanted)]
            held_out = validation if any(e.split == "validation" for e in stored) else None
            if kind == "chat":
                return export_chat_jsonl(stored, path, held_out)  # type: ignore[arg-type]
            if kind == "preference":
                return export_preference_jsonl(stored, path, held_out)  # type: ignore[arg-type]
            return export_chat_messages_jsonl(
                stored,  # type: ignore[arg-type]
                path,
                held_out,
                training_field="train",
            )

        worker = self.tasks.run(write, title=f"Exporting {title}", queue=STORE_QUEUE)
        worker.signals.result.connect(self._exported)
        worker.signals.error.connect(lambda e: self.report_error("Exporting", e))
        return worker

    def _exported(self, summary: ExportSummary) -> None:
        self.last_export = summary
        text = f"Exported {summary.train:,} training examples to {summary.train_path.name}"
        if summary.validation_path is not None:
            text += (
                f" and {summary.validation:,} validation examples to {summary.validation_path.name}"
            )
        self.message_label.setStyleSheet("")
        self.message_label.setText(text + ".")
        self.message_label.setToolTip(str(summary.train_path.parent))

    # =====================================================================================
    # Drafting from documents
    # =====================================================================================

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
            self.context,
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

    # =====================================================================================
    # Default (modal) choices; tests replace these attributes
    # =====================================================================================

    def _ask_text(self, title: str, label: str, text: str, multiline: bool) -> str | None:
        if multiline:
            value, ok = QInputDialog.getMultiLineText(self, title, label, text)
        else:
            value, ok = QInputDialog.getText(self, title, label, text=text)
        return value if ok else None

    def _ask_replace(self) -> tuple[str, str] | None:
        old = self._ask_text("Replace in system prompt", "Find this text:", "", False)
        if not old:
            return None
        new = self._ask_text("Replace in system prompt", f"Replace “{old}” with:", "", False)
        return None if new is None else (old, new)

    def _choose_split(self, examples: int) -> tuple[float, int] | None:
        dialog = SplitDialog(examples, self)
        if dialog.exec() != SplitDialog.DialogCode.Accepted:
            return None
        return dialog.fraction, dialog.seed.value()

    def _choose_open_paths(self, kind: str) -> list[Path]:
        title, pattern = _IMPORT_KINDS[kind]
        files, _ = QFileDialog.getOpenFileNames(self, title, "", pattern)
        return [Path(f) for f in files]

    def _choose_save_path(self, title: str, suggested: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self, title, suggested, "JSON Lines (*.jsonl);;All files (*)"
        )
        return Path(path) if path else None

    def _map_csv_columns(self, path: Path, header: list[str]) -> CsvMapping | None:
        dialog = CsvMappingDialog(path, header, self)
        if dialog.exec() != CsvMappingDialog.DialogCode.Accepted:
            return None
        return dialog.result_mapping()
