"""Measures whether the GUI thread stays responsive: a timer on the GUI thread ticks
every few milliseconds, and the longest gap between ticks is the longest stall."""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import QElapsedTimer, QTimer


class Heartbeat:
    def __init__(self, interval_ms: int = 10) -> None:
        self.ticks: list[int] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(lambda: self.ticks.append(self._clock.elapsed()))

    def __enter__(self) -> Heartbeat:
        self._clock.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.stop()

    @property
    def longest_stall_ms(self) -> int:
        return max((b - a for a, b in pairwise(self.ticks)), default=0)
