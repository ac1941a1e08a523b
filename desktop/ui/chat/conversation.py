"""The conversation: one card per question and answer. The answer streams into its card;
its status (stopped, cut off, failed) is written under it in words, with what to do."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop.ui.chat.safe_browser import SafeBrowser

_NOTE_STYLES = {
    "error": "color:#b71c1c;",
    "cut_off": "color:#8a5300;",
    "stopped": "color:#555;",
    "no_provider": "color:#0d3c61;",
    "length": "color:#555;",
    "waiting": "color:#0d3c61;",
}


class AnswerCard(QFrame):
    """A question and its answer. ``data`` holds what the sources pane and the prompt
    inspector need once the answer is done."""

    selected = Signal(object)  # AnswerCard
    citation_clicked = Signal(object, int)  # AnswerCard, source number
    prompt_requested = Signal(object)
    retry_requested = Signal(object)
    save_requested = Signal(object)
    save_eval_requested = Signal(object)  # AnswerCard: keep the turn as an eval question
    settings_requested = Signal()

    def __init__(self, question: str, meta: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("answerCard")
        self.question = question
        self.text = ""
        self.status = "streaming"
        self.data: dict[str, object] = {}
        self.question_label = QLabel(f"<b>You:</b> {_escape(question)}")
        self.question_label.setWordWrap(True)
        self.answer = SafeBrowser()
        self.answer.setVerticalScrollBarPolicy(
            self.answer.verticalScrollBarPolicy().ScrollBarAlwaysOff
        )
        self.answer.setFrameShape(QFrame.Shape.NoFrame)
        self.answer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.answer.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self.answer.anchorClicked.connect(self._anchor)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        self.meta = QLabel(meta)
        self.meta.setStyleSheet("color:#666;")
        self.meta.setWordWrap(True)
        self.meta.setMinimumWidth(120)
        self.prompt_button = QPushButton("Prompt…")
        self.prompt_button.setEnabled(False)
        self.retry_button = QPushButton("Ask again")
        self.retry_button.hide()
        self.settings_button = QPushButton("Open settings…")
        self.settings_button.hide()
        self.save_button = QPushButton("Save as training example")
        self.save_button.setToolTip(
            "Open this question and answer, editable, in the Fine-tuning tab's dataset builder"
        )
        self.save_button.setEnabled(False)
        self.save_eval_button = QPushButton("Save as eval question")
        self.save_eval_button.setToolTip(
            "Keep this question, with the answer as its reference and the sources as where "
            "the answer is, in an eval set of the Evaluate tab"
        )
        self.save_eval_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.meta, 1)
        buttons.addWidget(self.settings_button)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.save_eval_button)
        buttons.addWidget(self.prompt_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question_label)
        layout.addWidget(self.answer)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self._render = QTimer(self)
        self._render.setSingleShot(True)
        self._render.setInterval(40)  # at most 25 re-renders a second while streaming
        self._render.timeout.connect(self._rerender)
        self.prompt_button.clicked.connect(lambda: self.prompt_requested.emit(self))
        self.retry_button.clicked.connect(lambda: self.retry_requested.emit(self))
        self.settings_button.clicked.connect(self.settings_requested.emit)
        self.save_button.clicked.connect(lambda: self.save_requested.emit(self))
        self.save_eval_button.clicked.connect(lambda: self.save_eval_requested.emit(self))
        self.answer.set_answer_markdown("_…_")

    def mousePressEvent(self, event: object) -> None:
        self.selected.emit(self)
        super().mousePressEvent(event)  # type: ignore[arg-type]

    def append(self, delta: str) -> None:
        self.text += delta
        if not self._render.isActive():
            self._render.start()

    def _rerender(self) -> None:
        self.answer.set_answer_markdown(self.text or "_…_")

    def show_note(self, status: str, text: str) -> None:
        self.note.setText(text)
        self.note.setStyleSheet(_NOTE_STYLES.get(status, ""))
        self.note.setVisible(bool(text))

    def finish(self, status: str, text: str, note: str, meta: str) -> None:
        self._render.stop()
        self.status = status
        self.text = text
        self.answer.set_answer_markdown(text or "_(no answer)_")
        self.show_note(status, note)
        self.meta.setText(meta)
        self.prompt_button.setEnabled(bool(self.data.get("prompt")))
        self.save_button.setEnabled(bool(text))
        self.save_eval_button.setEnabled(bool(text))
        self.retry_button.setVisible(status in ("cut_off", "error", "stopped"))
        self.settings_button.setVisible(
            status == "no_provider" or self.data.get("error_kind") in ("auth", "not_found")
        )

    def _fit_height(self) -> None:
        height = int(self.answer.document().size().height()) + 6
        self.answer.setFixedHeight(max(24, height))

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit_height()

    def _anchor(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("cite:"):
            self.selected.emit(self)
            self.citation_clicked.emit(self, int(text.split(":", 1)[1]))


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


class ConversationView(QScrollArea):
    save_eval_requested = Signal(object)  # AnswerCard: any card's "Save as eval question"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        # Cards follow the pane's width (their text wraps); a card wider than the pane
        # would hide its buttons behind a sideways scroll.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.container = QWidget()
        self.layout_ = QVBoxLayout(self.container)
        self.layout_.addStretch(1)
        self.setWidget(self.container)
        self.cards: list[AnswerCard] = []
        self.placeholder = QLabel(
            "Ask a question below. The answer is grounded in the chunks retrieved from your "
            "library; they appear on the right with their scores, and the answer cites them "
            "as [1], [2]…"
        )
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color:#666; padding:24px;")
        self.layout_.insertWidget(0, self.placeholder)

    def clear(self) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        self.placeholder.show()

    def add(self, card: AnswerCard) -> AnswerCard:
        self.placeholder.hide()
        self.layout_.insertWidget(self.layout_.count() - 1, card)
        self.cards.append(card)
        card.save_eval_requested.connect(self.save_eval_requested.emit)
        QTimer.singleShot(0, self.scroll_to_end)
        return card

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
