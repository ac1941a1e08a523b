"""Guards the PySide6 pin: 6.12.0 on CPython 3.11 lost a reference to None on every
void-returning call, which aborts the process after a few thousand calls."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel


def test_void_calls_keep_none_alive(qapp: QApplication) -> None:
    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        qapp.processEvents()
        label.setText("x")
    assert sys.getrefcount(None) >= before - 50
