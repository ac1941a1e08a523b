"""Help → Keyboard shortcuts: every command that has a shortcut, by menu, read from the
menus themselves so the sheet cannot drift from what the keys do."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QTextBrowser, QVBoxLayout, QWidget

# Keys that work inside one view and belong to no menu.
IN_PLACE = (
    ("Tab / Shift+Tab", "Move to the next / previous control (also out of tables and text boxes)"),
    ("Arrow keys", "Move inside a table or list"),
    ("Alt+Up / Alt+Down", "Move a message up or down in the example editor"),
    ("Ctrl+Return / Ctrl+Backspace", "Keep / drop the drafted example (Draft from documents)"),
)


def rows(menus: Sequence[QMenu]) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every action with a shortcut."""
    found = []
    for menu in menus:
        title = menu.title().replace("&", "")
        for action in menu.actions():
            keys = action.shortcuts()
            if action.isSeparator() or not keys:
                continue
            names = " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            found.append((title, action.text().replace("&", "").rstrip("…"), names))
    return found


class ShortcutsSheet(QDialog):
    def __init__(self, menus: Sequence[QMenu], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 620)
        self.rows = rows(menus)
        html = ["<table cellpadding='3'>"]
        current = None
        for menu, command, keys in self.rows:
            if menu != current:
                html.append(f"<tr><td colspan='2'><h3>{menu}</h3></td></tr>")
                current = menu
            html.append(f"<tr><td><b>{keys}</b></td><td>{command}</td></tr>")
        html.append("<tr><td colspan='2'><h3>Anywhere</h3></td></tr>")
        html.extend(f"<tr><td><b>{k}</b></td><td>{what}</td></tr>" for k, what in IN_PLACE)
        html.append("</table>")
        self.text = QTextBrowser()
        self.text.setHtml("".join(html))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
