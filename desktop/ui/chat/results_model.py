"""Ranked chunks with their score breakdown, as a table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from desktop.retrieval.search import RetrievedChunk
from desktop.ui.common.table_model import RECORD_ROLE, SORT_ROLE, ListTableModel

Index = QModelIndex | QPersistentModelIndex
BELOW_COLOUR = QColor("#9e9e9e")


def source_label(chunk: RetrievedChunk) -> str:
    parts = [chunk.document]
    if chunk.page:
        parts.append(f"p. {chunk.page}")
    if chunk.heading_path:
        parts.append("§ " + " › ".join(chunk.heading_path[-2:]))
    return ", ".join(parts)


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


class RetrievalResultsModel(ListTableModel):
    RANK, SCORE, COSINE, BM25, VECTOR_RANK, LEXICAL_RANK, SOURCE, TEXT = range(8)
    HEADERS = ("#", "Score", "Cosine", "BM25", "Vec. rank", "Lex. rank", "Source", "Text")

    set_results = ListTableModel.set_items
    result = ListTableModel.item

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                str(r.rank),
                _number(r.score, 4),
                _number(r.cosine, 3),
                _number(r.bm25, 2),
                "–" if r.vector_rank is None else str(r.vector_rank),
                "–" if r.lexical_rank is None else str(r.lexical_rank),
                source_label(r),
                " ".join(r.text.split())[:160],
            )[column]
        if role == SORT_ROLE:
            return (
                r.rank,
                r.score,
                r.cosine if r.cosine is not None else -1.0,
                r.bm25 if r.bm25 is not None else -1.0,
                r.vector_rank or 10**9,
                r.lexical_rank or 10**9,
                source_label(r),
                r.text[:40],
            )[column]
        if role == Qt.ItemDataRole.ForegroundRole and r.below_threshold:
            return BELOW_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole:
            note = (
                "Below the similarity threshold: shown here, never sent to the model.\n\n"
                if r.below_threshold
                else ""
            )
            return f"{note}{source_label(r)} [{r.start}:{r.end}]\n\n{r.text[:800]}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column <= self.LEXICAL_RANK:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == RECORD_ROLE:
            return r
        return None
