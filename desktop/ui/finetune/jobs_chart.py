"""The live training chart: loss per step, and validation loss and token accuracy when
the provider sends them (accuracy on its own 0–100 % axis)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from desktop.finetune.metrics import MetricsSeries

CURVES = (
    # (metric name, legend label, colour, on the accuracy axis)
    ("train_loss", "Training loss", "#1565c0", False),
    ("valid_loss", "Validation loss", "#e65100", False),
    ("full_valid_loss", "Full validation loss", "#6a1b9a", False),
    ("train_mean_token_accuracy", "Training token accuracy", "#2e7d32", True),
    ("valid_mean_token_accuracy", "Validation token accuracy", "#00838f", True),
)


class MetricsChart(QChartView):
    """Curves are created once and their points replaced on each update, so a running
    job's chart grows without rebuilding the scene."""

    def __init__(self, parent: Any = None) -> None:
        chart = QChart()
        chart.setMargins(chart.margins() * 0)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        super().__init__(chart, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(220)
        self.step_axis = QValueAxis()
        self.step_axis.setTitleText("Step")
        self.step_axis.setLabelFormat("%d")
        self.loss_axis = QValueAxis()
        self.loss_axis.setTitleText("Loss")
        self.accuracy_axis = QValueAxis()
        self.accuracy_axis.setTitleText("Token accuracy")
        self.accuracy_axis.setRange(0.0, 1.0)
        self.accuracy_axis.setLabelFormat("%.1f")
        chart.addAxis(self.step_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.loss_axis, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(self.accuracy_axis, Qt.AlignmentFlag.AlignRight)
        self.series: dict[str, QLineSeries] = {}
        for name, label, colour, on_accuracy in CURVES:
            line = QLineSeries()
            line.setName(label)
            pen = QPen(QColor(colour))
            pen.setWidthF(2.0)
            if on_accuracy:
                pen.setStyle(Qt.PenStyle.DashLine)
            line.setPen(pen)
            chart.addSeries(line)
            line.attachAxis(self.step_axis)
            line.attachAxis(self.accuracy_axis if on_accuracy else self.loss_axis)
            self.series[name] = line
        self.set_metrics(MetricsSeries())

    def set_metrics(self, metrics: MetricsSeries) -> None:
        chart = self.chart()
        any_accuracy = False
        losses: list[float] = []
        for name, _label, _colour, on_accuracy in CURVES:
            points = metrics.points(name)
            line = self.series[name]
            line.replace([QPointF(step, value) for step, value in points])
            line.setVisible(bool(points))
            chart.legend().markers(line)[0].setVisible(bool(points))
            if points and on_accuracy:
                any_accuracy = True
            if points and not on_accuracy:
                losses.extend(value for _step, value in points)
        self.accuracy_axis.setVisible(any_accuracy)
        steps = metrics.steps
        low, high = (min(steps), max(steps)) if steps else (0, 1)
        self.step_axis.setRange(low, high if high > low else low + 1)
        self.step_axis.setTickCount(min(6, max(2, high - low + 1)))
        if high - low > 5:
            self.step_axis.applyNiceNumbers()
        top = max(losses) if losses else 1.0
        self.loss_axis.setRange(0.0, top * 1.05 if top > 0 else 1.0)
        self.loss_axis.setTickCount(6)
        self.loss_axis.applyNiceNumbers()
        chart.setTitle("" if steps else "No training metrics yet")

    def points(self, name: str) -> list[tuple[float, float]]:
        """What the chart shows for one curve (for tests and the status line)."""
        return [(p.x(), p.y()) for p in self.series[name].points()]
