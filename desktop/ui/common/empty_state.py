"""A centred message for a view with nothing to show yet, saying what to do next."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


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
        self.text_label.setFixedWidth(520)  # a wrapped label needs a width to compute its height
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.title_label)
        layout.addWidget(self.text_label, 0, Qt.AlignmentFlag.AlignHCenter)
        self._buttons = QVBoxLayout()
        layout.addLayout(self._buttons)
        layout.addStretch(2)

    def add_action(self, text: str, callback: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(callback)
        self._buttons.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        return button
