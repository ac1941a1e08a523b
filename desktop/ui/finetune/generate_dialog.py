"""Drafting examples from library documents: choose documents or chunks, let the chat
model write question-and-answer pairs on a worker, and review each one. Only accepted
examples enter the dataset, each as one undoable step; cancelling stops the drafting
and keeps everything accepted (and still shows what was drafted, for review)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.finetune.examples import TrainingExample
from desktop.finetune.generate import (
    ChunkFailure,
    ChunkLabels,
    GenerationResult,
    ProposedExample,
    Selection,
)
from desktop.finetune.service import FineTuneService
from desktop.library.repository import DocumentRecord, StoredChunk
from desktop.progress import Progress
from desktop.ui.common.keyboard import tab_moves_on
from desktop.ui.common.table_model import (
    RECORD_ROLE,
    Index,
    ListTableModel,
    record_table,
)
from desktop.workers import TaskError, TaskManager, Worker

log = logging.getLogger(__name__)

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
_STATE_COLOURS = {ACCEPTED: "#1b5e20", REJECTED: "#b71c1c", PENDING: "#555555"}
_ID_ROLE = Qt.ItemDataRole.UserRole + 20


@dataclass
class Proposal:
    """A drafted example under review (the reviewer may edit it before accepting)."""

    chunk: str
    example: TrainingExample
    state: str = PENDING


class ProposalModel(ListTableModel):
    CHUNK, QUESTION, ANSWER, REVIEW = range(4)
    HEADERS = ("From", "Question", "Answer", "Review")

    def rows(self) -> Sequence[Any]:
        return self.proposals

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.proposals: list[Proposal] = []

    def add(self, proposal: Proposal) -> None:
        row = len(self.proposals)
        self.beginInsertRows(QModelIndex(), row, row)
        self.proposals.append(proposal)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.proposals = []
        self.endResetModel()

    def changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def count(self, state: str) -> int:
        return sum(1 for p in self.proposals if p.state == state)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        proposal = self.proposals[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                proposal.chunk,
                " ".join(proposal.example.question.split()),
                " ".join(proposal.example.answer.split()),
                proposal.state,
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole and column != self.REVIEW:
            return (proposal.chunk, proposal.example.question, proposal.example.answer)[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == self.REVIEW:
            return QColor(_STATE_COLOURS[proposal.state])
        if role == RECORD_ROLE:
            return proposal
        return None


class GenerateDialog(QDialog):
    """Non-modal: drafting runs on a worker while the user reviews."""

    accept_example = Signal(object)  # TrainingExample: the builder adds it to the dataset

    def __init__(
        self,
        service: FineTuneService,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        *,
        dataset_name: str,
        system_prompt: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.tasks = tasks
        self.report_error = report_error
        self.worker: Worker | None = None
        self.labels: tuple[str, ...] = ()
        self.failures: list[ChunkFailure] = []
        self.result: GenerationResult | None = None
        self.documents: dict[int, DocumentRecord] = {}
        self.setWindowTitle(f"Draft examples from documents into “{dataset_name}”")
        self.resize(1200, 720)

        # -- documents ----------------------------------------------------------------
        self.tree = tab_moves_on(QTreeWidget())
        self.tree.setHeaderLabels(["Documents and chunks", "Tokens"])
        self.tree.setColumnWidth(0, 300)
        self.tree.itemExpanded.connect(self._expanded)
        self.tree.itemChanged.connect(lambda *_: self._update_buttons())
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        self.all_button.clicked.connect(lambda: self.check_all(True))
        self.none_button.clicked.connect(lambda: self.check_all(False))
        self.documents_label = QLabel("Loading the library…")
        self.documents_label.setWordWrap(True)

        # -- options ------------------------------------------------------------------
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItem(service.settings().chat_model)
        self.model.setToolTip("The chat model that writes the drafts")
        self.per_chunk = QSpinBox()
        self.per_chunk.setRange(1, 10)
        self.per_chunk.setValue(2)
        self.system_prompt = tab_moves_on(QPlainTextEdit(system_prompt or ""))
        self.system_prompt.setPlaceholderText(
            "The system prompt the fine-tuned model will be used with (optional)"
        )
        self.system_prompt.setMaximumHeight(80)
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Questions per chunk", self.per_chunk)
        form.addRow("System prompt", self.system_prompt)
        self.draft_button = QPushButton("Draft examples")
        self.draft_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel drafting")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("Choose documents or chunks, then draft.")
        self.status.setWordWrap(True)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        pick = QHBoxLayout()
        pick.addWidget(QLabel("<b>1. Choose what to draft from</b>"))
        pick.addStretch(1)
        pick.addWidget(self.all_button)
        pick.addWidget(self.none_button)
        left_layout.addLayout(pick)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(self.documents_label)
        left_layout.addLayout(form)
        run = QHBoxLayout()
        run.addWidget(self.draft_button)
        run.addWidget(self.cancel_button)
        left_layout.addLayout(run)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.status)

        # -- review ---------------------------------------------------------------------
        self.proposals = ProposalModel(self)
        self.table = record_table(
            self.proposals,
            stretch=ProposalModel.ANSWER,
            samples=("refunds.md · chunk 12", "W" * 22, "accepted"),
        )
        self.question = tab_moves_on(QPlainTextEdit())
        self.question.setPlaceholderText("The drafted question")
        self.question.setMaximumHeight(90)
        self.answer = tab_moves_on(QPlainTextEdit())
        self.answer.setPlaceholderText("The drafted answer")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Add this example to the dataset (Ctrl+Return)")
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("Leave this example out (Ctrl+Backspace)")
        self.accept_all_button = QPushButton("Accept all pending")
        self.review_label = QLabel()
        review_buttons = QHBoxLayout()
        review_buttons.addWidget(self.accept_button)
        review_buttons.addWidget(self.reject_button)
        review_buttons.addStretch(1)
        review_buttons.addWidget(self.review_label)
        review_buttons.addWidget(self.accept_all_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(QLabel("<b>2. Review: only accepted examples enter the dataset</b>"))
        right_layout.addWidget(self.table, 2)
        right_layout.addWidget(QLabel("Question"))
        right_layout.addWidget(self.question)
        right_layout.addWidget(QLabel("Answer"))
        right_layout.addWidget(self.answer, 1)
        right_layout.addLayout(review_buttons)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([420, 780])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.draft_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.accept_button.clicked.connect(lambda: self.accept_row(self.current_row()))
        self.reject_button.clicked.connect(lambda: self.reject_row(self.current_row()))
        self.accept_all_button.clicked.connect(self.accept_all)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_current())
        QShortcut(QKeySequence("Ctrl+Return"), self, lambda: self.accept_row(self.current_row()))
        QShortcut(QKeySequence("Ctrl+Backspace"), self, lambda: self.reject_row(self.current_row()))
        self._update_buttons()
        self._load_documents()

    # -- documents ----------------------------------------------------------------------

    def _load_documents(self) -> None:
        worker = self.tasks.run(self.service.library_documents, title="Listing documents")
        worker.signals.result.connect(self._show_documents)
        worker.signals.error.connect(lambda e: self.report_error("Listing documents", e))

    def _show_documents(self, documents: list[DocumentRecord]) -> None:
        self.documents = {d.id: d for d in documents}
        self.tree.blockSignals(True)
        self.tree.clear()
        for document in documents:
            item = QTreeWidgetItem([document.title, f"{document.token_count:,}"])
            item.setData(0, _ID_ROLE, document.id)
            item.setFlags(
                item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsAutoTristate
            )
            item.setCheckState(0, Qt.CheckState.Unchecked)
            item.setToolTip(0, document.source_path)
            if document.chunk_count:
                # Checkable, so the document's tick reaches it (and reads back) until the
                # chunks are listed.
                placeholder = QTreeWidgetItem([f"{document.chunk_count} chunks (open to pick)"])
                placeholder.setFlags(placeholder.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                placeholder.setCheckState(0, Qt.CheckState.Unchecked)
                item.addChild(placeholder)
            self.tree.addTopLevelItem(item)
        self.tree.blockSignals(False)
        if documents:
            self.documents_label.setText(
                f"{len(documents)} documents. Tick whole documents, or open one to pick chunks."
            )
        else:
            self.documents_label.setText(
                "The library is empty: import documents in the Library tab first."
            )
        self._update_buttons()

    def _expanded(self, item: QTreeWidgetItem) -> None:
        document_id = item.data(0, _ID_ROLE)
        if document_id is None or item.childCount() != 1 or item.child(0).data(0, _ID_ROLE):
            return
        worker = self.tasks.run(self.service.library_chunks, document_id, title="Listing chunks")
        worker.signals.result.connect(lambda chunks: self._show_chunks(item, chunks))
        worker.signals.error.connect(lambda e: self.report_error("Listing chunks", e))

    def _show_chunks(self, item: QTreeWidgetItem, chunks: list[StoredChunk]) -> None:
        self.tree.blockSignals(True)
        state = item.checkState(0)
        item.takeChildren()
        for chunk in chunks:
            words = " ".join(chunk.text.split()[:12])
            child = QTreeWidgetItem([f"{chunk.index + 1}. {words}…", f"{chunk.token_count:,}"])
            child.setData(0, _ID_ROLE, chunk.id)
            child.setFlags(child.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            child.setCheckState(
                0,
                Qt.CheckState.Checked
                if state == Qt.CheckState.Checked
                else Qt.CheckState.Unchecked,
            )
            child.setToolTip(0, chunk.text[:800])
            item.addChild(child)
        self.tree.blockSignals(False)

    def check_all(self, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for row in range(self.tree.topLevelItemCount()):
            self.tree.topLevelItem(row).setCheckState(0, state)

    def selection(self) -> list[Selection]:
        chosen = []
        for row in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(row)
            state = item.checkState(0)
            document_id = int(item.data(0, _ID_ROLE))
            if state == Qt.CheckState.Checked:
                chosen.append(Selection(document_id, None))
            elif state == Qt.CheckState.PartiallyChecked:
                ids = frozenset(
                    int(item.child(i).data(0, _ID_ROLE))
                    for i in range(item.childCount())
                    if item.child(i).checkState(0) == Qt.CheckState.Checked
                    and item.child(i).data(0, _ID_ROLE) is not None
                )
                chosen.append(Selection(document_id, ids))
        return chosen

    # -- drafting -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self) -> Worker | None:
        selection = self.selection()
        model = self.model.currentText().strip()
        if self.worker is not None or not selection or not model:
            return None
        titles = {d.id: d.title for d in self.documents.values()}
        system = self.system_prompt.toPlainText().strip() or None
        self.failures = []
        self.result = None
        worker = Worker(
            self.service.draft_examples,
            selection,
            titles,
            model=model,
            per_chunk=self.per_chunk.value(),
            system_prompt=system,
            title="Drafting examples",
        )
        worker.signals.progress.connect(self._step)
        worker.signals.result.connect(self._finished)
        worker.signals.cancelled.connect(self._cancelled)
        worker.signals.error.connect(self._failed)
        worker.signals.finished.connect(self._done)
        self.worker = worker
        self.progress.setRange(0, 0)
        self.status.setText("Reading the chunks…")
        self._update_buttons()
        self.tasks.submit(worker)
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling after the current chunk… accepted examples stay.")

    def _step(self, item: object) -> None:
        if isinstance(item, ChunkLabels):
            self.labels = item.labels
            self.progress.setRange(0, max(1, len(item.labels)))
        elif isinstance(item, Progress):
            if item.total:
                self.progress.setRange(0, item.total)
                self.progress.setValue(item.done)
                self.progress.setFormat(f"{item.done} / {item.total} chunks")
            if self.worker is not None and not self.worker.is_cancelled:
                self.status.setText(item.message)
        elif isinstance(item, ProposedExample):
            label = (
                self.labels[item.chunk_index]
                if item.chunk_index < len(self.labels)
                else f"chunk {item.chunk_index + 1}"
            )
            self.proposals.add(Proposal(label, item.example))
            if self.table.currentIndex().row() < 0:
                self.table.selectRow(0)
            self._update_review()
        elif isinstance(item, ChunkFailure):
            self.failures.append(item)
            self._update_review()

    def _finished(self, result: GenerationResult) -> None:
        self.result = result
        self.status.setText(
            f"Done: {len(result.proposed)} drafted from {result.chunks_done} chunks"
            + (f", {len(result.failures)} chunks gave none" if result.failures else "")
            + ". Review them on the right."
        )

    def _cancelled(self) -> None:
        self.status.setText(
            f"Cancelled. {len(self.proposals.proposals)} drafted so far; the "
            f"{self.proposals.count(ACCEPTED)} accepted are in the dataset."
        )

    def _failed(self, error: TaskError) -> None:
        from desktop.errors import user_message

        self.status.setText(f"Drafting stopped: {user_message(error.exception)}")
        self.report_error("Drafting examples", error)

    def _done(self) -> None:
        self.worker = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("")
        self._update_buttons()

    # -- review ---------------------------------------------------------------------------

    def current_row(self) -> int:
        return self.table.currentIndex().row()

    def _show_current(self) -> None:
        row = self.current_row()
        proposal = self.proposals.proposals[row] if row >= 0 else None
        for edit, text in (
            (self.question, proposal.example.question if proposal else ""),
            (self.answer, proposal.example.answer if proposal else ""),
        ):
            edit.setPlainText(text)
            edit.setReadOnly(proposal is None or proposal.state != PENDING)
        self._update_buttons()

    def _edited_example(self, proposal: Proposal) -> TrainingExample:
        question = self.question.toPlainText().strip()
        answer = self.answer.toPlainText().strip()
        messages = [
            replace(m, content=question)
            if m.role == "user"
            else replace(m, content=answer)
            if m.role == "assistant"
            else m
            for m in proposal.example.messages
        ]
        if question == proposal.example.question and answer == proposal.example.answer:
            return proposal.example
        return replace(proposal.example, messages=tuple(messages))

    def accept_row(self, row: int) -> None:
        if not 0 <= row < len(self.proposals.proposals):
            return
        proposal = self.proposals.proposals[row]
        if proposal.state != PENDING:
            return
        if row == self.current_row():
            proposal.example = self._edited_example(proposal)
        proposal.state = ACCEPTED
        self.proposals.changed(row)
        self.accept_example.emit(proposal.example)
        self._next_pending(row)

    def reject_row(self, row: int) -> None:
        if not 0 <= row < len(self.proposals.proposals):
            return
        proposal = self.proposals.proposals[row]
        if proposal.state != PENDING:
            return
        proposal.state = REJECTED
        self.proposals.changed(row)
        self._next_pending(row)

    def accept_all(self) -> None:
        for row, proposal in enumerate(self.proposals.proposals):
            if proposal.state == PENDING:
                self.accept_row(row)

    def _next_pending(self, after: int) -> None:
        rows = self.proposals.proposals
        following = [i for i in range(len(rows)) if i > after and rows[i].state == PENDING]
        if following:
            self.table.selectRow(following[0])
        self._show_current()
        self._update_review()

    def _update_review(self) -> None:
        model = self.proposals
        text = (
            f"{model.count(ACCEPTED)} accepted · {model.count(REJECTED)} rejected · "
            f"{model.count(PENDING)} to review"
        )
        if self.failures:
            text += f" · {len(self.failures)} chunk(s) gave none"
            self.review_label.setToolTip(
                "\n".join(
                    f"{self.labels[f.chunk_index] if f.chunk_index < len(self.labels) else ''}: "
                    f"{f.reason}"
                    for f in self.failures
                )
            )
        self.review_label.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.worker is not None
        self.draft_button.setEnabled(not running and bool(self.selection()))
        self.cancel_button.setEnabled(running and not self.worker.is_cancelled)  # type: ignore[union-attr]
        for widget in (self.tree, self.all_button, self.none_button, self.model, self.per_chunk):
            widget.setEnabled(not running)
        row = self.current_row()
        pending = 0 <= row < len(self.proposals.proposals) and (
            self.proposals.proposals[row].state == PENDING
        )
        self.accept_button.setEnabled(pending)
        self.reject_button.setEnabled(pending)
        self.accept_all_button.setEnabled(self.proposals.count(PENDING) > 0)

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        super().closeEvent(event)
