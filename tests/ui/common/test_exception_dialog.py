from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.logs import register_secret
from desktop.ui.common.exception_dialog import ExceptionDialog, install_excepthook


@pytest.fixture
def excepthook() -> Iterator[None]:
    previous = sys.excepthook
    install_excepthook()
    yield
    sys.excepthook = previous


def open_dialogs() -> list[ExceptionDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, ExceptionDialog)]


def test_an_unhandled_exception_opens_a_dialog_with_copyable_redacted_details(
    qtbot: QtBot, excepthook: None
) -> None:
    secret = "sk-never-in-a-dialog-123456"
    register_secret(secret)
    try:
        raise RuntimeError(f"request failed with key {secret}")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: bool(open_dialogs()), timeout=2000)
    dialog = open_dialogs()[-1]
    qtbot.addWidget(dialog)
    assert dialog.message_label.text() == "Unexpected error: request failed with key «redacted»"
    details = dialog.details.toPlainText()
    assert "Traceback" in details and "RuntimeError" in details
    assert secret not in details
    dialog.copy_details()
    assert QGuiApplication.clipboard().text() == details
    dialog.close()
