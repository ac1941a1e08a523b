"""The window from the keyboard alone: Tab is never trapped, every command's shortcut is in
a menu and on the Help sheet, and a whole walk (import → index → ask → save the answer as a
training example → export the dataset) needs no mouse event. File choosers are the tabs'
injectable hooks: a native file dialog cannot be typed into offscreen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPlainTextEdit, QWidget
from pytestqt.qtbot import QtBot

from desktop.app import tab_factories
from desktop.context import AppContext
from desktop.ui.common.shortcuts_sheet import ShortcutsSheet
from desktop.ui.main_window import MainWindow
from desktop.workers import TaskManager
from tests.helpers.fake_openai import FakeOpenAI

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot: QtBot, app_context: AppContext, tasks: TaskManager) -> MainWindow:
    state = QSettings(str(app_context.paths.config_dir / "window.ini"), QSettings.Format.IniFormat)
    built = MainWindow(app_context, tasks, state, tab_factories=tab_factories(app_context, tasks))
    qtbot.addWidget(built)
    built.resize(1280, 800)
    built.show()
    qtbot.waitExposed(built)
    built.activateWindow()
    built.build_pending_tabs()
    return built


def key(window: MainWindow, letter: Qt.Key, modifiers: Qt.KeyboardModifier = CTRL) -> None:
    target = QApplication.focusWidget() or window
    QTest.keyClick(target, letter, modifiers)


def tab_until(qtbot: QtBot, start: QWidget, wanted: QWidget, presses: int = 60) -> int:
    """Press Tab from ``start`` until ``wanted`` has the focus; how many presses."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    for n in range(1, presses + 1):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        if QApplication.focusWidget() is wanted:
            return n
    raise AssertionError(f"Tab never reached {wanted!r} from {start!r}")


def test_tab_leaves_tables_and_text_boxes(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    library = window.tab("Library")
    window.select_tab("Library")
    library.table.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(library.table, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not library.table  # out of the table at once

    window.select_tab("Decide")
    decide = window.tab("Decide")
    qtbot.waitUntil(lambda: not decide.busy, timeout=20_000)
    box: QPlainTextEdit = decide.system_prompt
    box.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClicks(box, "Be brief.")
    QTest.keyClick(box, Qt.Key.Key_Tab)
    assert box.toPlainText() == "Be brief."  # no tab character typed
    assert QApplication.focusWidget() is not box


def test_the_menus_and_the_help_sheet_name_every_shortcut(qtbot: QtBot, window: MainWindow) -> None:
    window.select_tab("Library")
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&View", "&Library", "&Help"]
    library_menu = window.tab("Library").menu()
    shown = {a.text(): a.shortcut().toString() for a in library_menu.actions()}
    assert shown["Import files…"] == "Ctrl+O"
    assert shown["Rescan"] == "F5"
    assert shown["Index library"] == "Ctrl+I"
    window.select_tab("Chat")
    assert [a.text() for a in window.menuBar().actions()][2] == "&Chat"

    window.shortcuts_action.trigger()
    sheet = window._shortcuts_sheet
    assert isinstance(sheet, ShortcutsSheet)
    keys = {keys for _menu, _command, keys in sheet.rows}
    for wanted in ("Ctrl+O", "F5", "Ctrl+N", "Ctrl+E", "Ctrl+G", "Esc", "Ctrl+Return"):
        assert any(wanted in k for k in keys), wanted
    sheet.close()


def test_a_whole_walk_without_the_mouse(
    qtbot: QtBot,
    window: MainWindow,
    app_context: AppContext,
    fake_openai: FakeOpenAI,
    tasks: TaskManager,
    tmp_path: Path,
) -> None:
    app_context.save_settings(
        app_context.settings.replace(
            provider="custom",
            base_url=fake_openai.base_url,
            retrieval_embedder="local",
            similarity_threshold=0.0,
        )
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nMoney is returned within 14 days.")
    library = window.tab("Library")
    library.choose_paths = lambda kind: [docs / "refunds.md"]

    key(window, Qt.Key.Key_1)  # View → Library
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Library"
    key(window, Qt.Key.Key_O)  # Library → Import files…
    qtbot.waitUntil(lambda: library.model.rowCount() == 1, timeout=20_000)
    qtbot.waitUntil(lambda: "0 of 1 chunks" in library.index_bar.label.text(), timeout=20_000)
    key(window, Qt.Key.Key_I)  # Library → Index library
    qtbot.waitUntil(lambda: "1 of 1 chunks" in library.index_bar.label.text(), timeout=60_000)

    key(window, Qt.Key.Key_2)  # View → Chat
    chat = window.tab("Chat")
    qtbot.waitUntil(lambda: not tasks.running, timeout=20_000)
    key(window, Qt.Key.Key_L)  # Chat → Type a question
    assert QApplication.focusWidget() is chat.input
    fake_openai.chat_reply = "Within 14 days [1]."
    QTest.keyClicks(chat.input, "When is my money returned?")
    key(window, Qt.Key.Key_Return)  # Chat → Ask
    qtbot.waitUntil(lambda: chat.active is None and bool(chat.view.cards), timeout=20_000)
    qtbot.waitUntil(lambda: chat.view.cards[-1].save_button.isEnabled(), timeout=10_000)

    key(window, Qt.Key.Key_S, CTRL | SHIFT)  # Chat → Save answer as training example
    qtbot.waitUntil(
        lambda: window.tabs.tabText(window.tabs.currentIndex()) == "Fine-tuning", timeout=10_000
    )
    builder = window.tab("Fine-tuning").builder
    qtbot.waitUntil(lambda: builder.model.rowCount() == 1, timeout=10_000)

    exported = tmp_path / "out" / "saved-train.jsonl"
    builder.choose_save_path = lambda title, suggested: exported
    key(window, Qt.Key.Key_E)  # Fine-tuning → Export (OpenAI chat JSONL)
    qtbot.waitUntil(exported.exists, timeout=10_000)
    line = json.loads(exported.read_text(encoding="utf-8").splitlines()[0])
    roles = [m["role"] for m in line["messages"]]
    assert roles[-2:] == ["user", "assistant"]
    assert line["messages"][-2]["content"].endswith("When is my money returned?")


def test_no_widget_in_the_window_keeps_tab_to_itself(qtbot: QtBot, window: MainWindow) -> None:
    from desktop.ui.common.keyboard import traps

    for name in ("Library", "Chat", "Fine-tuning", "Decide"):
        window.select_tab(name)
    trapped = traps(window)
    assert trapped == [], [f"{type(w).__name__} {w.objectName()} in {w.parent()}" for w in trapped]
