"""Shows an unexpected error with details the user can copy into a bug report. The text
is redacted: no API key reaches the clipboard through here."""

from __future__ import annotations

import platform
import sys
import traceback
from types import TracebackType

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import __version__
from desktop.logs import redact


class ExceptionDialog(QDialog):
    def __init__(self, message: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("RAGTune: something went wrong")
        self.resize(640, 420)
        layout = QVBoxLayout(self)
        self.message_label = QLabel(redact(message))
        self.message_label.setWordWrap(True)
        header = f"RAGTune {__version__}, Python {platform.python_version()}, {platform.platform()}"
        self.details = QPlainTextEdit(redact(f"{header}\n\n{details}"))
        self.details.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy details")
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.message_label)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())


_open_dialogs: list[ExceptionDialog] = []


def install_excepthook() -> None:
    """Unhandled exceptions on the GUI thread open the dialog instead of vanishing."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, exc, tb)
            return
        import logging

        logging.getLogger("desktop").error("Unhandled exception", exc_info=(kind, exc, tb))
        details = "".join(traceback.format_exception(kind, exc, tb))
        app = QApplication.instance()
        if app is None:
            previous(kind, exc, tb)
            return
        dialog = ExceptionDialog(f"Unexpected error: {exc}", details, QApplication.activeWindow())
        _open_dialogs.append(dialog)  # a parentless dialog needs a reference to stay alive
        dialog.finished.connect(lambda _=0, d=dialog: _open_dialogs.remove(d))
        dialog.open()

    sys.excepthook = hook
