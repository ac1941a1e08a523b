"""The table of a dataset's examples and its filter. Sort roles return raw values (the
index and the tokens sort as numbers, the status by severity)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from desktop.finetune.examples import AnyExample, PreferenceExample, TrainingExample
from desktop.finetune.stats import ExampleTokens
from desktop.finetune.validation import Issue
from desktop.ui.common.table_model import RECORD_ROLE, SEARCH_ROLE, SORT_ROLE, Index, ListTableModel

STATUS_ROLE = Qt.ItemDataRole.UserRole + 10

VALID, WARNING, ERROR = "valid", "warning", "error"
STATUS_RANK = {VALID: 0, WARNING: 1, ERROR: 2}
STATUS_COLOURS = {ERROR: "#b71c1c", WARNING: "#8a5300", VALID: "#1b5e20"}
PREVIEW_CHARS = 160


def status_of(issues: Iterable[Issue]) -> str:
    worst = VALID
    for issue in issues:
        if issue.severity == "error":
            return ERROR
        worst = WARNING
    return worst


def preview(text: str) -> str:
    """One line of a message for a table cell."""
    line = " ".join(text[: PREVIEW_CHARS * 2].split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def answer_text(example: AnyExample) -> str:
    if isinstance(example, PreferenceExample):
        return " ".join(m.text for m in example.preferred_output)
    return example.answer


def turn_count(example: AnyExample) -> int:
    if isinstance(example, PreferenceExample):
        return len(example.input) + 1
    return len(example.messages)


def search_text(example: AnyExample) -> str:
    messages = (
        example.messages
        if isinstance(example, TrainingExample)
        else (*example.input, *example.preferred_output, *example.non_preferred_output)
    )
    parts = [m.text for m in messages if m.role != "system"]
    parts.extend(example.tags)
    parts.append(example.notes)
    return "\n".join(parts).lower()


class ExampleTableModel(ListTableModel):
    INDEX, QUESTION, ANSWER, TURNS, TOKENS, TAGS, SPLIT, STATUS = range(8)
    HEADERS = (
        "#",
        "First user message",
        "Assistant reply",
        "Turns",
        "Tokens",
        "Tags",
        "Split",
        "Status",
    )

    def rows(self) -> Sequence[Any]:
        return self._examples

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._dataset: list[AnyExample] = []  # in dataset order
        self._examples: list[AnyExample] = []  # in display (sorted) order
        self._rows: dict[int, int] = {}  # id -> display row
        self._positions: dict[int, int] = {}  # id -> position in the dataset
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._issues: dict[int, tuple[Issue, ...]] = {}
        self._live: dict[int, tuple[Issue, ...]] = {}
        self._tokens: dict[int, ExampleTokens | None] = {}
        self._search: dict[int, str] = {}

    # -- content --------------------------------------------------------------------------

    def set_examples(self, examples: Sequence[AnyExample]) -> None:
        """Show these examples (in dataset order); when they are the same rows in the same
        order only the changed cells are refreshed, so selection and scrolling stay."""
        new = list(examples)
        same_rows = len(new) == len(self._dataset) and all(
            a.id == b.id for a, b in zip(new, self._dataset, strict=True)
        )
        if same_rows:
            changed = [e for e, old in zip(new, self._dataset, strict=True) if e != old]
            self._dataset = new
            for example in changed:
                self._replace(example)
            return
        self.beginResetModel()
        self._dataset = new
        self._positions = {e.id: i for i, e in enumerate(new) if e.id is not None}
        self._examples = self._sorted(new)
        self._rows = {e.id: row for row, e in enumerate(self._examples) if e.id is not None}
        known = set(self._rows)
        for cache in (self._issues, self._live, self._tokens, self._search):
            for key in [k for k in cache if k not in known]:
                del cache[key]
        self.endResetModel()

    def update_example(self, example: AnyExample) -> None:
        """Show an edit at once, before the store has confirmed it."""
        position = self._positions.get(example.id) if example.id is not None else None
        if position is None:
            return
        self._dataset[position] = example
        self._replace(example)

    def _replace(self, example: AnyExample) -> None:
        row = self.row_of(example.id)
        if row is None:
            return
        self._examples[row] = example
        self._forget(example.id)
        self._emit_row(row)

    def set_analysis(
        self,
        issues: dict[int, tuple[Issue, ...]],
        tokens: dict[int, ExampleTokens | None],
    ) -> None:
        """Results of the whole-dataset validation, by example id."""
        self._issues = dict(issues)
        self._tokens = dict(tokens)
        self._live.clear()
        if self._examples:
            self.dataChanged.emit(
                self.index(0, self.TOKENS), self.index(len(self._examples) - 1, self.STATUS)
            )
            if self._sort_column in (self.TOKENS, self.STATUS):
                self.sort(self._sort_column, self._sort_order)

    def set_live_issues(self, example_id: int, issues: Sequence[Issue]) -> None:
        """The quick per-example check while it is edited; replaced by the next full run."""
        row = self.row_of(example_id)
        if row is None:
            return
        # Dataset-wide findings (duplicates, token limit) stay until the full run.
        wide = tuple(
            i
            for i in self._issues.get(example_id, ())
            if i.category in ("duplicate", "near_duplicate", "too_many_tokens", "leakage")
        )
        self._live[example_id] = tuple(issues) + wide
        self._emit_row(row)

    def _forget(self, example_id: int | None) -> None:
        if example_id is not None:
            self._search.pop(example_id, None)

    def _emit_row(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    # -- sorting ----------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorted here in one Python ``sorted`` call: a proxy sort would call ``data`` a
        few hundred thousand times for a large dataset and stall the window."""
        self._sort_column, self._sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        old_ids = [self._examples[index.row()].id for index in old]
        self._examples = self._sorted(self._dataset)
        self._rows = {e.id: row for row, e in enumerate(self._examples) if e.id is not None}
        new = [
            self.index(self._rows[example_id], index.column())
            if example_id in self._rows
            else QModelIndex()
            for index, example_id in zip(old, old_ids, strict=True)
        ]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _sorted(self, examples: list[AnyExample]) -> list[AnyExample]:
        column = self._sort_column
        if column < 0 or column >= len(self.HEADERS):
            return list(examples)
        keyed = [
            (self._sort_key(position, example, column), position, example)
            for position, example in enumerate(examples)
        ]
        keyed.sort(
            key=lambda item: (item[0], item[1]),
            reverse=self._sort_order == Qt.SortOrder.DescendingOrder,
        )
        return [example for _, _, example in keyed]

    # -- reading --------------------------------------------------------------------------

    def example(self, row: int) -> AnyExample:
        return self._examples[row]

    @property
    def examples(self) -> list[AnyExample]:
        """All examples, in dataset order."""
        return list(self._dataset)

    def position_of(self, example_id: int | None) -> int | None:
        """Where the example is in the dataset (the "#" column shows it, 1-based)."""
        return self._positions.get(example_id) if example_id is not None else None

    def row_of(self, example_id: int | None) -> int | None:
        return self._rows.get(example_id) if example_id is not None else None

    def example_by_id(self, example_id: int) -> AnyExample | None:
        row = self.row_of(example_id)
        return None if row is None else self._examples[row]

    def issues(self, example_id: int | None) -> tuple[Issue, ...]:
        if example_id is None:
            return ()
        if example_id in self._live:
            return self._live[example_id]
        return self._issues.get(example_id, ())

    def status(self, example_id: int | None) -> str | None:
        """valid / warning / error, or None before the first validation."""
        if example_id is None or (example_id not in self._issues and example_id not in self._live):
            return None
        return status_of(self.issues(example_id))

    def search_text_of(self, row: int) -> str:
        example = self._examples[row]
        key = example.id if example.id is not None else -row - 1
        cached = self._search.get(key)
        if cached is None:
            cached = self._search[key] = search_text(example)
        return cached

    def tags(self) -> list[str]:
        return sorted({tag for e in self._examples for tag in e.tags}, key=str.lower)

    # -- Qt -------------------------------------------------------------------------------

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            if section == self.TOKENS:
                return "Tokens per example, counted as OpenAI's cookbook counts them"
            if section == self.STATUS:
                return "Validation: error (OpenAI would reject it), warning, or valid"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        example = self._examples[row]
        position = self._positions.get(example.id, row) if example.id is not None else row
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(position, example, column)
        if role == SORT_ROLE:
            return self._sort_key(position, example, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(example, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            self.INDEX,
            self.TURNS,
            self.TOKENS,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS:
            status = self.status(example.id)
            return QColor(STATUS_COLOURS[status]) if status else None
        if role == RECORD_ROLE:
            return example
        if role == STATUS_ROLE:
            return self.status(example.id)
        if role == SEARCH_ROLE:
            return self.search_text_of(row)
        return None

    def _display(self, position: int, example: AnyExample, column: int) -> str:
        if column == self.INDEX:
            return str(position + 1)
        if column == self.QUESTION:
            return preview(example.question)
        if column == self.ANSWER:
            return preview(answer_text(example))
        if column == self.TURNS:
            return str(turn_count(example))
        if column == self.TOKENS:
            counted = self._tokens.get(example.id) if example.id is not None else None
            return f"{counted.total:,}" if counted is not None else ""
        if column == self.TAGS:
            return ", ".join(example.tags)
        if column == self.SPLIT:
            return example.split
        status = self.status(example.id)
        return status or "…"

    def _sort_key(self, position: int, example: AnyExample, column: int) -> Any:
        if column == self.INDEX:
            return position
        if column == self.QUESTION:
            return example.question.lower()
        if column == self.ANSWER:
            return answer_text(example).lower()
        if column == self.TURNS:
            return turn_count(example)
        if column == self.TOKENS:
            counted = self._tokens.get(example.id) if example.id is not None else None
            return counted.total if counted is not None else -1
        if column == self.TAGS:
            return ", ".join(example.tags).lower()
        if column == self.SPLIT:
            return example.split
        return STATUS_RANK.get(self.status(example.id) or VALID, 0)

    def _tooltip(self, example: AnyExample, column: int) -> str | None:
        if column == self.STATUS:
            issues = self.issues(example.id)
            if not issues:
                return "No problems found" if self.status(example.id) else None
            return "\n".join(f"{i.severity}: {i.message}" for i in issues)
        if column == self.QUESTION:
            return example.question[:800] or None
        if column == self.ANSWER:
            return answer_text(example)[:800] or None
        if column == self.TOKENS:
            counted = self._tokens.get(example.id) if example.id is not None else None
            if counted is not None:
                return f"{counted.total:,} tokens, {counted.assistant:,} in assistant replies"
        if column == self.TURNS and isinstance(example, PreferenceExample):
            return "A preference (DPO) example: its input plus the preferred reply"
        return None


ALL = ""


class ExampleFilterProxy(QSortFilterProxyModel):
    """Filters by text (all words, any message but the system prompt, tags and notes),
    tag, split and status. Sorting is passed on to ``ExampleTableModel.sort``."""

    PROBLEMS = "problems"

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._examples: ExampleTableModel | None = None
        self._words: list[str] = []
        self._tag = ALL
        self._split = ALL
        self._status = ALL
        self._pinned: int | None = None

    def setSourceModel(self, model: QAbstractItemModel) -> None:
        super().setSourceModel(model)
        self._examples = model if isinstance(model, ExampleTableModel) else None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self._examples is not None:
            self._examples.sort(column, order)
        else:
            super().sort(column, order)

    def pin(self, example_id: int | None) -> None:
        """Keep this example in view even when an edit makes it stop matching the filter
        (fixing the last error of an "Errors" view must not close the editor)."""
        self._pinned = example_id

    def _refilter(self, change: Any) -> None:
        self.beginFilterChange()
        change()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_filters(self, text: str, tag: str, split: str, status: str) -> None:
        """All four at once: one pass over the rows instead of four."""
        words = text.lower().split()
        if (words, tag, split, status) == (self._words, self._tag, self._split, self._status):
            return

        def change() -> None:
            self._words, self._tag, self._split, self._status = words, tag, split, status

        self._refilter(change)

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_words", text.lower().split()))

    def set_tag(self, tag: str) -> None:
        self._refilter(lambda: setattr(self, "_tag", tag))

    def set_split(self, split: str) -> None:
        self._refilter(lambda: setattr(self, "_split", split))

    def set_status(self, status: str) -> None:
        """Empty for all; or valid, warning, error, or ``PROBLEMS`` (warning or error)."""
        self._refilter(lambda: setattr(self, "_status", status))

    @property
    def active(self) -> bool:
        return bool(self._words or self._tag or self._split or self._status)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not (self._words or self._tag or self._split or self._status):
            return True  # the common case, called for every row: keep it cheap
        model = self._examples
        if model is None:
            return True
        example = model.example(source_row)
        if self._pinned is not None and example.id == self._pinned:
            return True
        if self._split and example.split != self._split:
            return False
        if self._tag and self._tag not in example.tags:
            return False
        if self._status:
            status = model.status(example.id)
            if self._status == self.PROBLEMS:
                if status not in (WARNING, ERROR):
                    return False
            elif status != self._status:
                return False
        if self._words:
            haystack = model.search_text_of(source_row)
            return all(word in haystack for word in self._words)
        return True
