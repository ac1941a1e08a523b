"""Small dialogs every tab uses."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

Confirm = Callable[[str, str], bool]
"""(title, text) → whether the user said yes. Tabs take one, so tests answer for the
user without a modal dialog."""


def ask(parent: QWidget) -> Confirm:
    def confirm(title: str, text: str) -> bool:
        answer = QMessageBox.question(parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    return confirm
