"""Commands that show in the menu bar with their shortcuts. Each tab keeps its commands as
actions in its own menu, which the main window shows while the tab is current; a button in
the tab triggers the same action, so the shortcut, the menu entry and the button are one
command (and a hidden tab's shortcuts never fire)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

Shortcut = str | QKeySequence | QKeySequence.StandardKey


def command(
    owner: QWidget,
    text: str,
    slot: Callable[[], object],
    shortcut: Shortcut | Sequence[Shortcut] | None = None,
    tip: str = "",
) -> QAction:
    """An action of ``owner`` (active while ``owner`` is shown) with its shortcut(s) named
    in its tooltip."""
    action = QAction(text, owner)
    if shortcut is not None:
        given = list(shortcut) if isinstance(shortcut, list | tuple) else [shortcut]
        keys = [QKeySequence(key) for key in given]
        action.setShortcuts(keys)
        names = " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
        tip = f"{tip} ({names})" if tip else f"{text.rstrip('…')} ({names})"
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    owner.addAction(action)
    return action


def command_button(action: QAction, text: str | None = None) -> QToolButton:
    """A button for ``action``: the same text, state and tooltip, and no shortcut of its own."""
    button = QToolButton()
    button.setDefaultAction(action)
    if text is not None:
        button.setText(text)
    return button


def tool_button(action: QAction) -> QToolButton:
    """A text-only button that triggers ``action`` and follows its state."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


def tab_menu(title: str, parent: QWidget, *groups: Sequence[QAction]) -> QMenu:
    """A menu of groups of actions, separated."""
    menu = QMenu(title, parent)
    for number, group in enumerate(groups):
        if number:
            menu.addSeparator()
        for action in group:
            menu.addAction(action)
    return menu
