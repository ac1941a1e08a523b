from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.ui.main_window import MainWindow, TabSpec
from desktop.workers import TaskManager


@pytest.fixture
def tasks(qtbot: QtBot) -> Iterator[TaskManager]:
    manager = TaskManager()
    yield manager
    manager.shutdown()


@pytest.fixture
def make_window(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager
) -> Callable[..., MainWindow]:
    """Builds a main window on the test's data dir (with ``tab_factories``, those tabs);
    call again to simulate a restart."""

    def make(tab_factories: dict[str, TabSpec] | None = None) -> MainWindow:
        state = QSettings(
            str(app_context.paths.config_dir / "window.ini"), QSettings.Format.IniFormat
        )
        window = MainWindow(app_context, tasks, state, tab_factories=tab_factories)
        qtbot.addWidget(window)
        return window

    return make
