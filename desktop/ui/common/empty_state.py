"""A centred message for a view with nothing to show yet, saying what to do next."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

MIN_TEXT_WIDTH = 240


class EmptyState(QWidget):
    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title_label = QLabel(f"<h2>{title}</h2>")
        self.title_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text_label = QLabel(text)
        self.text_label.setWordWrap(True)
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.text_label.setMaximumWidth(420)
        self.text_label.setMinimumWidth(MIN_TEXT_WIDTH)
        # A wrapped label placed with an alignment flag is not given its height-for-width:
        # reserve the height it needs at its narrowest, so nothing is cut on a small screen.
        self.text_label.setMinimumHeight(self.text_label.heightForWidth(MIN_TEXT_WIDTH))
        layout.addWidget(self.title_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.text_label)
        row.addStretch(1)
        layout.addLayout(row)
        self._buttons = QVBoxLayout()
        layout.addLayout(self._buttons)
        layout.addStretch(2)

    def add_action(self, text: str, callback: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(callback)
        self._buttons.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        return button
