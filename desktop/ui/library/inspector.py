"""The chunk inspector: how one document is split, with a live preview of other
strategies, and a side-by-side comparison of two."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.library.chunking import ChunkingStrategy
from desktop.library.preview import ChunkingView, preview, view_of
from desktop.library.service import OcrSpan
from desktop.ui.common.histogram import SizeHistogram
from desktop.ui.common.table_model import record_table
from desktop.ui.library.chunk_view import OCR_LOW_CONFIDENCE, ChunkTextView
from desktop.ui.library.models import ChunkTableModel
from desktop.ui.library.strategy_form import StrategyForm
from desktop.workers import TaskManager


@dataclass(frozen=True)
class OpenDocument:
    document_id: int
    title: str
    text: str
    pages: tuple[int, ...]
    ocr: tuple[OcrSpan, ...] = ()  # text read by OCR, marked in the text view


def ocr_summary(spans: tuple[OcrSpan, ...]) -> str:
    """The inspector's line about OCR: each page read by OCR with its confidence."""
    if not spans:
        return ""
    shown = [f"page {s.page} ({s.confidence:.0%})" for s in spans[:8]]
    more = f" and {len(spans) - 8} more" if len(spans) > 8 else ""
    low = sum(1 for s in spans if s.confidence < OCR_LOW_CONFIDENCE)
    warning = f"; {low} below {OCR_LOW_CONFIDENCE:.0%}: check their text" if low else ""
    return (
        "Read by OCR (purple text, wavy underline; red below 90%), confidence per page: "
        + ", ".join(shown)
        + more
        + warning
    )


def summary_text(view: ChunkingView) -> str:
    stats = view.stats
    if stats.count == 0:
        return "No chunks: the document has no text."
    return (
        f"{stats.count:,} chunks · tokens mean {stats.mean_tokens:.0f}, "
        f"min {stats.min_tokens}, max {stats.max_tokens}, median {stats.median_tokens:.0f} · "
        f"{stats.coverage:.1%} of the text covered · "
        f"{stats.overlap_chars:,} characters repeated by overlap"
    )


class ChunkPanel(QWidget):
    """Text with boundaries, the chunk table, the size histogram and the summary."""

    def __init__(self, parent: QWidget | None = None, *, vertical: bool = False) -> None:
        super().__init__(parent)
        self.text_view = ChunkTextView()
        self.table_model = ChunkTableModel(self)
        self.table = record_table(
            self.table_model,
            stretch=ChunkTableModel.FIRST_WORDS,
            samples=("999", "9999", "99999", "999"),
        )
        self.histogram = SizeHistogram()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view: ChunkingView | None = None

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.table, 3)
        side_layout.addWidget(self.histogram, 1)
        splitter = QSplitter(Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal)
        splitter.addWidget(self.text_view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _prev: self.text_view.select_chunk(current.row())
        )
        self.text_view.chunk_clicked.connect(self._select_row)

    def set_text(self, text: str, ocr: tuple[OcrSpan, ...] = ()) -> None:
        self.text_view.set_document(text)
        self.text_view.set_ocr_spans([(s.start, s.end, s.confidence) for s in ocr])
        self.table_model.set_chunks([])
        self.histogram.set_bins([])
        self.summary.clear()
        self.view = None

    def show_view(self, view: ChunkingView) -> None:
        self.view = view
        self.text_view.set_chunks([(c.start, c.end) for c in view.chunks])
        self.table_model.set_chunks(view.chunks)
        self.histogram.set_bins(view.histogram)
        self.summary.setText(summary_text(view))

    def _select_row(self, row: int) -> None:
        index = self.table_model.index(row, 0)
        self.table.blockSignals(True)
        self.table.selectRow(row)
        self.table.blockSignals(False)
        self.table.scrollTo(index)

    def select_offsets(self, start: int, end: int) -> int | None:
        """Select the chunk at these offsets (from a search result); its row, if any."""
        if self.view is None:
            return None
        for row, chunk in enumerate(self.view.chunks):
            if chunk.start == start and chunk.end == end:
                self.table.selectRow(row)
                self.text_view.select_chunk(row)
                return row
        return None


class ChunkInspector(QWidget):
    """Shows the library's chunks of the open document; changing the strategy shows a
    preview, computed on a worker, without touching the library."""

    apply_requested = Signal(object)  # ChunkingStrategy
    export_requested = Signal()

    def __init__(
        self,
        tasks: TaskManager,
        encoding: str,
        strategy: ChunkingStrategy,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.encoding = encoding
        self.library_strategy = strategy
        self.document: OpenDocument | None = None
        self.stored_view: ChunkingView | None = None
        self._generation = 0

        self._previewing = False
        self.document_label = QLabel()
        self.document_label.setTextFormat(Qt.TextFormat.PlainText)
        self.document_label.setStyleSheet("font-weight: bold;")
        self.document_label.setAccessibleName("Document shown in the inspector")
        self.ocr_label = QLabel()
        self.ocr_label.setWordWrap(True)
        self.ocr_label.setTextFormat(Qt.TextFormat.PlainText)
        self.ocr_label.setStyleSheet("color: #5b21b6;")
        self.ocr_label.hide()
        self.form = StrategyForm(strategy)
        self.mode_label = QLabel()
        self.mode_label.setWordWrap(True)
        self.tokenizer_label = QLabel(f"Tokens counted with {encoding}")
        self.apply_button = QPushButton("Apply to library…")
        self.apply_button.setToolTip("Re-chunk every document with this strategy")
        self.revert_button = QPushButton("Show library's chunks")
        self.export_button = QPushButton("Export chunks…")
        header = QHBoxLayout()
        header.addWidget(self.form, 2)
        buttons = QVBoxLayout()
        buttons.addWidget(self.mode_label)
        buttons.addWidget(self.tokenizer_label)
        row = QHBoxLayout()
        row.addWidget(self.revert_button)
        row.addWidget(self.apply_button)
        buttons.addLayout(row)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        header.addLayout(buttons, 3)
        self.panel = ChunkPanel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.document_label)
        layout.addWidget(self.ocr_label)
        layout.addLayout(header)
        layout.addWidget(self.panel, 1)

        self.form.strategy_changed.connect(self.preview)
        self.form.validity_changed.connect(
            lambda ok: self.apply_button.setEnabled(ok and self._previewing)
        )
        self.apply_button.clicked.connect(lambda: self.apply_requested.emit(self.form.strategy()))
        self.revert_button.clicked.connect(self.show_stored)
        self.export_button.clicked.connect(self.export_requested.emit)
        self._update_mode(previewing=False)

    def set_library_settings(self, strategy: ChunkingStrategy, encoding: str) -> None:
        self.library_strategy = strategy
        self.encoding = encoding
        self.tokenizer_label.setText(f"Tokens counted with {encoding}")

    def set_document(self, document: OpenDocument, stored_chunks: list) -> None:
        self.document = document
        self.document_label.setText(document.title)
        self.document_label.setToolTip(document.title)
        self.ocr_label.setText(ocr_summary(document.ocr))
        self.ocr_label.setVisible(bool(document.ocr))
        self.panel.set_text(document.text, document.ocr)
        self.stored_view = view_of(stored_chunks, document.text)
        self.show_stored()

    def clear(self) -> None:
        self.document = None
        self.document_label.setText("No document selected")
        self.document_label.setToolTip("")
        self.ocr_label.hide()
        self.stored_view = None
        self.panel.set_text("")
        self.mode_label.setText("Select a document to see how it is chunked.")

    def show_stored(self) -> None:
        self._generation += 1
        if self.stored_view is not None:
            self.panel.show_view(self.stored_view)
        self.form.blockSignals(True)
        self.form.set_strategy(self.library_strategy)
        self.form.blockSignals(False)
        self._update_mode(previewing=False)

    def preview(self, strategy: ChunkingStrategy) -> None:
        if self.document is None:
            return
        self._generation += 1
        generation = self._generation
        document = self.document
        worker = self.tasks.run(
            preview,
            document.text,
            document.pages,
            strategy,
            self.encoding,
            title="Previewing chunks",
        )
        worker.signals.result.connect(
            lambda view: self._show_preview(view, generation, document.document_id)
        )
        self.mode_label.setText("Computing preview…")

    def _show_preview(self, view: ChunkingView, generation: int, document_id: int) -> None:
        if generation != self._generation or self.document is None:
            return  # a newer request or another document replaced this one
        if self.document.document_id != document_id:
            return
        self.panel.show_view(view)
        self._update_mode(previewing=True)

    def _update_mode(self, *, previewing: bool) -> None:
        if previewing:
            self.mode_label.setText(
                "<b>Preview</b>: not applied to the library. “Apply to library…” re-chunks "
                "every document with these settings."
            )
        else:
            self.mode_label.setText("Showing the chunks stored in the library.")
        self._previewing = previewing
        self.apply_button.setEnabled(previewing and self.form.valid())
        self.revert_button.setEnabled(previewing)


class CompareView(QWidget):
    """Two strategies on the same document, side by side."""

    def __init__(
        self,
        tasks: TaskManager,
        encoding: str,
        left: ChunkingStrategy,
        right: ChunkingStrategy,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.encoding = encoding
        self.document: OpenDocument | None = None
        self.forms = (StrategyForm(left), StrategyForm(right))
        self.panels = (ChunkPanel(vertical=True), ChunkPanel(vertical=True))
        self._generations = [0, 0]
        layout = QHBoxLayout(self)
        for side in (0, 1):
            column = QVBoxLayout()
            column.addWidget(self.forms[side])
            column.addWidget(self.panels[side], 1)
            layout.addLayout(column, 1)
            self.forms[side].strategy_changed.connect(
                lambda strategy, s=side: self._compute(s, strategy)
            )

    def set_document(self, document: OpenDocument) -> None:
        self.document = document
        for side in (0, 1):
            self.panels[side].set_text(document.text, document.ocr)
            self._compute(side, self.forms[side].strategy())

    def _compute(self, side: int, strategy: ChunkingStrategy) -> None:
        if self.document is None:
            return
        self._generations[side] += 1
        generation = self._generations[side]
        document = self.document
        worker = self.tasks.run(
            preview,
            document.text,
            document.pages,
            strategy,
            self.encoding,
            title="Comparing strategies",
        )
        worker.signals.result.connect(lambda view, s=side, g=generation: self._show(s, g, view))

    def _show(self, side: int, generation: int, view: ChunkingView) -> None:
        if generation == self._generations[side]:
            self.panels[side].show_view(view)
