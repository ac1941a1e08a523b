"""Progress and cancellation for long domain operations, without Qt.

A long operation is a generator that yields ``Progress`` between steps and returns its
result; whoever drives it (a Qt worker, the CLI, a test) reports progress and stops it
between steps when asked. Operations that cannot yield check a ``CancelToken``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))


class Cancelled(Exception):
    """Raised inside an operation that noticed its cancel token; not an error."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` when cancelled (at once if already): for work blocked in a
        call that a flag cannot interrupt, such as reading a network stream."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled

    def wait(self, seconds: float) -> bool:
        """Sleep that wakes early on cancel; True when cancelled."""
        return self._event.wait(seconds)


ProgressGenerator = Generator[Progress, None, T]


def drive(
    operation: Generator[Any, None, T],
    on_step: Callable[[Any], object] | None = None,
    cancel: CancelToken | None = None,
    *,
    stops_itself: bool = False,
) -> T:
    """The one loop that runs a long operation: the Qt worker, the commands and the tests
    all drive generators through it.

    Each yielded step (a ``Progress`` or an operation's own event) goes to ``on_step``.
    Between steps a cancelled token closes the generator (its ``finally`` blocks run, so
    nothing is left half-done) and raises ``Cancelled``. An operation that
    ``stops_itself`` watches the token on its own and returns what it has (a stopped
    answer is kept), so it is driven to its end."""
    while True:
        if cancel is not None and cancel.cancelled and not stops_itself:
            operation.close()
            raise Cancelled
        try:
            step = next(operation)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if on_step is not None:
            on_step(step)


def run_to_end(operation: Generator[Any, None, T]) -> T:
    """Drive a generator without reporting (scripts and tests)."""
    return drive(operation)
