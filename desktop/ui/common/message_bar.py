"""An inline, non-modal banner for errors and notices (no dialog storms, no modal boxes
during start-up or tests). Details, when given, open in the copyable details dialog."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from desktop.logs import redact

_STYLES = {
    "error": "background:#fdecea; border:1px solid #f5c2c0; color:#611a15;",
    "warning": "background:#fff4e5; border:1px solid #ffd8a8; color:#663c00;",
    "info": "background:#e8f4fd; border:1px solid #b6dcfb; color:#0d3c61;",
}


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.details_button = QPushButton("Details…")
        self.details_button.clicked.connect(self._show_details)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.details_button)
        layout.addWidget(close)
        self._details = ""
        self.level = "info"
        self.hide()

    def show_message(self, text: str, *, level: str = "error", details: str = "") -> None:
        self.level = level
        self.label.setText(redact(text))
        self._details = redact(details)
        self.details_button.setVisible(bool(details))
        self.setStyleSheet(f"#messageBar {{{_STYLES.get(level, _STYLES['info'])}}}")
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()

    def _show_details(self) -> None:
        from desktop.ui.common.exception_dialog import ExceptionDialog

        ExceptionDialog(self.label.text(), self._details, self.window()).open()
