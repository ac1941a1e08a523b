"""The Decide tab's views: one card per question, the recommendation panel and the
comparison table's model. They lay out what they are given; the tab wires behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.decision.checklist import (
    Answer,
    CardResult,
    Lean,
    Question,
    Recommendation,
    Row,
    question,
)
from desktop.ui.common.keyboard import tab_moves_on

ANSWER_LABELS: tuple[tuple[Answer, str], ...] = (
    (Answer.YES, "Yes"),
    (Answer.NO, "No"),
    (Answer.UNSURE, "Not sure"),
)
LEAN_COLOURS: dict[str, str] = {
    "rag": "#1f6fb2",
    "fine_tune": "#8a4fbf",
    "both": "#2e7d32",
    "neutral": "#6b6b6b",
}
CARD_ID_ROLE = Qt.ItemDataRole.UserRole + 1


def lean_badge(lean: Lean) -> str:
    """The lean as rich text: a coloured word and its strength."""
    colour = LEAN_COLOURS.get(lean.direction if lean.strength > 0 else "neutral", "#6b6b6b")
    return f"<b style='color:{colour}'>{lean.label}</b>"


def _wrapped(text: str = "", *, rich: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class QuestionCard(QFrame):
    """One question: its help, the user's answer, what was measured, and the lean."""

    answer_changed = Signal(str, object)  # card id, Answer

    def __init__(self, q: Question, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = q
        self.setObjectName(f"card-{q.id}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setProperty("highlighted", False)
        self.setStyleSheet(
            "QuestionCard { border: 1px solid palette(mid); border-radius: 6px; }"
            "QuestionCard[highlighted='true'] { border: 2px solid #e0a100; }"
        )
        self.title_label = _wrapped(f"<b>{q.number}. {_escape(q.text)}</b>", rich=True)
        self.help_label = _wrapped(q.help)
        self.help_label.setStyleSheet("color: palette(placeholder-text);")
        self.help_label.setToolTip(q.rule)

        self.buttons: dict[Answer, QRadioButton] = {}
        self.group = QButtonGroup(self)
        answers = QHBoxLayout()
        answers.addWidget(QLabel("Your answer:"))
        for answer, text in ANSWER_LABELS:
            button = QRadioButton(text)
            button.setObjectName(f"answer-{q.id}-{answer.value}")
            self.buttons[answer] = button
            self.group.addButton(button)
            answers.addWidget(button)
            button.toggled.connect(lambda checked, a=answer: self._toggled(a) if checked else None)
        self.buttons[Answer.UNSURE].setChecked(True)
        answers.addStretch(1)

        self.inputs = QVBoxLayout()  # the tab puts the latency budget / prompt fields here
        self.evidence_label = _wrapped("Measuring…", rich=True)
        self.lean_label = _wrapped("", rich=True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.help_label)
        layout.addLayout(answers)
        layout.addLayout(self.inputs)
        layout.addWidget(self.evidence_label)
        layout.addWidget(self.lean_label)

    @property
    def answer(self) -> Answer:
        for answer, button in self.buttons.items():
            if button.isChecked():
                return answer
        return Answer.UNSURE

    def set_answer(self, answer: Answer) -> None:
        """Show a saved answer without reporting it as the user's change."""
        self.group.blockSignals(True)
        for button in self.buttons.values():
            button.blockSignals(True)
        self.buttons[answer].setChecked(True)
        for button in self.buttons.values():
            button.blockSignals(False)
        self.group.blockSignals(False)

    def _toggled(self, answer: Answer) -> None:
        self.answer_changed.emit(self.question.id, answer)

    def show_result(self, card: CardResult) -> None:
        measured = "Measured" if self.question.measured else "Evidence"
        self.evidence_label.setText(f"<i>{measured}:</i> {_escape(card.evidence)}")
        self.lean_label.setText(f"Points to {lean_badge(card.lean)} — {_escape(card.why)}")

    def set_highlighted(self, on: bool) -> None:
        self.setProperty("highlighted", on)
        self.style().unpolish(self)
        self.style().polish(self)


class RecommendationPanel(QFrame):
    """The recommendation, its confidence, the reasons (each opens its card) and the
    warnings that apply."""

    card_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.choice_label = QLabel("Measuring the workspace…")
        self.choice_label.setObjectName("recommendation-choice")
        font = self.choice_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.choice_label.setFont(font)
        self.choice_label.setWordWrap(True)
        self.confidence_label = QLabel()
        self.summary_label = _wrapped()
        self.reasons_title = QLabel("<b>Why</b> (click a reason to open its card)")
        self.reasons = tab_moves_on(QListWidget())
        self.reasons.setWordWrap(True)
        self.reasons.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.reasons.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.reasons.setMinimumHeight(110)
        self.reasons.setSpacing(3)
        self.reasons.itemClicked.connect(self._clicked)
        self.reasons.itemActivated.connect(self._clicked)
        self.warnings_title = QLabel("<b>Watch out for</b>")
        self.warnings_label = _wrapped(rich=True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.choice_label)
        layout.addWidget(self.confidence_label)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.reasons_title)
        layout.addWidget(self.reasons, 1)
        layout.addWidget(self.warnings_title)
        layout.addWidget(self.warnings_label)

    def show_recommendation(self, recommendation: Recommendation) -> None:
        colour = LEAN_COLOURS[recommendation.choice if recommendation.enough else "neutral"]
        self.choice_label.setText(recommendation.headline())
        self.choice_label.setStyleSheet(f"color: {colour};")
        self.confidence_label.setText(
            f"Confidence {recommendation.confidence:.0%} ({recommendation.confidence_label})"
        )
        self.summary_label.setText(recommendation.summary)
        self.reasons.clear()
        for reason in recommendation.reasons:
            q = question(reason.card_id)
            mark = "✔" if reason.supports else "✘ Against:"
            item = QListWidgetItem(f"{mark} Card {q.number} · {reason.text}")
            item.setData(CARD_ID_ROLE, reason.card_id)
            item.setToolTip(f"Open card {q.number}")
            self.reasons.addItem(item)
        if not recommendation.reasons:
            item = QListWidgetItem("No card points anywhere yet: answer the questions.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.reasons.addItem(item)
        self.warnings_title.setVisible(bool(recommendation.warnings))
        self.warnings_label.setVisible(bool(recommendation.warnings))
        self.warnings_label.setText(
            "<br>".join(f"⚠ {_escape(w.text)}" for w in recommendation.warnings)
        )

    def reason_card_ids(self) -> list[str]:
        return [
            self.reasons.item(i).data(CARD_ID_ROLE)
            for i in range(self.reasons.count())
            if self.reasons.item(i).data(CARD_ID_ROLE)
        ]

    def _clicked(self, item: QListWidgetItem) -> None:
        card_id = item.data(CARD_ID_ROLE)
        if card_id:
            self.card_requested.emit(card_id)


class ComparisonModel(QAbstractTableModel):
    """The comparison table with this workspace's figures beside the generic ones."""

    ASPECT, RAG, FINE_TUNING, MEASURED = range(4)
    HEADERS = ("Aspect", "RAG", "Fine-tuning", "This workspace")
    SORT_ROLE = Qt.ItemDataRole.UserRole

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row(self, index: int) -> Row:
        return self._rows[index]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == self.SORT_ROLE:
            return index.row() if column == self.ASPECT else self._text(row, column)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._text(row, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.MEASURED:
            return None if row.measured else Qt.GlobalColor.gray
        return None

    def _text(self, row: Row, column: int) -> str:
        if column == self.ASPECT:
            return row.aspect
        if column == self.RAG:
            return row.rag
        if column == self.FINE_TUNING:
            return row.fine_tuning
        return row.measured or "not measured here"

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None
