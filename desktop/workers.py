"""The one worker primitive and the registry of running tasks.

``Worker`` runs a function or a progress generator (see ``desktop.progress``) on a
``QThreadPool`` and reports back through signals that are delivered on the GUI thread.
Workers never touch widgets; they return values. ``TaskManager`` is what the status bar
reads, what the quit path cancels and waits for, and where serial queues live (one writer
per resource)."""

from __future__ import annotations

import inspect
import itertools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from desktop.progress import Cancelled, CancelToken, Progress, drive

log = logging.getLogger(__name__)

STORE_QUEUE = "store"  # the one writer to the workspace; its queued writes survive a quit
SEARCH_QUEUE = "search"  # searches and index runs, one at a time (they share the index)
STARTUP_QUEUE = "start-up"  # what start-up does after the first paint, one step at a time
SETTINGS_QUEUE = "settings"  # settings file writes, in order


@dataclass(frozen=True)
class TaskError:
    """A failure handed to the GUI thread: the exception and its traceback as text."""

    exception: BaseException
    details: str

    @property
    def message(self) -> str:
        return str(self.exception) or type(self.exception).__name__


class WorkerSignals(QObject):
    started = Signal()
    progress = Signal(object)  # Progress, or whatever else the generator yields
    result = Signal(object)
    error = Signal(object)  # TaskError
    cancelled = Signal()
    finished = Signal()


class Worker(QRunnable):
    """Run ``fn(*args, **kwargs)`` off the GUI thread.

    If ``fn`` takes a ``cancel`` keyword it receives the worker's ``CancelToken``. If it
    returns a generator, each yielded ``Progress`` is emitted and the cancel flag is
    checked between steps; the generator's return value is the result. Exactly one of
    result / error / cancelled is emitted, then finished."""

    _ids = itertools.count(1)

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        title: str = "",
        stops_itself: bool = False,
        **kwargs: Any,
    ) -> None:
        """``stops_itself``: the operation watches its cancel token and returns a result
        when cancelled (a stopped answer is kept, not discarded); the worker then neither
        closes it early nor drops its result."""
        super().__init__()
        self.stops_itself = stops_itself
        self.id = next(self._ids)
        self.title = title or getattr(fn, "__name__", "task")
        self.signals = WorkerSignals()
        self.cancel_token = CancelToken()
        self.last_progress: Progress | None = None
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        if _accepts_cancel(fn):
            self._kwargs.setdefault("cancel", self.cancel_token)

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_token.cancelled

    def run(self) -> None:
        signals = self.signals
        signals.started.emit()
        try:
            if self.cancel_token.cancelled:
                raise Cancelled
            outcome = self._fn(*self._args, **self._kwargs)
            if inspect.isgenerator(outcome):
                outcome = self._drive(outcome)
            if self.cancel_token.cancelled and not self.stops_itself:
                raise Cancelled
        except Cancelled:
            signals.cancelled.emit()
        except BaseException as exc:
            if self.cancel_token.cancelled:
                signals.cancelled.emit()
            else:
                log.error("Task %r failed: %s", self.title, exc, exc_info=True)
                signals.error.emit(TaskError(exc, traceback.format_exc()))
        else:
            signals.result.emit(outcome)
        finally:
            signals.finished.emit()

    def _drive(self, generator: Any) -> Any:
        return drive(generator, self._report, self.cancel_token, stops_itself=self.stops_itself)

    def _report(self, step: object) -> None:
        if isinstance(step, Progress):
            self.last_progress = step
        self.signals.progress.emit(step)


def _accepts_cancel(fn: Callable[..., Any]) -> bool:
    try:
        return "cancel" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class TaskManager(QObject):
    """Every running worker, for the status bar and for a clean quit."""

    task_started = Signal(object)  # Worker
    task_progress = Signal(object, object)  # Worker, Progress
    task_finished = Signal(object)  # Worker

    def __init__(self, parent: QObject | None = None, *, max_threads: int | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        if max_threads:
            self._pool.setMaxThreadCount(max_threads)
        self._serial: dict[str, QThreadPool] = {}
        self._running: dict[int, Worker] = {}
        self._pending: dict[int, tuple[QThreadPool, Worker, str | None]] = {}
        self._held: list[int] = []  # submitted while held: started, in order, on release
        self._holds = 0
        self._closed = False

    @property
    def running(self) -> list[Worker]:
        return list(self._running.values())

    def submit(self, worker: Worker, *, queue: str | None = None) -> Worker:
        """Start ``worker`` on the next turn of the event loop, so the caller can connect
        its signals first (a fast task would otherwise finish before anyone listens).
        Workers given the same ``queue`` name run one at a time, in the order submitted
        (one writer to the store, one poller per job)."""
        self._running[worker.id] = worker
        worker.signals.progress.connect(
            lambda p, w=worker: self.task_progress.emit(w, p) if isinstance(p, Progress) else None
        )
        worker.signals.finished.connect(lambda w=worker: self._finish(w))
        self.task_started.emit(worker)
        pool = self._pool_for(queue)
        self._pending[worker.id] = (pool, worker, queue)
        QTimer.singleShot(0, self, lambda: self._start(worker.id))
        return worker

    def hold(self) -> None:
        """Start nothing submitted from now until ``release``: while the GUI thread builds
        and first paints a tab, the work the tab asks for would take the GIL from it
        (three start-up workers made a 25 ms build and paint a 50 ms stall). Holds nest."""
        self._holds += 1

    def release(self) -> None:
        if self._holds == 0:
            if not self._closed:  # a quit drops every hold
                log.warning("A hold on the background tasks was released twice")
            return
        self._holds -= 1
        if self._holds == 0:
            held, self._held = self._held, []
            for worker_id in held:
                self._start(worker_id)

    def _start(self, worker_id: int) -> None:
        if self._holds and not self._closed and worker_id in self._pending:
            self._held.append(worker_id)
            return
        entry = self._pending.pop(worker_id, None)
        if entry is None:
            return
        pool, worker, _queue = entry
        if self._closed:
            worker.cancel()
            worker.run()  # emits cancelled and finished at once, on this thread
            return
        pool.start(worker)

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        title: str = "",
        queue: str | None = None,
        **kwargs: Any,
    ) -> Worker:
        return self.submit(Worker(fn, *args, title=title, **kwargs), queue=queue)

    def _pool_for(self, queue: str | None) -> QThreadPool:
        if queue is None:
            return self._pool
        pool = self._serial.get(queue)
        if pool is None:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(1)
            self._serial[queue] = pool
        return pool

    def _finish(self, worker: Worker) -> None:
        if self._running.pop(worker.id, None) is not None:
            self.task_finished.emit(worker)

    def cancel_all(self) -> None:
        for worker in self.running:
            worker.cancel()

    def wait_for_all(self, msecs: int = 10_000) -> bool:
        """Block until every pool is idle (used on quit, after cancel_all)."""
        pools = [self._pool, *self._serial.values()]
        return all(pool.waitForDone(msecs) for pool in pools)

    def shutdown(self, msecs: int = 10_000) -> bool:
        """Cancel everything, wait for running work, and start nothing new, except that
        writes already queued for the store still run: an edit made just before quitting
        is saved, not dropped."""
        drained = set()
        for worker_id, (pool, worker, queue) in list(self._pending.items()):
            if queue == STORE_QUEUE and not worker.is_cancelled:
                del self._pending[worker_id]
                drained.add(worker_id)
                pool.start(worker)
        self._closed = True
        for worker in self.running:
            if worker.id not in drained:
                worker.cancel()
        self._holds = 0
        held, self._held = self._held, []
        for worker_id in held:
            self._start(worker_id)  # closed: each says it was cancelled, at once
        finished = self.wait_for_all(msecs)
        if not finished:
            log.warning("Some background tasks did not stop within %d ms", msecs)
        return finished
