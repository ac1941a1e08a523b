"""Ranked chunks with their score breakdown, as a table: one group of columns per stage
of the search (vector, lexical, fused, reranked), so a user sees what each stage did and
what reranking changed."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from desktop.retrieval.search import RetrievedChunk
from desktop.ui.common.table_model import RECORD_ROLE, SORT_ROLE, ListTableModel

Index = QModelIndex | QPersistentModelIndex
BELOW_COLOUR = QColor("#9e9e9e")
OUTSIDE_COLOUR = QColor("#b0b0b0")


def source_label(chunk: RetrievedChunk) -> str:
    parts = [chunk.document]
    if chunk.page:
        parts.append(f"p. {chunk.page}")
    if chunk.heading_path:
        parts.append("§ " + " › ".join(chunk.heading_path[-2:]))
    return ", ".join(parts)


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _place(value: int | None) -> str:
    return "–" if value is None else str(value)


def moved(chunk: RetrievedChunk) -> str:
    """How reranking moved a chunk: "▲3" up three places, "▼2", "=" stayed; "" when no
    reranker ordered it."""
    if chunk.rerank is None or chunk.first_rank is None:
        return ""
    change = chunk.first_rank - chunk.rank
    return "=" if change == 0 else (f"▲{change}" if change > 0 else f"▼{-change}")


class RetrievalResultsModel(ListTableModel):
    (
        RANK,
        MOVED,
        RERANK,
        FIRST_RANK,
        FUSED,
        VECTOR_RANK,
        COSINE,
        LEXICAL_RANK,
        BM25,
        SOURCE,
        TEXT,
    ) = range(11)
    HEADERS = (
        "#",
        "Moved",
        "Rerank",
        "Before rerank",
        "Fused",
        "Vec. #",
        "Cosine",
        "Lex. #",
        "BM25",
        "Source",
        "Text",
    )
    TOOLTIPS = (
        "Place in the final order (what the chat gets when it is within k)",
        "How reranking moved the chunk: ▲ up, ▼ down, = stayed",
        "The reranker's score (it orders the results when a reranker is on)",
        "Place before reranking: in the fused ranking (hybrid), or the vector or BM25 "
        "ranking alone",
        "Fused score (weighted reciprocal rank fusion of the vector and BM25 rankings)",
        "Place in the vector ranking",
        "Cosine similarity to the question (the similarity threshold applies to it)",
        "Place in the BM25 ranking",
        "BM25 score (words matched by stem)",
        "",
        "",
    )

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.k = 0  # rows past k are candidates the reranker read but left out

    def set_results(self, results: list[RetrievedChunk], k: int | None = None) -> None:
        self.k = len(results) if k is None else k
        self.set_items(results)

    result = ListTableModel.item

    def outside(self, chunk: RetrievedChunk) -> bool:
        return chunk.rank > self.k

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return self.TOOLTIPS[section] or None
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r: RetrievedChunk = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                str(r.rank),
                moved(r),
                _number(r.rerank, 3),
                _place(r.first_rank),
                _number(r.fused, 4),
                _place(r.vector_rank),
                _number(r.cosine, 3),
                _place(r.lexical_rank),
                _number(r.bm25, 2),
                source_label(r),
                " ".join(r.text.split())[:160],
            )[column]
        if role == SORT_ROLE:
            missing = 10**9
            return (
                r.rank,
                (r.first_rank or missing) - r.rank,
                r.rerank if r.rerank is not None else -1.0,
                r.first_rank or missing,
                r.fused if r.fused is not None else -1.0,
                r.vector_rank or missing,
                r.cosine if r.cosine is not None else -1.0,
                r.lexical_rank or missing,
                r.bm25 if r.bm25 is not None else -1.0,
                source_label(r),
                r.text[:40],
            )[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            if r.below_threshold:
                return BELOW_COLOUR
            if self.outside(r):
                return OUTSIDE_COLOUR
            return None
        if role == Qt.ItemDataRole.FontRole and self.outside(r):
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{self.reason(r)}{source_label(r)} [{r.start}:{r.end}]\n\n{r.text[:800]}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column < self.SOURCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == RECORD_ROLE:
            return r
        return None

    def reason(self, chunk: RetrievedChunk) -> str:
        """Why a row is not sent to the model, in words ("" when it is sent)."""
        notes = []
        if self.outside(chunk):
            before = f" (it was #{chunk.first_rank} before)" if chunk.first_rank else ""
            notes.append(
                f"Reranked to #{chunk.rank}, outside the top {self.k}{before}: shown here, "
                "not sent to the model."
            )
        if chunk.below_threshold:
            notes.append("Below the similarity threshold: shown here, never sent to the model.")
        return "".join(f"{n}\n" for n in notes) + ("\n" if notes else "")
