"""Whether the GUI thread stays responsive: a timer on the GUI thread ticks every few
milliseconds while work runs. Tests assert that it kept ticking (the work ran off the GUI
thread: a counted fact, not a timing); the benchmarks print the longest gap between ticks,
the longest stall, with the load average (tests/benchmarks/bench_gui.py)."""

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

    def assert_kept_ticking(self, minimum: int = 10) -> None:
        """The event loop ran while the work did: work done on the GUI thread would have
        stopped the ticks for its whole length."""
        assert len(self.ticks) >= minimum, (
            f"the GUI thread ticked only {len(self.ticks)} times during the work"
        )
