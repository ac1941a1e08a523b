"""What every table shares: the flat model base (rows from a Python list, columns and
their titles from ``HEADERS``; subclasses say what a cell shows), the item roles, the one
way a table view is set up, and column widths fitted once from samples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

Index = QModelIndex | QPersistentModelIndex

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""Raw values to sort by: numbers as numbers, dates as dates."""
RECORD_ROLE = Qt.ItemDataRole.UserRole + 2
"""The domain object behind a row."""
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3
"""The text a filter box matches."""


class ListTableModel(QAbstractTableModel):
    HEADERS: tuple[str, ...] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[Any] = []

    def rows(self) -> Sequence[Any]:
        """The rows shown; subclasses that keep their own list override this."""
        return self._items

    def set_items(self, items: Sequence[Any]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def item(self, row: int) -> Any:
        return self._items[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows())

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


def fit_columns(
    table: QTableView, stretch: int, samples: Sequence[str], *, stretch_chars: int = 22
) -> None:
    """Column widths from sample contents, once: ResizeToContents would measure every
    row on each reset, which stalls the window on a large library. The ``stretch`` column
    takes the room left, but never less than ``stretch_chars`` characters: in a narrow
    window the table scrolls sideways rather than cut titles to two letters."""
    header = table.horizontalHeader()
    metrics = table.fontMetrics()
    model = table.model()
    others = [c for c in range(model.columnCount()) if c != stretch]
    for column, sample in zip(others, samples, strict=False):
        title = str(model.headerData(column, Qt.Orientation.Horizontal))
        width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(title)) + 24
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(column, width)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    guard = _StretchFloor(table, stretch, metrics.averageCharWidth() * stretch_chars)
    table.viewport().installEventFilter(guard)
    table._stretch_floor = guard  # type: ignore[attr-defined]  # lives as long as the table


class _StretchFloor(QObject):
    """Switches the stretch column to a fixed floor width when the view is too narrow."""

    def __init__(self, table: QTableView, column: int, floor: int) -> None:
        super().__init__(table)
        self.table, self.column, self.floor = table, column, floor

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            header = self.table.horizontalHeader()
            others = sum(
                header.sectionSize(c)
                for c in range(header.count())
                if c != self.column and not header.isSectionHidden(c)
            )
            room = self.table.viewport().width() - others
            if room < self.floor:
                header.setSectionResizeMode(self.column, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(self.column, self.floor)
            elif header.sectionResizeMode(self.column) != QHeaderView.ResizeMode.Stretch:
                header.setSectionResizeMode(self.column, QHeaderView.ResizeMode.Stretch)
        return False


def record_table(
    model: QAbstractItemModel,
    *,
    stretch: int | None = None,
    samples: Sequence[str] = (),
    sort_column: int | None = None,
    descending: bool = False,
    many: bool = False,
    wrap: bool = False,
) -> QTableView:
    """A read-only table of records, one row each, as every tab shows them: whole rows
    selected (``many``: several), alternating colours, no row numbers, sorted by
    ``sort_column`` when given, and Tab leaving the table for the next control (arrow
    keys move between cells) so a keyboard user is never trapped in it."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection
        if many
        else QAbstractItemView.SelectionMode.SingleSelection
    )
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTabKeyNavigation(False)
    table.setAlternatingRowColors(True)
    table.verticalHeader().hide()
    table.setWordWrap(wrap)
    if sort_column is not None:
        table.setSortingEnabled(True)
        table.sortByColumn(
            sort_column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        )
    if stretch is not None:
        fit_columns(table, stretch, samples)
    return table
