"""Keyboard habits for the whole window, in one place: Tab moves the focus on, out of any
text box or table (arrow keys still move inside a table; a text box that really needs tab
characters says so with the ``typesTabs`` property). Installed once on the application
by the main window, so every widget any tab makes follows it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QAbstractItemView, QApplication, QPlainTextEdit, QTextEdit


class TabMovesFocus(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Polish:
            if isinstance(watched, QPlainTextEdit | QTextEdit):
                if not watched.property("typesTabs"):
                    watched.setTabChangesFocus(True)
            elif isinstance(watched, QAbstractItemView):
                watched.setTabKeyNavigation(False)
        return False


def install_keyboard_habits(app: QApplication) -> None:
    if getattr(app, "_tab_moves_focus", None) is None:
        habits = TabMovesFocus(app)
        app.installEventFilter(habits)
        app._tab_moves_focus = habits  # type: ignore[attr-defined]
