"""The Evaluate tab's tables: questions of a set, runs, one run's results, a comparison
per question, sweep rows. Flat models over lists of the evaluation's records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from desktop.evaluation import metrics
from desktop.evaluation.compare import QuestionRow, headline_metric, metric_label
from desktop.evaluation.leakage import LeakedExample, describe_leaks
from desktop.evaluation.records import MODE_LABELS, EvalQuestion, EvalRun, QuestionResult
from desktop.evaluation.sweep import SIZE_UNITS, SweepRow
from desktop.ui.common.table_model import RECORD_ROLE, SEARCH_ROLE, SORT_ROLE, ListTableModel

Index = QModelIndex | QPersistentModelIndex
WARNING_COLOUR = QColor("#8a5300")
ERROR_COLOUR = QColor("#b71c1c")
GOOD_COLOUR = QColor("#1b5e20")


def share(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{value:.0%}"


def figure(key: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return "—"
    if key.endswith("_ms"):
        return f"{value:,.0f} ms"
    if key == "cost_per_answer_usd":
        return f"${value:.5f}"
    if key == "tokens_per_answer":
        return f"{value:,.0f}"
    if key in (metrics.MRR, metrics.NDCG_10):
        return f"{value:.3f}"
    return f"{value:.0%}"


def when(moment: float | None) -> str:
    return "" if moment is None else datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M")


def one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class QuestionsModel(ListTableModel):
    NUMBER, QUESTION, ANSWER, SOURCES, TAGS, CHECKS = range(6)
    HEADERS = ("#", "Question", "Reference answer", "Expected source", "Tags", "Checks")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.leaks: Mapping[int, list[LeakedExample]] = {}

    def set_questions(
        self, questions: Sequence[EvalQuestion], leaks: Mapping[int, list[LeakedExample]]
    ) -> None:
        self.leaks = leaks
        self.set_items(questions)

    def row_of(self, question_id: int) -> int | None:
        for row, question in enumerate(self._items):
            if question.id == question_id:
                return row
        return None

    def _checks(self, q: EvalQuestion) -> str:
        notes = []
        if q.id in self.leaks:
            notes.append("in training data")
        if not q.answerable:
            notes.append("unanswerable")
        if not q.answer.strip():
            notes.append("no reference")
        return ", ".join(notes)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        q: EvalQuestion = self._items[index.row()]
        column = index.column()
        if role == RECORD_ROLE:
            return q
        if role == SEARCH_ROLE:
            return f"{q.question} {q.answer} {' '.join(q.tags)}".lower()
        if role == SORT_ROLE:
            return q.position if column == self.NUMBER else self.data(index)
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                q.position + 1,
                one_line(q.question),
                one_line(q.answer, 80),
                "; ".join(s.describe() for s in q.sources),
                ", ".join(q.tags),
                self._checks(q),
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.CHECKS and q.id in self.leaks:
                return "This question is " + describe_leaks(self.leaks[q.id]) + "."
            if column in (self.QUESTION, self.ANSWER):
                return q.question if column == self.QUESTION else q.answer
        if role == Qt.ItemDataRole.ForegroundRole and column == self.CHECKS and q.id in self.leaks:
            return WARNING_COLOUR
        return None


RUN_STATUS_LABELS = {
    "running": "running",
    "stopped": "stopped (resumable)",
    "complete": "complete",
    "failed": "failed",
}


class RunsModel(ListTableModel):
    NUMBER, DATE, MODE, MODEL, STATUS, DONE, HEADLINE = range(7)
    HEADERS = ("Run", "Started", "Mode", "Model", "Status", "Answered", "Right")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.active: set[int] = set()

    def row_of(self, run_id: int) -> int | None:
        for row, run in enumerate(self._items):
            if run.id == run_id:
                return row
        return None

    def count_results(self, run_id: int, answered: int, failed: int) -> None:
        """Results written while the run goes on: its row counts them at once."""
        from dataclasses import replace

        row = self.row_of(run_id)
        if row is None:
            return
        run = self._items[row]
        self._items[row] = replace(
            run, answered=run.answered + answered, failed=run.failed + failed
        )
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def status_text(self, run: EvalRun) -> str:
        if run.status == "running" and run.id not in self.active:
            text = "interrupted (resumable)"
        else:
            text = RUN_STATUS_LABELS.get(run.status, run.status)
        return text + (" · stale" if run.stale else "")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run: EvalRun = self._items[index.row()]
        column = index.column()
        if role == RECORD_ROLE:
            return run
        key = headline_metric(run)
        if role == SORT_ROLE:
            return (
                run.id,
                run.created_at,
                run.mode,
                run.model,
                run.status,
                run.answered,
                run.metrics.get(key) or -1.0,
            )[column]
        if role == Qt.ItemDataRole.DisplayRole:
            failed = f", {run.failed} failed" if run.failed else ""
            return (
                f"#{run.id}",
                when(run.created_at),
                MODE_LABELS.get(run.mode, run.mode),
                run.model or "—",
                self.status_text(run),
                f"{run.answered} of {run.planned}{failed}",
                f"{share(run.metrics.get(key))} {metric_label(key)}"
                if run.metrics.get(key) is not None
                else "—",
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if run.stale:
                return "The set changed since this run: its figures are of the earlier version."
            if column == self.HEADLINE:
                return metrics.DESCRIPTIONS.get(key, "")
            return run.config.describe()
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS:
            if run.status == "failed" or run.failed:
                return ERROR_COLOUR
            if run.stale:
                return WARNING_COLOUR
        return None


class ResultsModel(ListTableModel):
    NUMBER, QUESTION, STATUS, ANSWER, SCORE, NOTES = range(6)
    HEADERS = ("#", "Question", "Status", "Answer", "Score", "Notes")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.run: EvalRun | None = None

    def set_results(self, run: EvalRun | None, results: Sequence[QuestionResult]) -> None:
        self.run = run
        self.set_items(sorted(results, key=lambda r: r.position))

    def add_results(self, results: Sequence[QuestionResult]) -> None:
        """Results of a run that goes on: new ones appended in one insert, others replaced."""
        rows = {item.question_id: row for row, item in enumerate(self._items)}
        new = []
        for result in results:
            row = rows.get(result.question_id)
            if row is None:
                new.append(result)
                continue
            self._items[row] = result
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))
        if new:
            first = len(self._items)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._items.extend(new)
            self.endInsertRows()

    def _score(self, result: QuestionResult) -> tuple[str, float]:
        m = result.metrics
        for key in (metrics.CORRECT, metrics.F1, metrics.HIT_K, metrics.ANSWER_IN_CONTEXT):
            if m.get(key) is not None:
                return f"{metric_label(key)} {figure(key, m[key])}", float(m[key] or 0.0)
        if not result.answerable and m.get(metrics.REFUSED_UNANSWERABLE) is not None:
            refused = m[metrics.REFUSED_UNANSWERABLE]
            return ("refused (right)" if refused else "answered (wrong)"), float(refused or 0)
        return "—", -1.0

    def _notes(self, result: QuestionResult) -> str:
        notes = []
        if result.error:
            notes.append(result.error)
        if result.format_violation:
            notes.append(f"format: {result.format_violation}")
        if result.judge is not None and result.judge.status != "judged":
            notes.append(f"unjudged: {result.judge.reason}")
        elif result.judge is not None and result.judge.reason:
            notes.append(f"judge: {result.judge.reason}")
        return "; ".join(notes)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        result: QuestionResult = self._items[index.row()]
        column = index.column()
        if role == RECORD_ROLE:
            return result
        if role == SORT_ROLE:
            if column == self.NUMBER:
                return result.position
            if column == self.SCORE:
                return self._score(result)[1]
            return self.data(index)
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                result.position + 1,
                one_line(result.question, 100),
                "ok" if result.ok else "failed",
                one_line(result.answer, 100) if result.answer else "—",
                self._score(result)[0],
                one_line(self._notes(result), 120),
            )[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == self.NOTES:
            return self._notes(result)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.STATUS and not result.ok:
            return ERROR_COLOUR
        return None


class ComparisonModel(ListTableModel):
    """One row per question, a column of right/wrong per run."""

    NUMBER, QUESTION = 0, 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []

    def set_comparison(self, labels: Sequence[str], rows: Sequence[QuestionRow]) -> None:
        self.beginResetModel()
        self.labels = list(labels)
        self._items = list(rows)
        self.endResetModel()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 2 + len(self.labels)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("#", "Question", *self.labels)[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row: QuestionRow = self._items[index.row()]
        column = index.column()
        if role == RECORD_ROLE:
            return row
        right = row.right[column - 2] if column >= 2 else None
        if role == SORT_ROLE:
            if column == self.NUMBER:
                return row.position
            if column >= 2:
                return -1 if right is None else int(right)
            return row.question
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.NUMBER:
                return row.position + 1
            if column == self.QUESTION:
                return one_line(row.question, 100)
            result = row.results[column - 2]
            if result is None:
                return "not run"
            if not result.ok:
                return "failed"
            return "—" if right is None else ("right" if right else "wrong")
        if role == Qt.ItemDataRole.ForegroundRole and column >= 2 and right is not None:
            return GOOD_COLOUR if right else ERROR_COLOUR
        return None


class SweepModel(ListTableModel):
    KEYS = (
        metrics.HIT_1,
        metrics.HIT_5,
        metrics.MRR,
        metrics.NDCG_10,
        metrics.RECALL_K,
        metrics.ANSWER_IN_CONTEXT,
    )
    HEADERS = (
        "Strategy",
        "Size",
        "Embedder",
        "Mode",
        "k",
        "Chunks",
        *(metric_label(k) for k in KEYS),
    )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row: SweepRow = self._items[index.row()]
        column = index.column()
        if role == RECORD_ROLE:
            return row
        values = (
            row.strategy,
            row.size,
            row.embedder or "— (BM25)",
            row.mode,
            row.k,
            row.chunks,
            *(row.metrics.get(k) for k in self.KEYS),
        )
        if role == SORT_ROLE:
            value = values[column]
            return -1.0 if value is None else value
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 1:
                return f"{row.size} {SIZE_UNITS.get(row.strategy, 'tokens')}"
            if column >= 6:
                return figure(self.KEYS[column - 6], values[column])
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole and column >= 6:
            return metrics.DESCRIPTIONS.get(self.KEYS[column - 6], "")
        return None
