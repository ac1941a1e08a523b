from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QTabWidget
from pytestqt.qtbot import QtBot

from desktop.progress import Progress
from desktop.ui import main_window
from desktop.ui.main_window import TAB_NAMES, MainWindow, TabSpec
from desktop.workers import TaskManager
from tests.helpers.responsiveness import Heartbeat


def test_the_window_shows_four_tabs_and_menus(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "RAGTune"
    tabs: QTabWidget = window.tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == list(TAB_NAMES)
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Help"]
    assert "PySide6" in window.about_text() and "Qt" in window.about_text()


def test_keyboard_shortcuts(qtbot: QtBot, make_window: Callable[[], MainWindow]) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    assert window.settings_action.shortcut().toString() == "Ctrl+,"
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    for index, action in enumerate(window.tab_actions):
        assert action.shortcut().toString() == f"Ctrl+{index + 1}"
    window.tab_actions[2].trigger()
    assert window.tabs.currentIndex() == 2


def test_geometry_and_current_tab_survive_a_restart(
    qtbot: QtBot, make_window: Callable[[], MainWindow]
) -> None:
    first = make_window()
    first.show()
    qtbot.waitExposed(first)
    first.resize(700, 500)
    first.move(QPoint(40, 30))
    first.tabs.setCurrentIndex(3)
    first.close()

    second = make_window()
    second.show()
    qtbot.waitExposed(second)
    assert second.tabs.currentIndex() == 3
    assert (second.width(), second.height()) == (700, 500)


def test_a_slow_task_shows_progress_and_can_be_cancelled_while_the_window_stays_responsive(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tasks: TaskManager
) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)

    def slow_import():
        for step in range(200):
            time.sleep(0.02)  # blocking work, as parsing or a network call would be
            yield Progress(step + 1, 200, f"file {step + 1} of 200")

    with Heartbeat() as heartbeat:
        worker = tasks.run(slow_import, title="Importing")
        qtbot.waitUntil(lambda: len(window.task_status.rows()) == 1, timeout=2000)
        row = window.task_status.rows()[0]
        qtbot.waitUntil(lambda: row.bar.value() >= 25, timeout=5000)
        assert row.bar.maximum() == 200
        assert "Importing: file" in row.label.text()
        assert window.task_status.isVisible()

        with qtbot.waitSignal(worker.signals.cancelled, timeout=3000):
            qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not window.task_status.rows(), timeout=2000)

    assert not window.task_status.isVisible()
    assert row.bar.value() < 200, "the task stopped before the end"
    assert len(heartbeat.ticks) > 20
    heartbeat.assert_kept_ticking()


def test_quitting_while_work_runs_cancels_it_without_hanging(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tasks: TaskManager
) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    finished_steps: list[int] = []

    def endless():
        step = 0
        while True:
            time.sleep(0.01)
            step += 1
            finished_steps.append(step)
            yield Progress(step)

    tasks.run(endless, title="Endless")
    qtbot.waitUntil(lambda: len(finished_steps) > 3, timeout=2000)
    started = time.monotonic()
    window.quit_action.trigger()
    assert time.monotonic() - started < 3
    assert not tasks.running or all(w.is_cancelled for w in tasks.running)
    count = len(finished_steps)
    time.sleep(0.1)
    assert len(finished_steps) == count, "the task kept running after quit"


def test_task_errors_become_a_readable_message(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tasks: TaskManager
) -> None:
    window = make_window()
    window.show()

    def fail() -> None:
        raise FileNotFoundError(2, "No such file or directory", "/tmp/missing.pdf")

    worker = tasks.run(fail, title="Import")
    worker.signals.error.connect(lambda error: window.report_task_error("Import", error))
    qtbot.waitUntil(lambda: window.message_bar.isVisible(), timeout=3000)
    assert window.message_bar.text == "Import failed: No such file or directory: /tmp/missing.pdf"
    assert window.message_bar.details_button.isVisible()


def test_many_tasks_show_as_one_line_and_messages_never_cover_the_workspace(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tasks: TaskManager
) -> None:
    import threading

    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    release = threading.Event()
    for n in range(5):
        tasks.run(lambda: release.wait(10), title=f"Loading part {n}")
    qtbot.waitUntil(lambda: window.task_status.isVisible(), timeout=2000)
    assert len(window.task_status.rows()) == 1
    assert "0 of 5 tasks done" in window.task_status.row.label.text()
    window.statusBar().showMessage("Answering: cancelled", 4000)
    assert window.workspace_label.isVisible()  # permanent: a message does not hide it
    release.set()
    qtbot.waitUntil(lambda: not window.task_status.isVisible(), timeout=5000)


def test_work_a_tab_starts_while_it_is_built_on_screen_waits_for_its_first_paint(
    qtbot: QtBot, make_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shown tab is built on the GUI thread after the first paint; what it asks
    workers for starts once it has painted, so the workers do not take the GIL from its
    build and paint (a 25 ms build and paint felt as a 50 ms stall)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QLabel

    events: list[str] = []

    class Painted(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and "painted" not in events:
                events.append("painted")
            return False

    def build(window: MainWindow) -> QLabel:
        label = QLabel("the Library tab")
        label.installEventFilter(watcher)
        window.tasks.run(lambda: events.append("its first read ran"), title="First read")
        events.append("built")
        return label

    monkeypatch.setattr(main_window, "FIRST_PAINT_WAIT_MS", 60_000)  # a slow first paint
    watcher = Painted()
    window = make_window({"Library": TabSpec("json", build)})
    window.show()
    qtbot.waitUntil(lambda: "its first read ran" in events, timeout=5000)
    assert events == ["built", "painted", "its first read ran"]


def test_a_tab_built_off_screen_starts_its_work_at_once(
    qtbot: QtBot, make_window: Callable[..., MainWindow]
) -> None:
    """A tab built for another reason (its menu's command, a test) is not shown: nothing
    waits for a paint that will not come."""
    from PySide6.QtWidgets import QLabel

    ran: list[str] = []

    def build(window: MainWindow) -> QLabel:
        window.tasks.run(lambda: ran.append("read"), title="First read")
        return QLabel("the Chat tab")

    window = make_window({"Chat": TabSpec("json", build)})
    window.tab("Chat")
    qtbot.waitUntil(lambda: ran == ["read"], timeout=main_window.FIRST_PAINT_WAIT_MS // 2)


def test_a_tab_whose_build_fails_holds_no_work(
    qtbot: QtBot,
    make_window: Callable[..., MainWindow],
    tasks: TaskManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    monkeypatch.setattr(main_window, "FIRST_PAINT_WAIT_MS", 60_000)

    def build(_window: MainWindow):
        raise RuntimeError("the Library tab could not be built")

    window = make_window({"Library": TabSpec("json", build)})
    with qtbot.capture_exceptions() as caught:
        window.show()
        qtbot.waitUntil(lambda: len(caught) > 0, timeout=5000)
    assert "could not be built" in str(caught[0][1])
    ran: list[str] = []
    tasks.run(lambda: ran.append("later work"), title="Later")
    qtbot.waitUntil(lambda: ran == ["later work"], timeout=5000)


def test_a_widget_that_never_paints_or_is_gone_still_has_its_callback_run(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QLabel, QWidget

    monkeypatch.setattr(main_window, "FIRST_PAINT_WAIT_MS", 50)
    called: list[str] = []
    hidden = QLabel("never shown")
    qtbot.addWidget(hidden)
    main_window.when_painted(hidden, lambda: called.append("hidden"))
    qtbot.waitUntil(lambda: called == ["hidden"], timeout=2000)

    monkeypatch.setattr(main_window, "FIRST_PAINT_WAIT_MS", 60_000)
    window = QWidget()
    qtbot.addWidget(window)
    gone = QLabel("deleted before it painted", window)
    main_window.when_painted(gone, lambda: called.append("gone"))
    gone.deleteLater()
    qtbot.waitUntil(lambda: called == ["hidden", "gone"], timeout=2000)


def test_tabs_are_built_when_first_shown(
    qtbot: QtBot, make_window: Callable[..., MainWindow]
) -> None:
    """The window paints before any tab's module is imported; the shown tab is built once
    its module is in, the others the first time they are shown (or all at once when asked,
    as the shortcuts sheet does)."""
    from PySide6.QtWidgets import QLabel

    built: list[str] = []

    def spec(name: str) -> TabSpec:
        def build(_window: MainWindow) -> QLabel:
            built.append(name)
            return QLabel(f"the {name} tab")

        return TabSpec("json", build)

    window = make_window({name: spec(name) for name in ("Library", "Chat", "Decide")})
    assert built == []  # nothing before the first paint
    window.show()
    qtbot.waitUntil(lambda: built == ["Library"], timeout=5000)
    qtbot.wait(100)
    assert built == ["Library"] and not window.is_built("Chat")
    window.tabs.setCurrentIndex(TAB_NAMES.index("Chat"))
    assert built == ["Library", "Chat"]
    window.build_pending_tabs()
    assert built == ["Library", "Chat", "Decide"]
    window.build_pending_tabs()
    assert built == ["Library", "Chat", "Decide"]  # each once
