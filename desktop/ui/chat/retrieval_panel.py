"""The retrieval test panel: type a query, pick mode, reranker and k, see the ranked
chunks with each stage's ranks and scores (vector, BM25, fused, reranked) and their
sources. It runs ``Retriever.search`` with the same settings the chat uses (changing them
here changes them for the chat), so what it shows is what the chat gets. Results under
the threshold are greyed: they are never sent to the model. "Show all candidates" adds the
candidates the reranker read but left outside the top k (greyed, italic), so what
reranking moved out is as visible as what it moved in."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.events import Topic
from desktop.library.loaders import FORMATS
from desktop.library.repository import DocumentRecord
from desktop.retrieval.search import RetrievedChunk, SearchFilters, SearchResult, SearchSettings
from desktop.retrieval.service import RetrievalService, search_settings
from desktop.settings import AUTO_THRESHOLD
from desktop.ui.chat.highlight import highlighted_html
from desktop.ui.chat.results_model import RetrievalResultsModel, moved, source_label
from desktop.ui.common.events import EventRelay
from desktop.ui.common.flow_layout import FlowLayout
from desktop.ui.common.table_model import RECORD_ROLE, record_table
from desktop.ui.library.index_bar import IndexBar
from desktop.workers import SEARCH_QUEUE, SETTINGS_QUEUE, TaskError, TaskManager, Worker

MODE_LABELS = (
    ("hybrid", "Hybrid (vector + BM25)"),
    ("vector", "Vector"),
    ("lexical", "Lexical (BM25)"),
)
RERANK_LABELS = (
    ("maxsim", "Rerank: MaxSim (offline)"),
    ("llm", "Rerank: chat model"),
    ("off", "No reranking"),
)

_AUTO_STEP = -0.05  # the threshold box's lowest value, shown as "auto"


class RetrievalPanel(QWidget):
    open_chunk = Signal(int, int, int)  # document id, start, end
    searched = Signal(object)  # SearchResult

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        retrieval: RetrievalService,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.tasks = tasks
        self.retrieval = retrieval
        self.report_error = report_error
        self.last_result: SearchResult | None = None
        self.events = EventRelay(context.events, self)

        self.query = QLineEdit()
        self.query.setPlaceholderText("Ask something the library should know… (Enter)")
        self.mode = QComboBox()
        for key, label in MODE_LABELS:
            self.mode.addItem(label, key)
        self.rerank = QComboBox()
        for key, label in RERANK_LABELS:
            self.rerank.addItem(label, key)
        self.rerank.setToolTip(
            "A second look at the best candidates: MaxSim reads each with the bundled "
            "model (offline); the chat model costs a request per question and sends the "
            "candidates to your provider"
        )
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setPrefix("k = ")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(_AUTO_STEP, 1.0)  # the step below 0: "auto"
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setPrefix("min cosine ")
        self.threshold.setSpecialValueText("min cosine: auto")
        self.threshold.setToolTip(
            "Chunks less similar than this are shown greyed and never sent to the model. "
            "Auto: the embedder's own, as its cosines' scale differs (0.2 for MiniLM and "
            "the provider's models, 0.4 for the static model); the line under the results "
            "says which applied"
        )
        self.search_button = QPushButton("Search")
        self.document_filter = QComboBox()
        self.document_filter.addItem("All documents", None)
        self.document_filter.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.document_filter.setMinimumContentsLength(18)  # long titles are elided
        self.document_filter.setToolTip("Search one document only (filters apply before ranking)")
        self.format_filter = QComboBox()
        self.format_filter.addItem("All formats", None)
        for fmt in FORMATS:
            self.format_filter.addItem(fmt, fmt)
        # The query and its button on one line; the options wrap below it on a narrow
        # window instead of widening the tab.
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.search_button)
        options = FlowLayout()
        for widget in (
            self.mode,
            self.rerank,
            self.k,
            self.threshold,
            self.document_filter,
            self.format_filter,
        ):
            options.addWidget(widget)

        self.index_bar = IndexBar(
            lambda: retrieval, tasks, self.events, report_error, context.save_settings, compact=True
        )

        self.model = RetrievalResultsModel(self)
        self.table = record_table(
            self.model,
            stretch=RetrievalResultsModel.TEXT,
            samples=(
                "99",
                "▲99",
                "0.000",
                "99",
                "0.0000",
                "99",
                "0.000",
                "99",
                "99.99",
                "A document title, § Heading",
            ),
        )
        self.detail = QTextBrowser()
        self.detail.setOpenLinks(False)
        self.detail.setOpenExternalLinks(False)
        self.detail.setPlaceholderText(
            "Select a result to read its text with the query's "
            "words marked. Double-click opens it in the Library."
        )
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.show_candidates = QCheckBox("Show all candidates")
        self.show_candidates.setToolTip(
            "Also list the candidates the reranker read but placed outside the top k "
            "(greyed, italic: not sent to the model)"
        )
        self.open_button = QPushButton("Open in Library inspector")
        self.open_button.setEnabled(False)
        detail_box = QWidget()
        detail_layout = QVBoxLayout(detail_box)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_row = QHBoxLayout()
        detail_row.addWidget(self.summary, 1)
        detail_row.addWidget(self.show_candidates)
        detail_row.addWidget(self.open_button)
        detail_layout.addLayout(detail_row)
        detail_layout.addWidget(self.detail, 1)
        splitter = QSplitter()
        splitter.setOrientation(splitter.orientation().Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(detail_box)
        splitter.setSizes([300, 200])

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(options)
        layout.addWidget(self.index_bar)
        layout.addWidget(splitter, 1)

        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self._save_settings)
        self._load_settings(search_settings(context.settings))

        self.query.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        self.show_candidates.toggled.connect(self._show_rows)
        for signal in (
            self.mode.currentIndexChanged,
            self.rerank.currentIndexChanged,
            self.k.valueChanged,
            self.threshold.valueChanged,
        ):
            signal.connect(self._save_timer.start)
        self.table.selectionModel().currentRowChanged.connect(self._show_detail)
        self.table.doubleClicked.connect(lambda index: self._open(index.row()))
        self.open_button.clicked.connect(lambda: self._open(self.table.currentIndex().row()))
        self.events.on(Topic.LIBRARY, self.refresh_documents, self)
        self.events.on(Topic.SETTINGS, self._settings_changed, self)
        self.refresh_documents()

    # -- settings shared with the chat ------------------------------------------------------

    def _load_settings(self, settings: SearchSettings) -> None:
        widgets = (self.mode, self.rerank, self.k, self.threshold)
        for widget in widgets:
            widget.blockSignals(True)
        self.mode.setCurrentIndex(max(0, self.mode.findData(settings.mode)))
        self.rerank.setCurrentIndex(max(0, self.rerank.findData(self.context.settings.rerank)))
        self.k.setValue(settings.k)
        self.threshold.setValue(settings.threshold if settings.threshold >= 0 else _AUTO_STEP)
        for widget in widgets:
            widget.blockSignals(False)

    def reranker(self) -> str:
        return str(self.rerank.currentData())

    def current_settings(self) -> SearchSettings:
        base = search_settings(self.context.settings)
        return dataclasses.replace(
            base,
            mode=str(self.mode.currentData()),
            k=self.k.value(),
            threshold=(
                AUTO_THRESHOLD if self.threshold.value() < 0 else round(self.threshold.value(), 2)
            ),
        )

    def _save_settings(self) -> None:
        current = self.current_settings()
        context = self.context
        updated = context.settings.replace(
            search_mode=current.mode,
            search_k=current.k,
            similarity_threshold=current.threshold,
            rerank=self.reranker(),
        )
        if updated != context.settings:
            self.tasks.run(
                context.save_settings, updated, title="Saving search settings", queue=SETTINGS_QUEUE
            )

    # -- index ---------------------------------------------------------------------------------

    def filters(self) -> SearchFilters:
        document = self.document_filter.currentData()
        fmt = self.format_filter.currentData()
        return SearchFilters(
            document_ids=(int(document),) if document is not None else None,
            formats=(str(fmt),) if fmt else None,
        )

    def _show_documents(self, documents: list[DocumentRecord]) -> None:
        current = self.document_filter.currentData()
        self.document_filter.blockSignals(True)
        self.document_filter.clear()
        self.document_filter.addItem("All documents", None)
        for document in documents:
            self.document_filter.addItem(document.title, document.id)
        index = self.document_filter.findData(current)
        self.document_filter.setCurrentIndex(max(0, index))
        self.document_filter.blockSignals(False)

    def refresh_documents(self) -> None:
        documents = self.tasks.run(
            lambda: self.context.library().documents(), title="Listing documents"
        )
        documents.signals.result.connect(self._show_documents)

    def _settings_changed(self) -> None:
        """Search settings changed elsewhere (the Settings dialog): show them."""
        if not self._save_timer.isActive():
            self._load_settings(search_settings(self.context.settings))

    # -- search --------------------------------------------------------------------------------

    def search(self) -> Worker | None:
        query = self.query.text().strip()
        if not query:
            return None
        settings = self.current_settings()
        filters = self.filters()
        rerank = self.reranker()

        def run() -> SearchResult:
            return self.retrieval.search(query, settings, filters, rerank=rerank)

        self.search_button.setEnabled(False)
        worker = self.tasks.run(run, title="Searching", queue=SEARCH_QUEUE)
        worker.signals.result.connect(self._show_result)
        worker.signals.error.connect(lambda e: self.report_error("Search", e))
        worker.signals.finished.connect(lambda: self.search_button.setEnabled(True))
        return worker

    def _show_result(self, result: SearchResult) -> None:
        self.last_result = result
        self._show_rows()
        usable = len(result.usable)
        notes = "".join(f" {n}." for n in result.notes)
        self.summary.setText(
            f"{len(result.results)} results, {usable} sent to the model · "
            f"{result.latency_ms:.0f} ms ({result.embed_ms:.0f} ms embedding the query"
            + (f", {result.rerank_ms:.0f} ms reranking" if result.reranker else "")
            + f") · {result.settings.mode}, min cosine {result.settings.threshold:.2f}"
            + f"{rerank_summary(result)}{notes}"
        )
        if result.results:
            self.table.selectRow(0)
        else:
            self.detail.setPlainText("No results.")
        self.searched.emit(result)

    def _show_rows(self) -> None:
        result = self.last_result
        if result is None:
            return
        rows = result.candidates if self.show_candidates.isChecked() else result.results
        self.model.set_results(rows or result.results, k=result.settings.k)

    def _show_detail(self, current: object, _previous: object = None) -> None:
        row = self.table.currentIndex().row()
        if row < 0:
            self.open_button.setEnabled(False)
            return
        chunk = self.model.data(self.model.index(row, 0), RECORD_ROLE)
        query = self.last_result.query if self.last_result else ""
        reason = html.escape(self.model.reason(chunk).strip())
        note = f"<p style='color:#777'>{reason}</p>" if reason else ""
        self.detail.setHtml(_header(chunk) + note + highlighted_html(chunk.text, query))
        self.open_button.setEnabled(True)

    def _open(self, row: int) -> None:
        if row >= 0:
            chunk = self.model.result(row)
            self.open_chunk.emit(chunk.document_id, chunk.start, chunk.end)


def rerank_summary(result: SearchResult) -> str:
    """What reranking did, in words: which reranker, and how many chunks it brought into
    the top k from further down."""
    if not result.reranker:
        return ""
    brought = sum(1 for r in result.results if r.first_rank and r.first_rank > result.settings.k)
    changed = sum(1 for r in result.results if moved(r) not in ("", "="))
    return (
        f", reranked by {result.reranker} ({len(result.candidates)} candidates): "
        f"{changed} of the top {len(result.results)} moved, {brought} brought in from "
        "further down"
    )


def _header(chunk: RetrievedChunk) -> str:
    return f"<p><b>{html.escape(source_label(chunk))}</b> [{chunk.start}:{chunk.end}]</p>"
