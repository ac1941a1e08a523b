"""One question answered side by side: base model alone, base + RAG, and a fine-tuned
model alone and with RAG when one exists, each with its latency and token usage."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.session import AnswerRecord, CompareColumn
from desktop.ui.chat.safe_browser import SafeBrowser


class CompareView(QDialog):
    def __init__(
        self, question: str, columns: Sequence[CompareColumn], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare answers")
        self.resize(1300, 700)
        self.columns = list(columns)
        self.question = QLabel(f"<b>Question:</b> {question}")
        self.question.setWordWrap(True)
        grid = QGridLayout()
        self.titles: list[QLabel] = []
        self.answers: list[SafeBrowser] = []
        self.metrics: list[QLabel] = []
        for index, column in enumerate(self.columns):
            title = QLabel(f"<b>{column.label}</b><br><small>{column.model}</small>")
            answer = SafeBrowser()
            answer.setPlaceholderText("Waiting…")
            metrics = QLabel("…")
            metrics.setWordWrap(True)
            grid.addWidget(title, 0, index)
            grid.addWidget(answer, 1, index)
            grid.addWidget(metrics, 2, index)
            grid.setColumnStretch(index, 1)
            self.titles.append(title)
            self.answers.append(answer)
            self.metrics.append(metrics)
        grid.setRowStretch(1, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addLayout(grid, 1)
        layout.addWidget(buttons)

    def show_record(self, index: int, record: AnswerRecord) -> None:
        outcome = record.outcome
        self.answers[index].set_answer_markdown(outcome.text or f"_{outcome.status_note()}_")
        usage = outcome.usage
        tokens = (
            f"{usage.get('prompt_tokens', '?')} in / {usage.get('completion_tokens', '?')}"
            f" out tokens"
            if usage
            else "no usage reported"
        )
        sources = (
            f" · {len(record.sources)} sources, cited {record.cited or 'none'}"
            if (record.options.mode == "rag")
            else ""
        )
        note = (
            "" if outcome.ok else f"<br><span style='color:#b71c1c'>{outcome.status_note()}</span>"
        )
        self.metrics[index].setText(f"{outcome.latency_ms / 1000:.2f} s · {tokens}{sources}{note}")
