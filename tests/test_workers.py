from __future__ import annotations

import threading
import time

import pytest
from pytestqt.qtbot import QtBot

from desktop.progress import CancelToken, Progress
from desktop.workers import TaskError, TaskManager, Worker


@pytest.fixture
def tasks(qtbot: QtBot) -> TaskManager:
    manager = TaskManager()
    yield manager
    manager.shutdown()


def test_result_arrives_on_the_gui_thread(qtbot: QtBot, tasks: TaskManager) -> None:
    seen: list[tuple[object, bool]] = []
    gui_thread = threading.current_thread()

    def work() -> int:
        assert threading.current_thread() is not gui_thread
        return 42

    worker = Worker(work, title="answer")
    worker.signals.result.connect(
        lambda value: seen.append((value, threading.current_thread() is gui_thread))
    )
    with qtbot.waitSignal(worker.signals.finished, timeout=5000):
        tasks.submit(worker)
    assert seen == [(42, True)]


def test_errors_arrive_as_values_with_a_traceback(qtbot: QtBot, tasks: TaskManager) -> None:
    errors: list[TaskError] = []

    def broken() -> None:
        raise ValueError("bad input in file notes.txt")

    worker = Worker(broken, title="broken")
    worker.signals.error.connect(errors.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=5000):
        tasks.submit(worker)
    assert errors[0].message == "bad input in file notes.txt"
    assert "ValueError" in errors[0].details


def test_a_progress_generator_reports_and_stops_between_steps(
    qtbot: QtBot, tasks: TaskManager
) -> None:
    reached: list[int] = []
    cleaned_up = threading.Event()

    def steps():
        try:
            for i in range(1000):
                reached.append(i)
                time.sleep(0.005)
                yield Progress(i + 1, 1000, f"step {i + 1}")
            return "done"
        finally:
            cleaned_up.set()

    worker = Worker(steps, title="steps")
    progress: list[Progress] = []
    cancelled: list[bool] = []
    worker.signals.progress.connect(progress.append)
    worker.signals.cancelled.connect(lambda: cancelled.append(True))
    worker.signals.result.connect(lambda _: pytest.fail("a cancelled task has no result"))
    tasks.submit(worker)
    qtbot.waitUntil(lambda: len(progress) >= 5, timeout=5000)
    with qtbot.waitSignal(worker.signals.finished, timeout=5000):
        worker.cancel()
    assert cancelled == [True]
    assert cleaned_up.is_set()
    assert len(reached) < 1000
    assert progress[0] == Progress(1, 1000, "step 1")


def test_functions_taking_cancel_get_the_token(qtbot: QtBot, tasks: TaskManager) -> None:
    def wait_for_cancel(cancel: CancelToken) -> None:
        cancel.wait(10)
        cancel.raise_if_cancelled()

    worker = tasks.run(wait_for_cancel, title="waiting")
    cancelled: list[bool] = []
    worker.signals.cancelled.connect(lambda: cancelled.append(True))
    with qtbot.waitSignal(worker.signals.finished, timeout=5000):
        worker.cancel()
    assert cancelled == [True]


def test_a_named_queue_runs_one_task_at_a_time_in_order(qtbot: QtBot, tasks: TaskManager) -> None:
    order: list[str] = []
    active = [0]
    overlap = [False]

    def job(name: str) -> None:
        active[0] += 1
        overlap[0] |= active[0] > 1
        time.sleep(0.02)
        order.append(name)
        active[0] -= 1

    workers = [tasks.run(job, str(i), title=f"job {i}", queue="store") for i in range(5)]
    qtbot.waitUntil(lambda: len(order) == 5, timeout=5000)
    assert order == ["0", "1", "2", "3", "4"]
    assert not overlap[0]
    qtbot.waitUntil(lambda: not tasks.running, timeout=5000)
    assert all(w.id not in {r.id for r in tasks.running} for w in workers)


def test_shutdown_cancels_and_waits(qtbot: QtBot) -> None:
    manager = TaskManager()
    started_running, stopped = threading.Event(), threading.Event()

    def forever(cancel: CancelToken) -> None:
        started_running.set()
        while not cancel.wait(0.01):
            pass
        stopped.set()

    manager.run(forever, title="forever")
    qtbot.waitUntil(started_running.is_set, timeout=5000)
    started = time.monotonic()
    assert manager.shutdown(5000)
    assert stopped.is_set()
    assert time.monotonic() - started < 2


def test_quitting_still_runs_writes_queued_for_the_store(qtbot: QtBot) -> None:
    """An edit made just before quitting is saved, not dropped: queued store writes run;
    other queued work does not start."""
    manager = TaskManager()
    written: list[str] = []
    manager.run(lambda: written.append("edit"), title="save edit", queue="store")
    manager.run(lambda: written.append("search"), title="search", queue="search")
    assert manager.shutdown(5000)  # before the event loop ever started them
    assert written == ["edit"]
