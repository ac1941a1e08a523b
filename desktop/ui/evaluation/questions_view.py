"""The Questions page of the Evaluate tab: the set's questions in a table and the one
selected in an editor; its actions (with their shortcuts) live here, the behaviour in
the tab's controller (``EvaluateTab``)."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.evaluation.leakage import LeakedExample, describe_leaks
from desktop.evaluation.records import EvalQuestion, ExpectedSource
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.menus import tool_button
from desktop.ui.common.table_model import RECORD_ROLE, SEARCH_ROLE, SORT_ROLE, record_table
from desktop.ui.evaluation.models import QuestionsModel

SOURCE_SEPARATOR = " | "


def make_action(
    owner: QWidget, text: str, shortcut: str | QKeySequence | None = None, tip: str = ""
) -> QAction:
    """An action with its shortcut shown in its tooltip, active while the owner (or a
    child) has focus."""
    action = QAction(text, owner)
    if shortcut is not None:
        keys = QKeySequence(shortcut)
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        name = keys.toString(QKeySequence.SequenceFormat.NativeText)
        tip = f"{tip} ({name})" if tip else name
        owner.addAction(action)
    if tip:
        action.setToolTip(tip)
    return action


def text_box(placeholder: str, height: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText(placeholder)
    box.setTabChangesFocus(True)  # Tab moves on, never trapped in the box
    box.setMaximumHeight(height)
    return box


def select_only(table: QTableView, index: QModelIndex) -> None:
    """Select exactly the row of ``index`` (``selectRow`` toggles while Ctrl is held)."""
    flags = (
        QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows
        | QItemSelectionModel.SelectionFlag.Current
    )
    table.selectionModel().setCurrentIndex(index, flags)
    table.scrollTo(index)


def sources_text(sources: tuple[ExpectedSource, ...]) -> str:
    return "\n".join(
        f"{s.document}{SOURCE_SEPARATOR}{s.passage}" if s.passage else s.document for s in sources
    )


def parse_sources(text: str, before: tuple[ExpectedSource, ...]) -> tuple[ExpectedSource, ...]:
    """One source a line: "document | passage" (either part may be missing). A line left
    as it was keeps its offsets."""
    kept = {sources_text((s,)): s for s in before}
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line in kept:
            found.append(kept[line])
            continue
        document, _, passage = line.partition(SOURCE_SEPARATOR.strip())
        found.append(ExpectedSource(document.strip(), passage.strip()))
    return tuple(found)


class QuestionEditor(QWidget):
    """One question: edited, then applied as one undoable step (Ctrl+Return)."""

    applied = Signal(object)  # the edited EvalQuestion

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question_id: int | None = None
        self._original: EvalQuestion | None = None
        self.title = QLabel("<b>Question</b>")
        self.question = text_box("What a user would ask", 90)
        self.answer = text_box("The right answer (the reference the answers are scored on)", 90)
        self.alternatives = text_box("Other right answers, one a line (optional)", 60)
        self.sources = text_box(
            f"Where the answer is, one a line: document{SOURCE_SEPARATOR}passage (optional)", 70
        )
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("tags, separated by commas")
        self.answerable = QCheckBox("The documents answer it")
        self.answerable.setToolTip(
            "Untick for a question the documents cannot answer: saying so is the right answer"
        )
        self.leak_label = QLabel()
        self.leak_label.setWordWrap(True)
        self.leak_label.setStyleSheet("color:#8a5300;")
        self.leak_label.hide()
        self.origin = QLabel()
        self.origin.setStyleSheet("color:#666;")
        self.origin.setWordWrap(True)
        self.apply_action = make_action(
            self, "Apply", "Ctrl+Return", "Keep the changes; Ctrl+Z undoes them"
        )
        self.apply_action.triggered.connect(self.apply)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip(self.apply_action.toolTip())
        self.apply_button.clicked.connect(self.apply)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Show the question as it is saved")
        self.revert_button.clicked.connect(lambda: self.show_question(self._original, None))
        form = QFormLayout()
        form.addRow("Question:", self.question)
        form.addRow("Reference:", self.answer)
        form.addRow("Also right:", self.alternatives)
        form.addRow("Source:", self.sources)
        form.addRow("Tags:", self.tags)
        form.addRow("", self.answerable)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(self.leak_label)
        layout.addWidget(self.origin)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.show_question(None, None)

    def show_question(
        self, question: EvalQuestion | None, leaks: list[LeakedExample] | None
    ) -> None:
        self._original = question
        self.question_id = question.id if question else None
        enabled = question is not None
        for widget in (
            self.question,
            self.answer,
            self.alternatives,
            self.sources,
            self.tags,
            self.answerable,
            self.apply_button,
            self.revert_button,
        ):
            widget.setEnabled(enabled)
        q = question or EvalQuestion("")
        self.title.setText(
            f"<b>Question {q.position + 1}</b>" if question else "<b>No question selected</b>"
        )
        self.question.setPlainText(q.question)
        self.answer.setPlainText(q.answer)
        self.alternatives.setPlainText("\n".join(q.alternatives))
        self.sources.setPlainText(sources_text(q.sources))
        self.tags.setText(", ".join(q.tags))
        self.answerable.setChecked(q.answerable)
        self.origin.setText(f"Origin: {q.origin}" if q.origin else "")
        self.leak_label.setVisible(bool(leaks))
        if leaks:
            self.leak_label.setText("Also " + describe_leaks(leaks).removeprefix("also ") + ".")

    def edited(self) -> EvalQuestion | None:
        if self._original is None:
            return None
        return replace(
            self._original,
            question=self.question.toPlainText().strip(),
            answer=self.answer.toPlainText().strip(),
            alternatives=tuple(
                a.strip() for a in self.alternatives.toPlainText().splitlines() if a.strip()
            ),
            sources=parse_sources(self.sources.toPlainText(), self._original.sources),
            tags=tuple(t.strip() for t in self.tags.text().split(",") if t.strip()),
            answerable=self.answerable.isChecked(),
        )

    def apply(self) -> None:
        edited = self.edited()
        if edited is None or not edited.question or edited == self._original:
            return
        self.applied.emit(edited)


class FilterProxy(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(SEARCH_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)


class QuestionsView(QWidget):
    """The set chooser, the actions, the questions table and the editor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        a = lambda *args: make_action(self, *args)  # noqa: E731
        self.new_set_action = a("New set…", "Ctrl+Shift+N", "Make an empty eval set")
        self.rename_set_action = a("Rename…", "F2", "Rename the eval set")
        self.delete_set_action = a("Delete set", None, "Delete the set (undo brings it back)")
        self.undo_action = a("Undo", QKeySequence.StandardKey.Undo, "Undo the last change")
        self.redo_action = a("Redo", "Ctrl+Shift+Z", "Redo what was undone")
        self.new_question_action = a("New question", "Ctrl+N", "Write a question by hand")
        self.import_action = a(
            "Import…", "Ctrl+I", "Import questions: JSONL, CSV with a column mapping, SQuAD JSON"
        )
        self.draft_action = a(
            "Draft from documents…",
            "Ctrl+G",
            "Let the chat model draft questions grounded in library chunks, to review",
        )
        self.export_action = a("Export JSONL…", "Ctrl+E", "Write the set as JSONL")
        self.format_action = a(
            "Answer format…",
            None,
            "Declare the format answers must keep (JSON, a JSON Schema, a dataset's template)",
        )
        self.delete_action = a(
            "Delete", QKeySequence.StandardKey.Delete, "Delete the selected questions"
        )
        self.find_action = a("Filter", QKeySequence.StandardKey.Find, "Filter the questions")

        self.set_combo = QComboBox()
        self.set_combo.setMinimumContentsLength(18)
        self.set_combo.setToolTip("The eval set shown")
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Eval set</b>"))
        top.addWidget(self.set_combo, 1)
        for action in (self.new_set_action, self.rename_set_action, self.delete_set_action):
            top.addWidget(tool_button(action))
        top.addSpacing(8)
        self.undo_button = tool_button(self.undo_action)
        self.redo_button = tool_button(self.redo_action)
        top.addWidget(self.undo_button)
        top.addWidget(self.redo_button)

        self.more_menu = QMenu(self)
        self.more_menu.addAction(self.format_action)
        self.more_menu.addAction(self.export_action)
        more = QToolButton()
        more.setText("More")
        more.setToolTip("Answer format and export")
        more.setMenu(self.more_menu)
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter questions (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        actions = QHBoxLayout()
        for action in (
            self.new_question_action,
            self.import_action,
            self.draft_action,
            self.delete_action,
        ):
            actions.addWidget(tool_button(action))
        actions.addWidget(more)
        actions.addWidget(self.search, 1)
        self.format_label = QLabel()
        self.format_label.setStyleSheet("color:#555;")
        self.format_label.setWordWrap(True)
        self.leaks_label = QLabel()
        self.leaks_label.setStyleSheet("color:#8a5300;")
        self.leaks_label.setWordWrap(True)
        self.leaks_label.hide()

        self.model = QuestionsModel(self)
        self.proxy = FilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = record_table(
            self.proxy,
            stretch=QuestionsModel.QUESTION,
            samples=(
                "999",
                "A reference answer",
                "user-manual.md: “A …",
                "keyword",
                "no reference",
            ),
            sort_column=QuestionsModel.NUMBER,
            many=True,
        )
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in (self.new_question_action, self.delete_action):
            self.table.addAction(action)
        self.editor = QuestionEditor()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.editor)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([640, 420])

        self.no_sets = EmptyState(
            "No eval sets yet",
            "An eval set is questions whose right answers you know. Make one by hand, import "
            "a JSONL, CSV or SQuAD file, draft questions from your documents, or save chat "
            "answers with “Save as eval question”.",
        )
        self.no_sets_new = self.no_sets.add_action("New set…", self.new_set_action.trigger)
        self.no_sets_import = self.no_sets.add_action(
            "Import questions…", self.import_action.trigger
        )
        self.no_questions = EmptyState(
            "This set has no questions yet",
            "Add questions by hand (Ctrl+N), import a file (Ctrl+I) or draft them from the "
            "library's documents with the chat model (Ctrl+G).",
        )
        self.no_questions.add_action("New question", self.new_question_action.trigger)
        self.no_questions.add_action("Draft from documents…", self.draft_action.trigger)
        self.stack = QStackedWidget()
        for widget in (self.no_sets, self.no_questions, self.splitter):
            self.stack.addWidget(widget)
        self.message = QLabel()
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.format_label)
        layout.addWidget(self.leaks_label)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.find_action.triggered.connect(lambda: self.search.setFocus())

    def selected_questions(self) -> list[EvalQuestion]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [self.proxy.data(index, RECORD_ROLE) for index in rows]

    def select_question(self, question_id: int) -> None:
        row = self.model.row_of(question_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            select_only(self.table, index)

    def set_message(self, text: str, *, warning: bool = False) -> None:
        self.message.setStyleSheet("color:#8a5300;" if warning else "")
        self.message.setText(text)
