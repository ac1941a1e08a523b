"""The Compare page (runs side by side: a table and a bar chart per metric, each question
with every run's answer, and the questions one run got right and another wrong) and the
Over time page (each metric per mode across the set's runs, as lines)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.evaluation import metrics
from desktop.evaluation.compare import COMPARED_KEYS, Comparison, QuestionRow, history, metric_label
from desktop.evaluation.records import MODE_LABELS, EvalRun
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.table_model import RECORD_ROLE, SORT_ROLE, ListTableModel, record_table
from desktop.ui.evaluation.charts import MODE_COLOURS, BarChart, LineChart
from desktop.ui.evaluation.models import ComparisonModel, figure, when
from desktop.ui.evaluation.runs_view import result_html

PERCENT_KEYS = frozenset(k for k in COMPARED_KEYS if k in metrics.SHARE_KEYS)


SHORT_MODES = {
    "retrieval": "Retrieval",
    "base": "Base",
    "rag": "RAG",
    "ft": "FT",
    "ft-rag": "FT+RAG",
}


def run_label(run: EvalRun) -> str:
    model = f" · {run.model}" if run.model else ""
    return f"#{run.id} {MODE_LABELS.get(run.mode, run.mode)}{model}"


def short_label(run: EvalRun) -> str:
    """For column headers and chart bars ("#5 FT+RAG"); the full label is the tooltip."""
    return f"#{run.id} {SHORT_MODES.get(run.mode, run.mode)}"


class MetricsModel(ListTableModel):
    """Rows: metrics; columns: the compared runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: Comparison | None = None

    def set_comparison(self, comparison: Comparison) -> None:
        self.beginResetModel()
        self.comparison = comparison
        self._items = list(comparison.keys)
        self.endResetModel()

    def columnCount(self, parent=None) -> int:  # type: ignore[no-untyped-def]
        return 1 + (len(self.comparison.runs) if self.comparison else 0)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if section == 0 or self.comparison is None:
            return "Metric"
        return short_label(self.comparison.runs[section - 1])

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if not index.isValid() or self.comparison is None:
            return None
        key = self._items[index.row()]
        column = index.column()
        value = self.comparison.value(column - 1, key) if column else None
        if role == RECORD_ROLE:
            return key
        if role == SORT_ROLE:
            return metric_label(key) if column == 0 else (-1.0 if value is None else value)
        if role == Qt.ItemDataRole.DisplayRole:
            return metric_label(key) if column == 0 else figure(key, value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return metrics.DESCRIPTIONS.get(key, "")
        return None


class ChangedFilter(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.only_changed = False
        self.setSortRole(SORT_ROLE)

    def set_only_changed(self, value: bool) -> None:
        self.beginFilterChange()
        self.only_changed = value
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent) -> bool:  # type: ignore[no-untyped-def]
        if not self.only_changed:
            return True
        model = self.sourceModel()
        record = model.data(model.index(row, 0, parent), RECORD_ROLE)
        return bool(record is not None and record.changed)


class CompareView(QWidget):
    runs_chosen = Signal(list)  # run ids to compare

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: Comparison | None = None
        self._pending: Comparison | None = None
        self.run_list = QListWidget()
        self.run_list.setMaximumWidth(260)
        self.run_list.setToolTip("Tick the runs to compare (Space ticks the selected one)")
        self.metric = QComboBox()
        self.metric.setToolTip("The metric the bar chart shows")
        self.only_changed = QCheckBox("Only questions that changed")
        self.only_changed.setToolTip(
            "Questions one run got right and another wrong (right: the judge's verdict, else "
            "F1 ≥ 0.5, or for retrieval a covering chunk in the top k)"
        )
        self.metrics = MetricsModel(self)
        self.metrics_proxy = QSortFilterProxyModel(self)
        self.metrics_proxy.setSourceModel(self.metrics)
        self.metrics_table = record_table(
            self.metrics_proxy, stretch=0, samples=("#99 FT+RAG",) * 6
        )
        self.chart = BarChart()
        self.questions = ComparisonModel(self)
        self.filter = ChangedFilter(self)
        self.filter.setSourceModel(self.questions)
        self.questions_table = record_table(self.filter, sort_column=0)
        self.questions_table.horizontalHeader().setStretchLastSection(False)
        self.detail = QTextBrowser()
        self.detail.setPlaceholderText("Select a question to see each run's answer and sources.")
        self.changed_label = QLabel()

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Bar chart of:"))
        controls.addWidget(self.metric)
        controls.addStretch(1)
        controls.addWidget(self.changed_label)
        controls.addWidget(self.only_changed)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.metrics_table)
        top.addWidget(self.chart)
        top.setSizes([500, 500])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.questions_table)
        bottom.addWidget(self.detail)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(bottom)
        right_box = QWidget()
        right_layout = QVBoxLayout(right_box)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(controls)
        right_layout.addWidget(right, 1)
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(self.run_list)
        main.addWidget(right_box)
        main.setStretchFactor(1, 1)
        self.empty = EmptyState(
            "Nothing to compare yet",
            "Run the set in two or more modes (for example all four: base, RAG, fine-tuned, "
            "fine-tuned + RAG) in the Runs page, then tick the runs to compare here.",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(main)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.run_list.itemChanged.connect(lambda _item: self.runs_chosen.emit(self.chosen_runs()))
        self.metric.currentIndexChanged.connect(lambda _: self._draw_chart())
        self.only_changed.toggled.connect(self.filter.set_only_changed)
        self.questions_table.selectionModel().selectionChanged.connect(self._question_chosen)

    def show_runs(self, runs: Sequence[EvalRun], chosen: Sequence[int]) -> None:
        finished = [r for r in runs if r.answered]
        self.stack.setCurrentIndex(1 if len(finished) >= 2 else 0)
        self.run_list.blockSignals(True)
        self.run_list.clear()
        for run in finished:
            item = QListWidgetItem(f"{run_label(run)}\n{when(run.created_at)}")
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if run.id in chosen else Qt.CheckState.Unchecked
            )
            if run.stale:
                item.setToolTip("The set changed since this run")
            self.run_list.addItem(item)
        self.run_list.blockSignals(False)

    def chosen_runs(self) -> list[int]:
        return [
            int(self.run_list.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.run_list.count())
            if self.run_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._pending is not None:
            self.show_comparison(self._pending)

    def show_comparison(self, comparison: Comparison) -> None:
        """Shown at once when the page is on screen, else when it is next shown."""
        if not self.isVisible():
            self._pending = comparison
            self.comparison = comparison
            return
        self._pending = None
        self.comparison = comparison
        self.metrics.set_comparison(comparison)
        labels = [short_label(r) for r in comparison.runs]
        self.questions.set_comparison(labels, comparison.rows)
        header = self.questions_table.horizontalHeader()
        header.setSectionResizeMode(0, header.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, header.ResizeMode.Stretch)
        for column in range(2, 2 + len(labels)):
            header.setSectionResizeMode(column, header.ResizeMode.ResizeToContents)
        self.changed_label.setText(f"{len(comparison.changed())} changed")
        current = self.metric.currentData()
        self.metric.blockSignals(True)
        self.metric.clear()
        for key in comparison.keys:
            self.metric.addItem(metric_label(key), key)
        found = self.metric.findData(current)
        self.metric.setCurrentIndex(found if found >= 0 else 0)
        self.metric.blockSignals(False)
        self._draw_chart()

    def _draw_chart(self) -> None:
        comparison = self.comparison
        key = self.metric.currentData()
        if comparison is None or key is None:
            return
        values = [comparison.value(i, key) for i in range(len(comparison.runs))]
        self.chart.show_values(
            metric_label(key),
            [short_label(r) for r in comparison.runs],
            values,
            percent=key in PERCENT_KEYS,
        )

    def _question_chosen(self) -> None:
        rows = self.questions_table.selectionModel().selectedRows()
        if not rows or self.comparison is None:
            self.detail.clear()
            return
        row: QuestionRow = self.filter.data(rows[0], RECORD_ROLE)
        parts = []
        for run, result in zip(self.comparison.runs, row.results, strict=True):
            parts.append(f"<h4>{html.escape(run_label(run))}</h4>")
            parts.append(result_html(result) if result else "<p>not run</p>")
        self.detail.setHtml("".join(parts))


class HistoryView(QWidget):
    """Each mode's runs of the set as a line per metric: a change shows as a step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[EvalRun] = []
        self._stale = False
        self.metric = QComboBox()
        for key in COMPARED_KEYS:
            if key in PERCENT_KEYS:
                self.metric.addItem(metric_label(key), key)
        self.metric.setToolTip(metrics.DESCRIPTIONS.get(metrics.F1, ""))
        self.chart = LineChart()
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.empty = EmptyState(
            "No history yet",
            "Each finished run of this set becomes a point here, one line per mode, so a "
            "change of chunking, model or data shows as a step. Run the set in the Runs page.",
        )
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric:"))
        row.addWidget(self.metric)
        row.addStretch(1)
        body_layout.addLayout(row)
        body_layout.addWidget(self.chart, 1)
        body_layout.addWidget(self.legend)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.metric.currentIndexChanged.connect(lambda _: self.draw())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.show_runs(self.runs)

    def show_runs(self, runs: Sequence[EvalRun]) -> None:
        """The runs of the set; the metric shown moves to one the runs have, if needed.
        Drawn when the page is shown (a chart costs the GUI thread a moment)."""
        self.runs = list(runs)
        self._stale = not self.isVisible()
        if self._stale:
            return
        if not history(self.runs, self.metric.currentData() or metrics.F1):
            for index in range(self.metric.count()):
                if history(self.runs, self.metric.itemData(index)):
                    self.metric.blockSignals(True)
                    self.metric.setCurrentIndex(index)
                    self.metric.blockSignals(False)
                    break
        self.draw()

    def draw(self) -> None:
        key = self.metric.currentData() or metrics.F1
        series = history(self.runs, key)
        self.stack.setCurrentIndex(1 if series else 0)
        self.chart.show_series(metric_label(key), series)
        self.metric.setToolTip(metrics.DESCRIPTIONS.get(key, ""))
        self.legend.setText(
            " · ".join(
                f"<span style='color:{MODE_COLOURS.get(mode, '#333')}'>■</span> "
                f"{MODE_LABELS.get(mode, mode)}: {len(points)} run(s)"
                for mode, points in series.items()
            )
            or f"No finished run has {metric_label(key)}."
        )
