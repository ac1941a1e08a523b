"""The dataset builder's widgets and actions, laid out; no behaviour. The controller
(``DatasetBuilder``, a subclass) connects the actions and fills the widgets.

The questions the builder may ask (a name, a file, a split, a CSV mapping, where an
import goes) are attributes, so tests answer them without a modal dialog; the defaults
here open the dialogs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.common.dialogs import Confirm, ask
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.menus import tool_button
from desktop.ui.common.table_model import record_table
from desktop.ui.finetune.example_editor import ExampleEditor
from desktop.ui.finetune.examples_model import (
    ERROR,
    WARNING,
    ExampleFilterProxy,
    ExampleTableModel,
)
from desktop.ui.finetune.import_dialogs import CsvMapping, CsvMappingDialog
from desktop.ui.finetune.split_dialog import SplitDialog
from desktop.ui.finetune.stats_panel import StatsPanel

AskText = Callable[[str, str, str, bool], "str | None"]  # title, label, text, multiline
ImportTarget = Callable[[str, str], "str | None"]  # file name, dataset → "new", "this", None

SEARCH_DELAY_MS = 150  # filtering 50,000 rows on every keystroke would lag the typing
ANALYSIS_DELAY_MS = 250

_IMPORT_KINDS = {
    "chat": ("Import OpenAI chat JSONL", "JSON Lines (*.jsonl *.json);;All files (*)"),
    "preference": ("Import OpenAI DPO JSONL", "JSON Lines (*.jsonl *.json);;All files (*)"),
    "csv": ("Import CSV", "CSV files (*.csv *.tsv *.txt);;All files (*)"),
}


def menu_button(text: str, menu: QMenu, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setMenu(menu)
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    return button


class DatasetBuilderLayout(QWidget):
    def __init__(self, default_model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Injectable for tests: nothing modal opens unless these defaults run.
        self.confirm: Confirm = ask(self)
        self.ask_text: AskText = self._ask_text
        self.ask_replace: Callable[[], tuple[str, str] | None] = self._ask_replace
        self.choose_split: Callable[[int], tuple[float, int] | None] = self._choose_split
        self.choose_open_paths: Callable[[str], list[Path]] = self._choose_open_paths
        self.choose_save_path: Callable[[str, str], Path | None] = self._choose_save_path
        self.map_csv_columns: Callable[[Path, list[str]], CsvMapping | None] = self._map_csv_columns
        self.choose_import_target: ImportTarget = self._choose_import_target
        self._build_actions()
        self._build_widgets(default_model)

    def _action(
        self,
        text: str,
        shortcut: str | QKeySequence | QKeySequence.StandardKey | list[QKeySequence] | None = None,
        tip: str = "",
        owner: QWidget | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            given = list(shortcut) if isinstance(shortcut, list | tuple) else [shortcut]
            keys = [QKeySequence(key) for key in given]
            action.setShortcuts(keys)
            names = " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            tip = f"{tip} ({names})" if tip else names
            # The builder's commands work wherever the focus is while the builder is shown
            # (a hidden tab's shortcuts never fire); text boxes keep their own editing keys.
            action.setShortcutContext(
                Qt.ShortcutContext.WidgetShortcut
                if owner is not None
                else Qt.ShortcutContext.WindowShortcut
            )
            (owner or self).addAction(action)
        if tip:
            action.setToolTip(tip)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.undo_action = a(
            "Undo", QKeySequence(QKeySequence.StandardKey.Undo), "Undo the last change"
        )
        self.redo_action = a(
            "Redo", [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")], "Redo what was undone"
        )
        self.new_dataset_action = a("New dataset…", "Ctrl+Shift+N")
        self.rename_dataset_action = a("Rename…", "F2", "Rename the dataset")
        self.delete_dataset_action = a(
            "Delete dataset", None, "Delete the dataset (undo brings it back)"
        )
        self.new_example_action = a("New example", "Ctrl+N", "Write an example by hand")
        self.import_chat_action = a("OpenAI chat JSONL…", "Ctrl+I")
        self.import_preference_action = a("OpenAI DPO (preference) JSONL…")
        self.import_csv_action = a("CSV with column mapping…")
        self.load_sample_action = a(
            "Load the sample dataset", None, "A small support dataset with three planted defects"
        )
        self.generate_action = a(
            "Draft from documents…",
            "Ctrl+G",
            "Let the chat model draft question-and-answer pairs from library chunks",
        )
        self.split_action = a("Split…", None, "Hold out a share for validation")
        self.hold_out_action = a(
            "Hold out as eval set",
            None,
            "Make an eval set of the validation split, in the Evaluate tab",
        )
        self.export_chat_action = a("OpenAI chat JSONL (training + validation)…", "Ctrl+E")
        self.export_preference_action = a("OpenAI DPO JSONL (training + validation)…")
        self.export_messages_action = a("Chat-messages JSONL for TRL / Axolotl…")
        self.set_system_action = a("Set system prompt…")
        self.replace_system_action = a("Replace in system prompt…")
        self.add_tag_action = a("Add tag…")
        self.remove_tag_action = a("Remove tag…")
        self.to_train_action = a("Move to training")
        self.to_validation_action = a("Move to validation")
        self.find_action = a("Filter", QKeySequence.StandardKey.Find)
        self.delete_action = a("Delete", QKeySequence.StandardKey.Delete, "Delete the selection")
        self.duplicate_action = a("Duplicate", "Ctrl+D", "Duplicate the selection")

    def _build_widgets(self, default_model: str) -> None:
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
            top.addWidget(tool_button(action))
        top.addSpacing(16)
        self.undo_button = tool_button(self.undo_action)
        self.redo_button = tool_button(self.redo_action)
        top.addWidget(self.undo_button)
        top.addWidget(self.redo_button)
        top.addStretch(1)

        # -- actions row ------------------------------------------------------------------------
        self.import_menu = QMenu(self)
        for action in (
            self.import_chat_action,
            self.import_preference_action,
            self.import_csv_action,
        ):
            self.import_menu.addAction(action)
        self.import_menu.addSeparator()
        self.import_menu.addAction(self.load_sample_action)
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
        self.export_menu.addSeparator()
        self.export_menu.addAction(self.hold_out_action)
        self.new_example_button = tool_button(self.new_example_action)
        self.import_button = menu_button("Import", self.import_menu, "Import examples")
        self.generate_button = tool_button(self.generate_action)
        self.edit_button = menu_button(
            "Edit", self.edit_menu, "Undo, redo, and changes to the selected examples"
        )
        self.split_button = tool_button(self.split_action)
        self.export_button = menu_button("Export", self.export_menu, "Write JSONL files")
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
        self.table = record_table(
            self.proxy,
            stretch=ExampleTableModel.QUESTION,
            samples=("9999", "W" * 18, "99", "99,999", "billing, sync", "validation", "warning"),
            sort_column=ExampleTableModel.INDEX,
            many=True,
        )
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
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
        self.no_datasets.add_action("New dataset…", self.new_dataset_action.trigger)
        self.no_datasets.add_action("Import a JSONL file…", self.import_chat_action.trigger)
        self.sample_button = self.no_datasets.add_action(
            "Load the sample dataset", self.load_sample_action.trigger
        )
        self.no_examples = EmptyState(
            "This dataset has no examples yet",
            "Write one by hand (Ctrl+N), import a JSONL or CSV file, or let the chat model "
            "draft question-and-answer pairs from your library documents for you to review. "
            "OpenAI needs at least 10 examples; gains usually show from 50–100 good ones.",
        )
        self.no_examples.add_action("New example", self.new_example_action.trigger)
        self.no_examples.add_action("Import a file…", self.import_chat_action.trigger)
        self.no_examples.add_action("Draft from documents…", self.generate_action.trigger)
        self.examples_stack = QStackedWidget()
        self.examples_stack.addWidget(self.no_datasets)
        self.examples_stack.addWidget(self.no_examples)
        self.examples_stack.addWidget(self.table)

        # -- editor and statistics ---------------------------------------------------------------
        self.editor = ExampleEditor()
        self.stats = StatsPanel(default_model)
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

        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.reload_timer = QTimer(self)
        self.reload_timer.setSingleShot(True)
        self.reload_timer.setInterval(0)
        self.analysis_timer = QTimer(self)
        self.analysis_timer.setSingleShot(True)
        self.analysis_timer.setInterval(ANALYSIS_DELAY_MS)

    # -- the default (modal) questions; tests replace these attributes ------------------------

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

    def _choose_import_target(self, file_name: str, dataset: str) -> str | None:
        box = QMessageBox(self)
        box.setWindowTitle("Import examples")
        box.setText(f"Import {file_name} into a new dataset, or add it to “{dataset}”?")
        new = box.addButton("New dataset", QMessageBox.ButtonRole.AcceptRole)
        this = box.addButton(f"Add to “{dataset}”", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(new)
        box.exec()
        clicked = box.clickedButton()
        return "new" if clicked is new else "this" if clicked is this else None
