"""Table models for the Library tab: documents and chunks. Sort roles return raw
values, so numbers sort as numbers and dates as dates."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import (
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from desktop.ui.common.table_model import (
    RECORD_ROLE,
    SEARCH_ROLE,
    SORT_ROLE,
    Index,
    ListTableModel,
)


def _format_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _format_day(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(timestamp))


class DocumentTableModel(ListTableModel):
    TITLE, FORMAT, PAGES, CHUNKS, TOKENS, MODIFIED, STATUS = range(7)
    HEADERS = ("Title", "Format", "Pages", "Chunks", "Tokens", "Modified", "Status")

    set_documents = ListTableModel.set_items
    document = ListTableModel.item

    def row_of(self, document_id: int) -> int | None:
        for row, document in enumerate(self._items):
            if document.id == document_id:
                return row
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        doc = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                doc.title,
                doc.format,
                "" if doc.page_count is None else str(doc.page_count),
                f"{doc.chunk_count:,}",
                f"{doc.token_count:,}",
                _format_day(doc.modified_time),
                doc.status,
            )[column]
        if role == SORT_ROLE:
            return (
                doc.title.lower(),
                doc.format,
                doc.page_count or 0,
                doc.chunk_count,
                doc.token_count,
                doc.modified_time,
                doc.status,
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            imported = _format_time(doc.imported_at)
            return f"{doc.title}\n{doc.source_path}\n{doc.size_bytes:,} bytes, imported {imported}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            self.PAGES,
            self.CHUNKS,
            self.TOKENS,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and doc.status != "ok":
            return QColor("#b71c1c")
        if role == RECORD_ROLE:
            return doc
        if role == SEARCH_ROLE:
            return f"{doc.title}\n{Path(doc.source_path).name}\n{doc.format}".lower()
        return None


class DocumentFilterProxy(QSortFilterProxyModel):
    """Filters on title, file name and format as the user types; sorts on raw values."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._needle = ""

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._needle = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._needle:
            return True
        index = self.sourceModel().index(source_row, 0, source_parent)
        haystack = self.sourceModel().data(index, SEARCH_ROLE) or ""
        return all(word in haystack for word in self._needle.split())


class ChunkRow(Protocol):
    index: int
    start: int
    end: int
    text: str
    token_count: int
    page: int | None
    heading_path: tuple[str, ...]


class ChunkTableModel(ListTableModel):
    INDEX, TOKENS, CHARS, PAGE, FIRST_WORDS = range(5)
    HEADERS = ("#", "Tokens", "Chars", "Page", "First words")

    set_chunks = ListTableModel.set_items
    chunk = ListTableModel.item

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        chunk = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                str(chunk.index + 1),
                str(chunk.token_count),
                str(chunk.end - chunk.start),
                "" if chunk.page is None else str(chunk.page),
                first_words(chunk.text),
            )[column]
        if role == SORT_ROLE:
            return (
                chunk.index,
                chunk.token_count,
                chunk.end - chunk.start,
                chunk.page or 0,
                " › ".join(chunk.heading_path),
                chunk.text[:40],
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return heading_tooltip(chunk.heading_path) + chunk.text[:600]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            self.INDEX,
            self.TOKENS,
            self.CHARS,
            self.PAGE,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == RECORD_ROLE:
            return chunk
        return None


def heading_tooltip(path: Sequence[str]) -> str:
    return f"§ {' › '.join(path)}\n\n" if path else ""


def first_words(text: str, count: int = 10) -> str:
    words = text.split()
    head = " ".join(words[:count])
    return head + (" …" if len(words) > count else "")
