"""The sources of the selected answer: rank, similarity and its breakdown, document and
place, the text with the question's words marked, and whether the answer cited it."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.retrieval.search import RetrievedChunk
from desktop.ui.chat.highlight import highlighted_html
from desktop.ui.chat.results_model import source_label
from desktop.ui.chat.safe_browser import SafeBrowser


def _score_line(chunk: RetrievedChunk) -> str:
    """The score breakdown, a stage at a time: the reranker's score and the place the
    chunk had before it, then cosine, BM25 and the rankings they gave."""
    parts = [f"score {chunk.score:.4f}"]
    if chunk.rerank is not None:
        parts[0] = f"rerank {chunk.rerank:.3f}"
        if chunk.first_rank is not None and chunk.first_rank != chunk.rank:
            parts.append(f"was #{chunk.first_rank} before reranking")
        if chunk.fused is not None:
            parts.append(f"fused {chunk.fused:.4f}")
    if chunk.cosine is not None:
        parts.append(f"cosine {chunk.cosine:.3f}")
    if chunk.bm25 is not None:
        parts.append(f"BM25 {chunk.bm25:.2f}")
    if chunk.vector_rank:
        parts.append(f"vector #{chunk.vector_rank}")
    if chunk.lexical_rank:
        parts.append(f"lexical #{chunk.lexical_rank}")
    return " · ".join(parts)


class SourcesPane(QWidget):
    open_chunk = Signal(int, int, int)  # document id, start, end

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel("Sources")
        self.header.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color:#8a5300;")
        self.notice.hide()
        self.browser = SafeBrowser()
        self.browser.anchorClicked.connect(self._anchor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.notice)
        layout.addWidget(self.browser, 1)
        self.sources: list[RetrievedChunk] = []
        self.below: list[RetrievedChunk] = []
        self.cited: list[int] = []
        self.current: int | None = None
        self.show_sources(
            [], [], [], "", note="Ask a question: the chunks it is answered from appear here."
        )

    def show_sources(
        self,
        sources: Sequence[RetrievedChunk],
        cited: Sequence[int],
        below: Sequence[RetrievedChunk],
        query: str,
        note: str = "",
        notices: Sequence[str] = (),
    ) -> None:
        """``note`` replaces the header; ``notices`` say what the user can do about a
        thin or empty retrieval (an empty or unindexed library)."""
        self.sources, self.cited, self.below = list(sources), list(cited), list(below)
        self.notice.setText("\n".join(notices))
        self.notice.setVisible(bool(notices))
        self.current = None
        used = len(self.cited)
        self.header.setText(
            note
            or f"{len(self.sources)} sources sent to the model, {used} cited"
            + (
                f"; {len(self.below)} below the similarity threshold (not sent)"
                if self.below
                else ""
            )
        )
        blocks = []
        for number, chunk in enumerate(self.sources, start=1):
            badge = (
                "<span style='color:#1b5e20'>cited</span>"
                if number in self.cited
                else "<span style='color:#8a5300'>retrieved, not used</span>"
            )
            blocks.append(self._block(number, chunk, badge, query))
        for chunk in self.below:
            blocks.append(
                self._block(
                    None,
                    chunk,
                    "<span style='color:#777'>below threshold: not sent</span>",
                    query,
                    grey=True,
                )
            )
        self.browser.setHtml("".join(blocks))

    def _block(
        self, number: int | None, chunk: RetrievedChunk, badge: str, query: str, grey: bool = False
    ) -> str:
        label = f"[{number}] " if number else ""
        anchor = f"source-{number}" if number else f"below-{chunk.chunk_id}"
        colour = "color:#888;" if grey else ""
        return (
            f"<div style='{colour}'><a name='{anchor}'></a>"
            f"<p><b>{label}{html.escape(source_label(chunk))}</b> — {badge}<br>"
            f"<small>{_score_line(chunk)} · [{chunk.start}:{chunk.end}] · "
            f"<a href='open:{chunk.document_id}:{chunk.start}:{chunk.end}'>open in Library"
            f"</a></small></p>{highlighted_html(chunk.text, query)}<hr></div>"
        )

    def select(self, number: int) -> None:
        if 1 <= number <= len(self.sources):
            self.current = number
            self.browser.scrollToAnchor(f"source-{number}")

    def _anchor(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("open:"):
            _, document, start, end = text.split(":")
            self.open_chunk.emit(int(document), int(start), int(end))
