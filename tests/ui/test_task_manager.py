"""The task manager's hold: work submitted while the GUI thread builds and paints a tab
starts after it, in the order it was asked for; a quit meanwhile cancels it cleanly."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from desktop.workers import STORE_QUEUE, TaskManager


def test_work_submitted_while_held_starts_in_order_on_release(
    qtbot: QtBot, tasks: TaskManager
) -> None:
    order: list[str] = []
    lock = threading.Lock()

    def step(name: str) -> None:
        with lock:
            order.append(name)

    tasks.hold()
    tasks.hold()  # holds nest
    for name in ("first", "second", "third"):
        tasks.run(step, name, title=name, queue="one at a time")
    qtbot.wait(50)
    assert order == []
    assert [w.title for w in tasks.running] == ["first", "second", "third"]
    tasks.release()
    qtbot.wait(50)
    assert order == []
    tasks.release()
    qtbot.waitUntil(lambda: len(order) == 3, timeout=2000)
    assert order == ["first", "second", "third"]


def test_a_quit_while_work_is_held_cancels_it_but_still_saves_queued_writes(
    qtbot: QtBot,
) -> None:
    tasks = TaskManager()
    outcomes: list[str] = []
    tasks.hold()
    read = tasks.run(lambda: outcomes.append("read ran"), title="Read")
    write = tasks.run(lambda: outcomes.append("write ran"), title="Write", queue=STORE_QUEUE)
    read.signals.cancelled.connect(lambda: outcomes.append("read cancelled"))
    qtbot.wait(20)
    assert tasks.shutdown(2000)
    qtbot.waitUntil(lambda: len(outcomes) == 2, timeout=2000)
    assert sorted(outcomes) == ["read cancelled", "write ran"]
    assert write.is_cancelled is False
