"""The split dialog says how many examples go where before anything moves."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.ui.finetune.split_dialog import SplitDialog


def test_the_preview_follows_the_percentage(qtbot: QtBot) -> None:
    dialog = SplitDialog(60)
    qtbot.addWidget(dialog)
    assert dialog.preview.text() == "48 training · 12 validation of 60"
    dialog.percent.setValue(10)
    assert dialog.preview.text() == "54 training · 6 validation of 60"
    assert dialog.fraction == 0.1
