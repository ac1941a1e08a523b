"""A small bar chart of chunk sizes in tokens."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class SizeHistogram(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bins: list[tuple[int, int, int]] = []
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Histogram of chunk sizes in tokens")

    def sizeHint(self) -> QSize:
        return QSize(320, 130)

    def set_bins(self, bins: Sequence[tuple[int, int, int]]) -> None:
        self.bins = list(bins)
        self.setToolTip("\n".join(f"{lo}–{hi - 1} tokens: {n} chunks" for lo, hi, n in bins))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect().adjusted(8, 6, -8, -22)
        palette = self.palette()
        painter.setPen(palette.color(palette.ColorRole.WindowText))
        if not self.bins:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No chunks")
            return
        peak = max(n for _, _, n in self.bins) or 1
        width = rect.width() / len(self.bins)
        bar_colour = QColor("#3b82f6")
        for i, (_, _, count) in enumerate(self.bins):
            height = rect.height() * count / peak
            bar = QRectF(rect.left() + i * width + 1, rect.bottom() - height, width - 2, height)
            painter.fillRect(bar, bar_colour)
        low, high = self.bins[0][0], self.bins[-1][1] - 1
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 4, rect.width(), 16),
            Qt.AlignmentFlag.AlignLeft,
            f"{low} tokens",
        )
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 4, rect.width(), 16),
            Qt.AlignmentFlag.AlignRight,
            f"{high} tokens",
        )
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 4, rect.width(), 16),
            Qt.AlignmentFlag.AlignHCenter,
            f"max bin {peak} chunks",
        )
