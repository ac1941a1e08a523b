"""The Evaluate tab's charts (QtCharts): bars of one metric across runs or sweep rows, and
lines of one metric over time, one line per mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QDateTimeAxis,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QDateTime, QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from desktop.evaluation.compare import Point
from desktop.evaluation.records import MODE_LABELS

MODE_COLOURS = {
    "retrieval": "#607d8b",
    "base": "#9e9e9e",
    "rag": "#1e88e5",
    "ft": "#8e24aa",
    "ft-rag": "#43a047",
}


class _Chart(QChartView):
    def __init__(self, parent: QWidget | None = None) -> None:
        chart = QChart()
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        super().__init__(chart, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(160)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # nothing there for the keyboard

    def clear(self, title: str) -> QChart:
        chart = self.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        chart.setTitle(title)
        return chart


class BarChart(_Chart):
    """One bar per label for one metric (0–1 shares as percentages, others as they are)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: list[float | None] = []

    def show_values(
        self,
        title: str,
        labels: Sequence[str],
        values: Sequence[float | None],
        *,
        percent: bool = True,
    ) -> None:
        chart = self.clear(title)
        self.values = list(values)
        series = QBarSeries()
        bars = QBarSet(title)
        for value in values:
            shown = 0.0 if value is None else float(value) * (100 if percent else 1)
            bars.append(shown)
        series.append(bars)
        series.setLabelsVisible(True)
        series.setLabelsFormat("@value" + ("%" if percent else ""))
        series.setLabelsPrecision(3)
        chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append([_short(label) for label in labels])
        if len(labels) > 6:
            categories.setLabelsAngle(-35)
        chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        axis = QValueAxis()
        top = max([v for v in values if v is not None] or [0.0]) * (100 if percent else 1)
        axis.setRange(0, 100 if percent else max(1.0, top * 1.15))
        axis.setLabelFormat("%d%%" if percent else "%g")
        chart.addAxis(axis, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(axis)
        chart.legend().setVisible(False)


class LineChart(_Chart):
    """One line per mode: a metric over the runs' dates."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lines: dict[str, list[Point]] = {}

    def show_series(self, title: str, series: Mapping[str, Sequence[Point]]) -> None:
        chart = self.clear(title)
        self.lines = {mode: list(points) for mode, points in series.items()}
        points = [p for line in series.values() for p in line]
        if not points:
            return
        dates = QDateTimeAxis()
        dates.setFormat("MM-dd HH:mm")
        first, last = min(p.at for p in points), max(p.at for p in points)
        if last - first < 60:
            first, last = first - 1800, last + 1800
        dates.setRange(
            QDateTime.fromSecsSinceEpoch(int(first)), QDateTime.fromSecsSinceEpoch(int(last))
        )
        values = QValueAxis()
        values.setRange(0, 100)
        values.setLabelFormat("%d%%")
        chart.addAxis(dates, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(values, Qt.AlignmentFlag.AlignLeft)
        for mode, line in series.items():
            drawn = QLineSeries()
            drawn.setName(MODE_LABELS.get(mode, mode))
            drawn.setPointsVisible(True)
            drawn.setMarkerSize(9)
            drawn.setColor(QColor(MODE_COLOURS.get(mode, "#333333")))
            for point in line:
                drawn.append(float(point.at * 1000), point.value * 100)
            chart.addSeries(drawn)
            drawn.attachAxis(dates)
            drawn.attachAxis(values)
        chart.legend().setVisible(True)


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
