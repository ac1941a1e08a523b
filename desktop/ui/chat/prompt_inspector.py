"""What exactly was sent for an answer: the messages, tokens per part, the model's context
window, and what was left out to fit."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.common.keyboard import tab_moves_on

PART_LABELS = (
    ("system", "System prompt"),
    ("sources", "Sources"),
    ("history", "Earlier turns"),
    ("question", "Question"),
)


class PromptInspector(QDialog):
    def __init__(self, prompt: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Prompt inspector")
        self.resize(820, 640)
        parts = prompt.get("parts", {})
        total = prompt.get("total_tokens", 0)
        limit = prompt.get("context_limit", 0)
        reserved = prompt.get("reserved_for_answer", 0)
        self.table = tab_moves_on(QTableWidget(len(PART_LABELS) + 1, 2))
        self.table.setHorizontalHeaderLabels(["Part", "Tokens"])
        self.table.verticalHeader().hide()
        for row, (key, label) in enumerate([*PART_LABELS, ("total", "Total sent")]):
            value = total if key == "total" else parts.get(key, 0)
            self.table.setItem(row, 0, QTableWidgetItem(label))
            self.table.setItem(row, 1, QTableWidgetItem(f"{value:,}"))
        self.table.setMaximumHeight(190)
        omitted = prompt.get("omitted_sources", [])
        turns = prompt.get("omitted_turns", 0)
        left_out = []
        if omitted:
            left_out.append(
                f"{len(omitted)} retrieved source(s) did not fit: "
                + ", ".join(f"{s['document']} (rank {s['rank']})" for s in omitted)
            )
        if turns:
            left_out.append(f"{turns} earlier turn(s) of the conversation were left out")
        self.summary = QLabel(
            f"Model {prompt.get('model', '?')} · context window {limit:,} tokens · "
            f"{reserved:,} reserved for the answer · {total:,} sent "
            f"({total / limit:.1%} of the window)"
            if limit
            else "No prompt was sent."
        )
        self.summary.setWordWrap(True)
        self.left_out = QLabel("; ".join(left_out) or "Nothing was left out.")
        self.left_out.setWordWrap(True)
        self.messages = QPlainTextEdit(self.render_messages(prompt.get("messages", [])))
        self.messages.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.left_out)
        layout.addWidget(QLabel("Messages sent:"))
        layout.addWidget(self.messages, 1)
        layout.addWidget(buttons)

    @staticmethod
    def render_messages(messages: list[dict[str, str]]) -> str:
        blocks = [f"── {m['role']} ──\n{m['content']}" for m in messages]
        return "\n\n".join(blocks) if blocks else json.dumps(messages)
