"""Every tab usable on small and scaled screens: 1024×640, and 1280×720 / 960×540 logical
pixels (a 1920×1080 screen at 1.5× and 2×). The window fits the screen (a tab taller than
the screen scrolls inside the window, never sideways), and what a user must reach is inside
the window. Screenshots at these sizes come from packaging/screenshots.py."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSettings
from PySide6.QtWidgets import QScrollArea, QWidget
from pytestqt.qtbot import QtBot

from desktop.app import tab_factories
from desktop.context import AppContext
from desktop.ui.main_window import TAB_NAMES, MainWindow
from desktop.workers import TaskManager

SIZES = [(1024, 640), (1280, 720), (960, 540)]


@pytest.fixture
def window(qtbot: QtBot, app_context: AppContext, tasks: TaskManager) -> MainWindow:
    state = QSettings(str(app_context.paths.config_dir / "window.ini"), QSettings.Format.IniFormat)
    built = MainWindow(app_context, tasks, state, tab_factories=tab_factories(app_context, tasks))
    qtbot.addWidget(built)
    built.show()
    built.build_pending_tabs()
    return built


def inside(widget: QWidget, window: MainWindow) -> bool:
    """The widget lies within the window's client area."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    return (
        top_left.x() >= 0
        and top_left.y() >= 0
        and top_left.x() + widget.width() <= window.width()
        and top_left.y() + widget.height() <= window.height()
    )


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_window_fits_and_no_tab_scrolls_sideways(
    qtbot: QtBot, window: MainWindow, width: int, height: int
) -> None:
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.width() == width and window.height() == height, timeout=3000)
    assert window.minimumSizeHint().width() <= width
    for name in TAB_NAMES:
        window.select_tab(name)
        container = window.tabs.currentWidget()
        assert isinstance(container, QScrollArea)
        qtbot.wait(20)
        tab = window.tab(name)
        assert tab.minimumSizeHint().width() <= container.viewport().width(), name
        assert not container.horizontalScrollBar().isVisible(), name


@pytest.mark.parametrize(("width", "height"), [(1024, 640), (1280, 720)])
def test_what_a_user_must_reach_is_on_screen(
    qtbot: QtBot, window: MainWindow, width: int, height: int
) -> None:
    window.resize(width, height)
    window.select_tab("Chat")
    chat = window.tab("Chat")
    qtbot.waitUntil(lambda: chat.ask_button.isVisible(), timeout=3000)
    for widget in (chat.ask_button, chat.compare_button, chat.stop_button, chat.input):
        assert inside(widget, window), widget
    window.select_tab("Decide")
    decide = window.tab("Decide")
    qtbot.waitUntil(lambda: decide.pdf_button.isVisible(), timeout=3000)
    for widget in (decide.markdown_button, decide.pdf_button, decide.measure_button):
        assert inside(widget, window), widget
    window.select_tab("Library")
    library = window.tab("Library")
    for widget in (library.import_files_button, library.index_bar.index_button):
        assert inside(widget, window), widget
    assert inside(window.statusBar(), window)
