"""The editor of one example: its turns as message cards (role, content, weight), with
turns added, removed and reordered; tags, notes and split above them.

Checks run on every keystroke (``check_example`` is fast and pure). Typing is saved
after a short pause, other changes at once, each save one step on the undo stack; the
editor never writes to the store itself, it emits ``edited`` with the new example."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.finetune.examples import AnyExample, Message, PreferenceExample, TrainingExample
from desktop.finetune.saved_answers import ChatOrigin
from desktop.finetune.validation import Issue, check_example
from desktop.ui.finetune.examples_model import STATUS_COLOURS, status_of

ROLES = ("system", "user", "assistant", "tool")
WEIGHTS: tuple[tuple[str, int | None], ...] = (
    ("weight not set (trained)", None),
    ("weight 1 (trained)", 1),
    ("weight 0 (not trained)", 0),
)
NEXT_ROLE = {"system": "user", "user": "assistant", "assistant": "user", "tool": "assistant"}
TYPING_PAUSE_MS = 700
_ROLE_COLOURS = {"system": "#6b7280", "user": "#2563eb", "assistant": "#059669", "tool": "#9333ea"}


def raw_text(edit: QTextEdit) -> str:
    """The text as typed: ``toPlainText`` would turn non-breaking spaces into spaces."""
    return edit.document().toRawText().replace("\u2029", "\n")


def is_undo(event: QKeyEvent) -> bool:
    return event.matches(QKeySequence.StandardKey.Undo)


def is_redo(event: QKeyEvent) -> bool:
    combo = event.keyCombination()
    shift_z = combo.key() == Qt.Key.Key_Z and combo.keyboardModifiers() == (
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    return shift_z or event.matches(QKeySequence.StandardKey.Redo)


class UndoRouter(QObject):
    """Sends Ctrl+Z / Ctrl+Shift+Z typed in a text field to the dataset's undo stack, so
    there is one history, not one per field."""

    undo = Signal()
    redo = Signal()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if is_redo(event):
                self.redo.emit()
                return True
            if is_undo(event):
                self.undo.emit()
                return True
        return False


class ContentEdit(QTextEdit):
    """Plain text that grows with its content, up to a limit."""

    MIN_LINES, MAX_LINES = 2, 16

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptRichText(False)
        self.setTabChangesFocus(True)
        self.setUndoRedoEnabled(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().contentsChanged.connect(self._fit)
        self._fit()

    def _fit(self) -> None:
        line = self.fontMetrics().lineSpacing()
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        extra = int(self.document().documentMargin() * 2) + margins + 2
        height = int(self.document().size().height()) + margins + 2
        low, high = self.MIN_LINES * line + extra, self.MAX_LINES * line + extra
        self.setFixedHeight(max(low, min(high, height)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()


class MessageCard(QFrame):
    """One turn: role, weight (assistant turns), content, and move/remove buttons.

    Keys a card does not show (tool calls, a name, unknown keys) are kept as they are."""

    typed = Signal()  # content changed: saved after a pause
    changed = Signal()  # role or weight changed: saved at once
    move_requested = Signal(object, int)  # card, -1 up / +1 down
    remove_requested = Signal(object)

    def __init__(self, message: Message, router: UndoRouter, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.role = QComboBox()
        self.role.setEditable(True)
        self.role.addItems(ROLES)
        self.role.setToolTip("Who says this: system, user, assistant or tool")
        self.role.setMinimumContentsLength(9)
        self.weight = QComboBox()
        for label, value in WEIGHTS:
            self.weight.addItem(label, value)
        self.weight.setToolTip(
            "Whether the model learns from this reply: weight 0 keeps it as context only"
        )
        self.up = self._tool("↑", "Move this turn up (Alt+Up)")
        self.down = self._tool("↓", "Move this turn down (Alt+Down)")
        self.remove = self._tool("✕", "Remove this turn")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setStyleSheet("color:#555;")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.content = ContentEdit()
        self.content.installEventFilter(router)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.role)
        header.addWidget(self.weight)
        header.addStretch(1)
        for button in (self.up, self.down, self.remove):
            header.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.content)
        layout.addWidget(self.details)
        self.set_message(message)
        self.role.currentTextChanged.connect(self._role_changed)
        self.weight.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.content.textChanged.connect(self.typed.emit)
        self.up.clicked.connect(lambda: self.move_requested.emit(self, -1))
        self.down.clicked.connect(lambda: self.move_requested.emit(self, 1))
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        QShortcut(QKeySequence("Alt+Up"), self, lambda: self.move_requested.emit(self, -1), context)
        QShortcut(
            QKeySequence("Alt+Down"), self, lambda: self.move_requested.emit(self, 1), context
        )

    @staticmethod
    def _tool(text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    def set_message(self, message: Message) -> None:
        """Show ``message`` (without emitting change signals)."""
        self._original = message
        for widget in (self.role, self.weight, self.content):
            widget.blockSignals(True)
        self.role.setCurrentText(message.role)
        while self.weight.count() > len(WEIGHTS):
            self.weight.removeItem(len(WEIGHTS))
        found = self.weight.findData(message.weight)
        if found < 0 or message.weight is None:
            if message.weight is not None:
                self.weight.addItem(f"weight {message.weight} (invalid)", message.weight)
                found = self.weight.count() - 1
            else:
                found = 0
        self.weight.setCurrentIndex(found)
        if raw_text(self.content) != message.text:
            self.content.setPlainText(message.text)
        editable_text = (
            message.content is None
            or isinstance(message.content, str)
            or all(isinstance(p, dict) and p.get("type") == "text" for p in message.content)
        )
        self.content.setReadOnly(not editable_text)
        self.content.setPlaceholderText(self._placeholder(message.role))
        for widget in (self.role, self.weight, self.content):
            widget.blockSignals(False)
        self.details.setText(self._details(message, editable_text))
        self.details.setVisible(bool(self.details.text()))
        self._show_role(message.role)

    @staticmethod
    def _placeholder(role: str) -> str:
        return {
            "system": "The instructions the model is used with…",
            "user": "What the user asks…",
            "assistant": "The reply the model should learn to give…",
        }.get(role, "")

    @staticmethod
    def _details(message: Message, editable_text: bool) -> str:
        lines = []
        if message.tool_calls:
            calls = json.dumps(list(message.tool_calls), ensure_ascii=False, indent=1)
            lines.append(f"Tool calls (kept as imported):\n{calls[:2000]}")
        if message.tool_call_id:
            lines.append(f"Answers tool call {message.tool_call_id}")
        if message.name:
            lines.append(f"Name: {message.name}")
        if message.extra:
            lines.append("Other keys kept as imported: " + ", ".join(k for k, _ in message.extra))
        if not editable_text:
            lines.append("The content has non-text parts, so it is shown read-only.")
        return "\n".join(lines)

    def _role_changed(self, role: str) -> None:
        self._show_role(role)
        self.changed.emit()

    def _show_role(self, role: str) -> None:
        self.weight.setVisible(role.strip() == "assistant")
        colour = _ROLE_COLOURS.get(role.strip(), "#b71c1c")
        self.setStyleSheet(
            f"#messageCard {{ border: 1px solid #d0d4da; border-left: 4px solid {colour};"
            " border-radius: 4px; }"
        )

    def adopt(self, message: Message) -> None:
        """``message`` is what the card shows already: make it the stored version."""
        self._original = message

    def message(self) -> Message:
        """The turn as edited; unchanged parts are the original values, exactly."""
        original = self._original
        changes: dict[str, Any] = {}
        role = self.role.currentText().strip()
        if role != original.role:
            changes["role"] = role
        text = raw_text(self.content)
        if text != original.text:
            changes["content"] = text
        if self.weight.isVisibleTo(self) or role == "assistant":
            weight = self.weight.currentData()
            if weight != original.weight:
                changes["weight"] = weight
        return replace(original, **changes) if changes else original


class ExampleEditor(QWidget):
    """Edits one example. Emits ``edited`` with the new example after each change."""

    edited = Signal(object)  # TrainingExample (with its id)
    checked = Signal(int, object)  # example id, tuple[Issue, ...] from check_example
    undo_requested = Signal()
    redo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base: AnyExample | None = None
        self.position: int | None = None
        self.origin: ChatOrigin | None = None
        self.cards: list[MessageCard] = []
        self.issues: tuple[Issue, ...] = ()
        self.router = UndoRouter(self)
        self.router.undo.connect(self._undo)
        self.router.redo.connect(self._redo)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TYPING_PAUSE_MS)
        self._timer.timeout.connect(self.commit)

        # -- nothing (or several) selected ------------------------------------------------
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color:#555; padding: 24px;")

        # -- a chat example ---------------------------------------------------------------
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.split = QComboBox()
        self.split.addItem("train", "train")
        self.split.addItem("validation", "validation")
        self.split.setToolTip("Which file the example goes to on export")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("Tags, separated by commas")
        self.tags.installEventFilter(self.router)
        self.notes = QLineEdit()
        self.notes.setPlaceholderText("Notes (not part of the training line)")
        self.notes.installEventFilter(self.router)
        self.issue_label = QLabel()
        self.issue_label.setWordWrap(True)
        self.issue_label.setTextFormat(Qt.TextFormat.RichText)
        self.issue_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.origin_box = QFrame()
        self.origin_box.setObjectName("originBox")
        self.origin_box.setStyleSheet(
            "#originBox { background:#e8f4fd; border:1px solid #b6dcfb; border-radius:4px; }"
        )
        self.origin_label = QLabel()
        self.origin_label.setWordWrap(True)
        self.keep_context = QCheckBox("Keep the retrieved sources in the user turn")
        self.keep_context.setToolTip(
            "Kept: the model learns to answer from sources, as it will with RAG. "
            "Stripped: it learns to answer the bare question on its own, so the system "
            "prompt loses what it says about sources and the reply its [n] citations."
        )
        origin_layout = QVBoxLayout(self.origin_box)
        origin_layout.setContentsMargins(8, 6, 8, 6)
        origin_layout.addWidget(self.origin_label)
        origin_layout.addWidget(self.keep_context)

        self.cards_box = QWidget()
        self.cards_layout = QVBoxLayout(self.cards_box)
        self.cards_layout.setContentsMargins(0, 0, 0, 0)
        self.cards_layout.setSpacing(8)
        self.cards_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.cards_box)

        self.add_turn_button = QToolButton()
        self.add_turn_button.setText("Add turn")
        self.add_turn_button.setToolTip("Add a turn after the last one (Ctrl+Shift+Return)")
        self.add_turn_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.add_turn_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        menu = QMenu(self.add_turn_button)
        for role in ROLES:
            action = QAction(f"Add {role} turn", menu)
            action.triggered.connect(lambda _=False, r=role: self.add_turn(r))
            menu.addAction(action)
        self.add_turn_button.setMenu(menu)
        self.add_turn_button.clicked.connect(lambda: self.add_turn())
        QShortcut(
            QKeySequence("Ctrl+Shift+Return"),
            self,
            lambda: self.add_turn(),
            Qt.ShortcutContext.WidgetWithChildrenShortcut,
        )

        fields = QHBoxLayout()
        fields.addWidget(QLabel("Split"))
        fields.addWidget(self.split)
        fields.addWidget(QLabel("Tags"))
        fields.addWidget(self.tags, 1)
        chat_page = QWidget()
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.addWidget(self.title)
        chat_layout.addLayout(fields)
        chat_layout.addWidget(self.notes)
        chat_layout.addWidget(self.origin_box)
        chat_layout.addWidget(self.issue_label)
        chat_layout.addWidget(self.scroll, 1)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_turn_button)
        add_row.addStretch(1)
        chat_layout.addLayout(add_row)

        # -- a preference example (shown, not edited here) ----------------------------------
        self.preference_view = QPlainTextEdit()
        self.preference_view.setReadOnly(True)
        self.preference_note = QLabel(
            "A preference (DPO) example: its input, the preferred and the non-preferred "
            "reply. It is validated, split and exported here; edit its text in the file."
        )
        self.preference_note.setWordWrap(True)
        preference_page = QWidget()
        preference_layout = QVBoxLayout(preference_page)
        preference_layout.setContentsMargins(0, 0, 0, 0)
        preference_layout.addWidget(self.preference_note)
        preference_layout.addWidget(self.preference_view, 1)

        self.pages = QStackedWidget()
        self.pages.addWidget(self.placeholder)
        self.pages.addWidget(chat_page)
        self.pages.addWidget(preference_page)
        self.chat_page, self.preference_page = chat_page, preference_page
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages)

        self.split.currentIndexChanged.connect(lambda _: self._changed())
        for field in (self.tags, self.notes):
            field.textEdited.connect(lambda _: self._typed())
            field.editingFinished.connect(self.flush)
        self.keep_context.toggled.connect(self._keep_context_toggled)
        self.show_nothing()

    def sizeHint(self) -> QSize:
        return QSize(520, 600)

    # -- what is shown ------------------------------------------------------------------

    @property
    def example_id(self) -> int | None:
        return self.base.id if self.base is not None else None

    @property
    def dirty(self) -> bool:
        """Typed but not saved yet."""
        return self._timer.isActive()

    def show_nothing(self, selected: int = 0) -> None:
        self.flush()
        self.base = None
        self.position = None
        if selected > 1:
            text = (
                f"{selected} examples selected.\n\nUse the Edit menu to set their system "
                "prompt, add or remove a tag, move them to training or validation, "
                "duplicate or delete them."
            )
        else:
            text = (
                "Select an example to edit its turns.\n\nSelect several to change them "
                "together from the Edit menu."
            )
        self.placeholder.setText(text)
        self.pages.setCurrentWidget(self.placeholder)

    def set_example(self, example: AnyExample, position: int | None = None) -> None:
        """Show ``example``; if it is the one already open, update what changed in place
        (the cursor stays where it is)."""
        same = self.base is not None and self.base.id == example.id and example.id is not None
        if same and example == self.base:
            self.position = position if position is not None else self.position
            self._show_title()
            return
        if not same:
            self.flush()
        else:
            self._timer.stop()
        self.base = example
        self.position = position
        if isinstance(example, PreferenceExample):
            self.preference_view.setPlainText(
                json.dumps(example.to_openai(), ensure_ascii=False, indent=2)
            )
            self._show_title()
            self.pages.setCurrentWidget(self.preference_page)
            return
        self.pages.setCurrentWidget(self.chat_page)
        for widget in (self.split, self.tags, self.notes):
            widget.blockSignals(True)
        self.split.setCurrentIndex(self.split.findData(example.split))
        if self._tags() != example.tags:
            self.tags.setText(", ".join(example.tags))
        if self.notes.text() != example.notes:
            self.notes.setText(example.notes)
        for widget in (self.split, self.tags, self.notes):
            widget.blockSignals(False)
        self._set_messages(example.messages, keep_cards=same)
        self._show_origin()
        self._show_title()
        self._check(emit=False)

    def set_origin(self, origin: ChatOrigin | None) -> None:
        self.origin = origin
        self._show_origin()

    def _show_origin(self) -> None:
        origin = self.origin
        shown = origin is not None and origin.example_id == self.example_id
        self.origin_box.setVisible(shown)
        if not shown or origin is None:
            return
        self.origin_label.setText(
            "Saved from a chat answer. Edit it as you like: it is already in the dataset."
        )
        self.keep_context.blockSignals(True)
        self.keep_context.setChecked(origin.keep_context)
        self.keep_context.setEnabled(origin.has_context)
        if not origin.has_context:
            self.keep_context.setText("The answer had no retrieved sources to keep")
        self.keep_context.blockSignals(False)

    def _set_messages(self, messages: tuple[Message, ...], *, keep_cards: bool) -> None:
        if keep_cards and len(messages) == len(self.cards):
            for card, message in zip(self.cards, messages, strict=True):
                if card.message() != message:
                    card.set_message(message)
                else:
                    card.adopt(message)
            self._update_buttons()
            return
        focused = next((i for i, c in enumerate(self.cards) if c.content.hasFocus()), None)
        for card in self.cards:
            self._drop(card)
        self.cards = []
        for message in messages:
            self._insert_card(len(self.cards), message)
        self._update_buttons()
        if keep_cards and focused is not None and self.cards:
            self.cards[min(focused, len(self.cards) - 1)].content.setFocus()

    def _drop(self, card: MessageCard) -> None:
        self.cards_layout.removeWidget(card)
        card.hide()  # at once: the deletion waits for the event loop
        card.deleteLater()

    def _insert_card(self, at: int, message: Message) -> MessageCard:
        card = MessageCard(message, self.router)
        card.typed.connect(self._typed)
        card.changed.connect(self._changed)
        card.move_requested.connect(self.move_turn)
        card.remove_requested.connect(self.remove_turn)
        self.cards.insert(at, card)
        self.cards_layout.insertWidget(at, card)
        return card

    def _update_buttons(self) -> None:
        for position, card in enumerate(self.cards):
            card.up.setEnabled(position > 0)
            card.down.setEnabled(position < len(self.cards) - 1)

    def _show_title(self) -> None:
        example = self.base
        if example is None:
            return
        number = f"Example {self.position + 1}" if self.position is not None else "Example"
        if isinstance(example, PreferenceExample):
            self.title.setText(f"<b>{number}</b> · preference (DPO)")
            return
        turns = len(self.cards)
        self.title.setText(f"<b>{number}</b> · {turns} turn{'s' if turns != 1 else ''}")

    # -- editing ------------------------------------------------------------------------

    def _tags(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for tag in self.tags.text().split(","):
            if tag.strip():
                seen.setdefault(tag.strip(), None)
        return tuple(seen)

    def current(self) -> TrainingExample | None:
        """The example as it is in the editor now."""
        base = self.base
        if not isinstance(base, TrainingExample):
            return None
        messages = tuple(card.message() for card in self.cards)
        changes: dict[str, Any] = {}
        if messages != base.messages:
            changes["messages"] = messages
        if self._tags() != base.tags:
            changes["tags"] = self._tags()
        if self.notes.text() != base.notes:
            changes["notes"] = self.notes.text()
        split = self.split.currentData()
        if split != base.split:
            changes["split"] = split
        return replace(base, **changes) if changes else base

    def _typed(self) -> None:
        self._check()
        self._timer.start()

    def _changed(self) -> None:
        self._check()
        self.commit()

    def _check(self, *, emit: bool = True) -> None:
        example = self.current()
        if example is None or example.id is None:
            return
        self.issues = tuple(check_example(example, index=self.position or 0))
        self._show_title()
        if not self.issues:
            self.issue_label.setText(
                f"<span style='color:{STATUS_COLOURS['valid']}'>✓ No format problems.</span>"
            )
        else:
            colour = STATUS_COLOURS[status_of(self.issues)]
            items = "".join(
                f"<li><b>{issue.severity}</b>: {_escape(issue.message)}</li>"
                for issue in self.issues
            )
            self.issue_label.setText(
                f"<div style='color:{colour}'><ul style='margin:0'>{items}</ul></div>"
            )
        if emit:
            self.checked.emit(example.id, self.issues)

    def commit(self) -> None:
        """Save what is in the editor now, if it differs from what is stored."""
        self._timer.stop()
        after = self.current()
        if after is None or after == self.base:
            return
        self.base = after
        self.edited.emit(after)

    def flush(self) -> None:
        """Save pending typing now (before an undo, a selection change, a bulk edit)."""
        if self._timer.isActive():
            self.commit()

    def _undo(self) -> None:
        self.flush()
        self.undo_requested.emit()

    def _redo(self) -> None:
        self.flush()
        self.redo_requested.emit()

    def add_turn(self, role: str | None = None) -> MessageCard | None:
        if not isinstance(self.base, TrainingExample):
            return None
        if role is None:
            last = self.cards[-1].role.currentText().strip() if self.cards else ""
            role = NEXT_ROLE.get(last, "user")
        card = self._insert_card(len(self.cards), Message(role, ""))
        self._update_buttons()
        self._changed()
        card.content.setFocus()
        self.scroll.ensureWidgetVisible(card)
        return card

    def move_turn(self, card: MessageCard, delta: int) -> None:
        at = self.cards.index(card)
        to = at + delta
        if not 0 <= to < len(self.cards):
            return
        self.cards.insert(to, self.cards.pop(at))
        self.cards_layout.removeWidget(card)
        self.cards_layout.insertWidget(to, card)
        self._update_buttons()
        self._changed()
        card.content.setFocus()

    def remove_turn(self, card: MessageCard) -> None:
        at = self.cards.index(card)
        self.cards.pop(at)
        self._drop(card)
        self._update_buttons()
        self._changed()
        if self.cards:
            self.cards[min(at, len(self.cards) - 1)].content.setFocus()

    def _keep_context_toggled(self, keep: bool) -> None:
        origin = self.origin
        current = self.current()
        if origin is None or origin.example_id != self.example_id or current is None:
            return
        wanted = origin.switch(current, keep)
        self.origin = replace(origin, keep_context=keep)
        for card, message in zip(self.cards, wanted.messages, strict=True):
            if raw_text(card.content) != message.text:
                card.content.blockSignals(True)
                card.content.setPlainText(message.text)
                card.content.blockSignals(False)
        self._changed()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
