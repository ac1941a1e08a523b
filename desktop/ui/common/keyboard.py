"""Keyboard habits every tab follows: Tab moves the focus on, out of any text box or table
(arrow keys still move inside a table). Set where the widgets are made (``record_table``
for tables, ``tab_moves_on`` for text boxes); tests/ui/test_keyboard.py walks every widget
of the window to check none was missed. (An application-wide event filter would do it in
one place, but it runs Python for every event the app handles.)"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import QAbstractItemView, QPlainTextEdit, QTextEdit, QWidget

W = TypeVar("W", bound=QWidget)


def tab_moves_on(widget: W) -> W:
    """``widget`` (a text box or a view) passes Tab on instead of keeping it."""
    if isinstance(widget, QPlainTextEdit | QTextEdit):
        widget.setTabChangesFocus(True)
    elif isinstance(widget, QAbstractItemView):
        widget.setTabKeyNavigation(False)
    return widget


def traps(root: QWidget) -> list[QWidget]:
    """Widgets under ``root`` that would keep Tab to themselves."""
    found: list[QWidget] = []
    for widget in root.findChildren(QWidget):
        if isinstance(widget, QPlainTextEdit | QTextEdit):
            if not widget.tabChangesFocus() and not widget.isReadOnly():
                found.append(widget)
        elif isinstance(widget, QAbstractItemView) and widget.tabKeyNavigation():
            found.append(widget)
    return found
