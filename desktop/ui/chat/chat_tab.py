"""The Chat tab: ask, watch the answer stream, see exactly what it was grounded in.

Left, the saved conversations; middle, the conversation and the question box; right, the
sources of the selected answer. A second view holds the retrieval test panel, which runs
the same search with the same settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.answer import AnswerDelta, RateLimitWait
from desktop.chat.history import ChatHistory, Conversation, StoredTurn
from desktop.chat.session import (
    AnswerRecord,
    AskOptions,
    ChatSession,
    ColumnDone,
    SourcesReady,
    compare_columns,
    plan_json,
)
from desktop.context import AppContext
from desktop.events import Topic
from desktop.retrieval.search import RetrievedChunk
from desktop.retrieval.service import RetrievalService, search_settings
from desktop.text import plural
from desktop.ui.chat.compare_view import CompareView
from desktop.ui.chat.conversation import AnswerCard, ConversationView
from desktop.ui.chat.prompt_inspector import PromptInspector
from desktop.ui.chat.retrieval_panel import RetrievalPanel
from desktop.ui.chat.sources_pane import SourcesPane
from desktop.ui.common.events import EventRelay
from desktop.ui.common.keyboard import tab_moves_on
from desktop.ui.common.menus import command, tab_menu
from desktop.workers import STORE_QUEUE, TaskError, TaskManager, Worker

MODES = (("rag", "RAG: from the library"), ("none", "Model alone"))


def _meta(
    model: str,
    mode: str,
    latency_ms: float | None,
    usage: dict[str, Any],
    retrieval_ms: float | None,
) -> str:
    parts = [model, "RAG" if mode == "rag" else "no retrieval"]
    if retrieval_ms is not None:
        parts.append(f"retrieval {retrieval_ms:.0f} ms")
    if latency_ms:
        parts.append(f"answer {latency_ms / 1000:.1f} s")
    if usage.get("total_tokens"):
        parts.append(
            f"{usage.get('prompt_tokens', 0)} + {usage.get('completion_tokens', 0)} tokens"
        )
    return " · ".join(parts)


class ChatTab(QWidget):
    open_settings = Signal()
    open_chunk = Signal(int, int, int)
    # question, answer, system prompt (or None), the answer's sources (RetrievedChunks or None)
    save_example = Signal(str, str, object, object)

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        retrieval: RetrievalService,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.tasks = tasks
        self.retrieval = retrieval
        self.chat = ChatSession(
            context.workspace, context.current_settings, context.provider, retrieval
        )
        self.report_error = report_error
        self.conversation_id: int | None = None
        self.active: Worker | None = None
        self.active_card: AnswerCard | None = None
        self.selected_card: AnswerCard | None = None
        self.models: list[str] = []

        # -- conversations ---------------------------------------------------------------
        self.conversation_list = tab_moves_on(QListWidget())
        # Long first questions are the titles: cut them with "…", never scroll sideways.
        self.conversation_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.conversation_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the conversation as Markdown")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Conversations</b>"))
        left_layout.addWidget(self.conversation_list, 1)
        for pair in (
            (self.new_button, self.rename_button),
            (self.delete_button, self.export_button),
        ):
            row = QHBoxLayout()
            for button in pair:
                row.addWidget(button)
            left_layout.addLayout(row)

        # -- conversation and question ------------------------------------------------------
        self.view = ConversationView()
        self.input = tab_moves_on(QPlainTextEdit())
        self.input.setPlaceholderText("Ask about your documents… (Ctrl+Enter to send)")
        self.input.setMaximumHeight(90)
        self.mode = QComboBox()
        for key, label in MODES:
            self.mode.addItem(label, key)
        self.mode.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.mode.setMinimumContentsLength(14)
        self.mode.setToolTip("RAG answers from the library's sources; the model alone does not")
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setMinimumWidth(140)
        self.model.setCurrentText(context.settings.chat_model)
        self.model.setToolTip("Models listed by the server, fine-tuned ones included")
        self.ask_button = QPushButton("Ask")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.setEnabled(False)
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip(
            "Answer the same question with the base model and a "
            "fine-tuned one, each with and without retrieval"
        )
        self.status = QLabel()
        self.status.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.mode)
        controls.addWidget(self.model, 1)
        controls.addWidget(self.compare_button)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.ask_button)
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.addWidget(self.view, 1)
        middle_layout.addWidget(self.status)
        middle_layout.addWidget(self.input)
        middle_layout.addLayout(controls)

        self.sources = SourcesPane()
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(middle)
        splitter.addWidget(self.sources)
        splitter.setSizes([200, 620, 480])
        conversation_page = QWidget()
        page_layout = QVBoxLayout(conversation_page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(splitter)

        self.retrieval_panel = RetrievalPanel(context, tasks, retrieval, report_error)
        self.views = QTabWidget()
        self.views.addTab(conversation_page, "Conversation")
        self.views.addTab(self.retrieval_panel, "Retrieval test")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.views)

        self.ask_button.clicked.connect(self.ask)
        self.stop_button.clicked.connect(self.stop)
        self.compare_button.clicked.connect(self.compare)
        self.new_button.clicked.connect(self.new_conversation)
        self.rename_button.clicked.connect(self.rename_conversation)
        self.delete_button.clicked.connect(self.delete_conversation)
        self.export_button.clicked.connect(self.export_conversation)
        # -- commands (the Chat menu while this tab is shown) ----------------------------------
        self.ask_action = command(
            self, "Ask", self.ask, ["Ctrl+Return", "Ctrl+Enter"], "Send the question"
        )
        self.stop_action = command(self, "Stop", self.stop, "Escape", "Stop the answer")
        self.compare_action = command(
            self,
            "Compare…",
            self.compare,
            "Ctrl+Shift+Return",
            "The same question to the base and the fine-tuned model, with and without retrieval",
        )
        self.new_action = command(
            self, "New conversation", self.new_conversation, "Ctrl+N", "Start a new conversation"
        )
        self.rename_action = command(self, "Rename conversation…", self.rename_conversation)
        self.delete_action = command(self, "Delete conversation", self.delete_conversation)
        self.export_action = command(
            self, "Export conversation…", self.export_conversation, None, "Save it as Markdown"
        )
        self.save_example_action = command(
            self,
            "Save answer as training example",
            self.save_selected_answer,
            "Ctrl+Shift+S",
            "Open the selected answer, editable, in the dataset builder",
        )
        self.question_action = command(
            self, "Type a question", self.focus_question, "Ctrl+L", "Move to the question box"
        )
        self.retrieval_view_action = command(
            self,
            "Retrieval test",
            lambda: self.views.setCurrentIndex(1 - self.views.currentIndex()),
            "Ctrl+T",
            "Switch between the conversation and the retrieval test",
        )
        self._menu: QMenu | None = None
        self.conversation_list.currentItemChanged.connect(self._conversation_chosen)
        self.sources.open_chunk.connect(self.open_chunk.emit)
        self.retrieval_panel.open_chunk.connect(self.open_chunk.emit)
        self.refresh_conversations()
        self._models_loaded = False
        self._chat_model = context.settings.chat_model
        self.events = EventRelay(context.events, self)
        self.events.on(Topic.SETTINGS, self._settings_changed, self)

    def showEvent(self, event: object) -> None:
        """The server's models are listed when the tab is first shown, not at start-up:
        listing reads the API key, and the keychain may ask to be unlocked."""
        super().showEvent(event)  # type: ignore[arg-type]
        if not self._models_loaded:
            self._models_loaded = True
            self.refresh_models()

    # -- models ---------------------------------------------------------------------------------

    def refresh_models(self) -> None:
        from desktop.providers.client import is_embedding_model, list_model_ids

        provider = self.context.provider

        def load() -> list[str]:
            if not provider.configured():
                return []
            client = provider.client()
            try:
                return [m for m in list_model_ids(client) if not is_embedding_model(m)]
            finally:
                client.close()

        worker = self.tasks.run(load, title="Listing chat models")
        worker.signals.result.connect(self._show_models)
        worker.signals.error.connect(
            lambda e: self.status.setText(f"Could not list the server's models: {e.message}")
        )

    def _settings_changed(self) -> None:
        """Another server or chat model chosen in Settings: the model box follows it
        (unless the user picked another model here) and lists the new server's models."""
        chosen = self.context.settings.chat_model
        if self.model.currentText() in ("", self._chat_model):
            self.model.setCurrentText(chosen)
        self._chat_model = chosen
        if self._models_loaded:
            self.refresh_models()

    def _show_models(self, models: list[str]) -> None:
        self.models = models
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(models)
        self.model.setCurrentText(current)
        self.compare_button.setEnabled(True)

    def use_model(self, model: str) -> None:
        """Select a model (a fine-tuned one from the Fine-tuning tab) for the next question."""
        if model and self.model.findText(model) < 0:
            self.model.addItem(model)
        self.model.setCurrentText(model)
        self.views.setCurrentIndex(0)

    def fine_tuned_model(self) -> str | None:
        current = self.model.currentText()
        if current.startswith("ft:"):
            return current
        return next((m for m in self.models if m.startswith("ft:")), None)

    # -- conversations ------------------------------------------------------------------------

    def _history(self) -> ChatHistory:
        return self.chat.history

    def refresh_conversations(self, select: int | None = None) -> None:
        worker = self.tasks.run(
            lambda: self._history().conversations(), title="Loading conversations"
        )
        worker.signals.result.connect(lambda items: self._show_conversations(items, select))

    def _show_conversations(self, items: list[Conversation], select: int | None) -> None:
        wanted = select if select is not None else self.conversation_id
        self.conversation_list.blockSignals(True)
        self.conversation_list.clear()
        for conversation in items:
            item = QListWidgetItem(conversation.title)
            item.setData(Qt.ItemDataRole.UserRole, conversation.id)
            last = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.updated_at))
            item.setToolTip(
                f"{conversation.title}\n{plural(conversation.turns, 'question')}, last {last}"
            )
            self.conversation_list.addItem(item)
            if conversation.id == wanted:
                self.conversation_list.setCurrentItem(item)
        self.conversation_list.blockSignals(False)
        for button in (self.rename_button, self.delete_button, self.export_button):
            button.setEnabled(self.conversation_list.currentItem() is not None)

    def _conversation_chosen(self, item: QListWidgetItem | None) -> None:
        if item is None or self.active is not None:
            return
        conversation_id = int(item.data(Qt.ItemDataRole.UserRole))
        self.conversation_id = conversation_id
        for button in (self.rename_button, self.delete_button, self.export_button):
            button.setEnabled(True)
        worker = self.tasks.run(
            lambda: self._history().turns(conversation_id), title="Opening the conversation"
        )
        worker.signals.result.connect(self._show_turns)

    def _show_turns(self, turns: list[StoredTurn]) -> None:
        self.view.clear()
        self.selected_card = None
        card = None
        for turn in turns:
            card = self._new_card(turn.question)
            sources = [RetrievedChunk.from_json(s) for s in turn.sources]
            card.data = {
                "sources": sources,
                "cited": turn.citations,
                "prompt": turn.prompt,
                "below": [],
                "query": turn.question,
            }
            card.finish(
                turn.status,
                turn.answer,
                turn.note,
                _meta(turn.model, turn.mode, turn.latency_ms, turn.usage, turn.retrieval_ms),
            )
        if card is not None:
            self._select_card(card)
        else:
            self.sources.show_sources([], [], [], "")

    def new_conversation(self) -> None:
        if self.active is not None:
            return
        self.conversation_id = None
        self.conversation_list.clearSelection()
        self.conversation_list.setCurrentItem(None)
        self.view.clear()
        self.selected_card = None
        self.sources.show_sources([], [], [], "", note="A new conversation: ask a question.")
        self.input.setFocus()

    def rename_conversation(self) -> None:
        item = self.conversation_list.currentItem()
        if item is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=item.text())
        if ok and title.strip():
            self.rename_to(int(item.data(Qt.ItemDataRole.UserRole)), title)

    def rename_to(self, conversation_id: int, title: str) -> Worker:
        worker = self.tasks.run(
            self._history().rename, conversation_id, title, title="Renaming", queue=STORE_QUEUE
        )
        worker.signals.finished.connect(lambda: self.refresh_conversations(conversation_id))
        return worker

    def delete_conversation(self) -> Worker | None:
        item = self.conversation_list.currentItem()
        if item is None:
            return None
        conversation_id = int(item.data(Qt.ItemDataRole.UserRole))
        worker = self.tasks.run(
            self._history().delete, conversation_id, title="Deleting", queue=STORE_QUEUE
        )
        worker.signals.finished.connect(self._after_delete)
        return worker

    def _after_delete(self) -> None:
        self.new_conversation()
        self.refresh_conversations()

    def export_conversation(self) -> None:
        if self.conversation_id is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export conversation", "conversation.md", "Markdown (*.md)"
        )
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> Worker | None:
        conversation_id = self.conversation_id
        if conversation_id is None:
            return None

        def write() -> str:
            from desktop.files import write_text_atomic

            write_text_atomic(path, self._history().export_markdown(conversation_id))
            return str(path)

        worker = self.tasks.run(write, title="Exporting the conversation")
        worker.signals.result.connect(lambda p: self.status.setText(f"Exported to {p}"))
        worker.signals.error.connect(lambda e: self.report_error("Export", e))
        return worker

    # -- asking ------------------------------------------------------------------------------

    def options(self) -> AskOptions:
        return AskOptions(
            model=self.model.currentText().strip() or self.context.settings.chat_model,
            mode=str(self.mode.currentData()),
            search=search_settings(self.context.settings),
        )

    def _new_card(self, question: str) -> AnswerCard:
        card = self.view.add(AnswerCard(question))
        card.selected.connect(self._select_card)
        card.citation_clicked.connect(self._citation)
        card.prompt_requested.connect(self.show_prompt)
        card.retry_requested.connect(lambda c: self.ask(c.question))
        card.settings_requested.connect(self.open_settings.emit)
        card.save_requested.connect(self._save_as_example)
        return card

    def _save_as_example(self, card: AnswerCard) -> None:
        """Hand the answer to the dataset builder; the user edits it there and chooses
        whether the retrieved context stays in the user turn."""
        prompt = card.data.get("prompt") or {}
        messages = prompt.get("messages") or []  # type: ignore[union-attr]
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
        sources = list(card.data.get("sources") or [])  # type: ignore[call-overload]
        self.save_example.emit(card.question, card.text, system, sources or None)

    def ask(self, question: str | None = None) -> Worker | None:
        question = (
            question if isinstance(question, str) else None
        ) or self.input.toPlainText().strip()
        if not question or self.active is not None:
            return None
        self.input.clear()
        options = self.options()
        card = self._new_card(question)
        card.meta.setText(
            f"{options.model} · {'RAG' if options.mode == 'rag' else 'no retrieval'} · answering…"
        )
        conversation_id = self.conversation_id
        chat = self.chat

        def run(cancel):
            cid = conversation_id or chat.history.create()
            return (yield from chat.ask(question, options, conversation_id=cid, cancel=cancel))

        worker = Worker(run, title="Answering", stops_itself=True)
        worker.signals.progress.connect(lambda event: self._event(card, event))
        worker.signals.result.connect(lambda record: self._answered(card, record))
        worker.signals.error.connect(lambda error: self._failed(card, error))
        worker.signals.finished.connect(self._done)
        self.active, self.active_card = worker, card
        self._set_busy(True)
        self.tasks.submit(worker, queue=STORE_QUEUE)
        return worker

    def _event(self, card: AnswerCard, event: object) -> None:
        if isinstance(event, AnswerDelta):
            if card.note.isVisible() and card.status == "streaming":
                card.show_note("", "")
            card.append(event.text)
        elif isinstance(event, SourcesReady):
            result = event.result
            card.data = {
                "sources": result.usable,
                "cited": [],
                "below": [r for r in result.results if r.below_threshold],
                "query": result.query,
                "notices": list(result.notes),
            }
            self._select_card(card)
        elif isinstance(event, RateLimitWait):
            card.show_note(
                "waiting",
                f"The server is rate limiting requests (429): waiting "
                f"{event.seconds:g} s before trying again "
                f"(attempt {event.attempt})…",
            )

    def _answered(self, card: AnswerCard, record: AnswerRecord) -> None:
        outcome = record.outcome
        card.data.update(
            {
                "sources": record.sources,
                "cited": record.cited,
                "prompt": plan_json(record.plan),
                "error_kind": outcome.error_kind,
                "query": record.question,
            }
        )
        note = outcome.status_note()
        if outcome.error_kind == "not_found" and self.models:
            note += " Models this server lists: " + ", ".join(self.models[:12]) + "."
        card.finish(
            outcome.status,
            outcome.text,
            note,
            _meta(
                record.options.model,
                record.options.mode,
                outcome.latency_ms,
                outcome.usage,
                record.search.latency_ms if record.search else None,
            ),
        )
        self._select_card(card)
        if record.conversation_id is not None and self.conversation_id is None:
            self.conversation_id = record.conversation_id
        self.refresh_conversations(self.conversation_id)

    def _failed(self, card: AnswerCard, error: TaskError) -> None:
        from desktop.errors import user_message

        card.finish("error", card.text, user_message(error.exception), card.meta.text())

    def _done(self) -> None:
        self.active = None
        self.active_card = None
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.ask_button.setEnabled(not busy)
        self.compare_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.new_button.setEnabled(not busy)

    def stop(self) -> None:
        if self.active is not None:
            self.active.cancel()

    # -- sources, citations, prompt --------------------------------------------------------------

    def save_selected_answer(self) -> None:
        """The selected answer (the last one when none is selected) to the dataset builder."""
        card = self.selected_card or (self.view.cards[-1] if self.view.cards else None)
        if card is not None and card.save_button.isEnabled():
            self._save_as_example(card)

    def _select_card(self, card: AnswerCard) -> None:
        self.selected_card = card
        data = card.data
        for other in self.view.cards:
            other.setStyleSheet(
                "" if other is not card else "#answerCard { border: 2px solid #3b82f6; }"
            )
        self.sources.show_sources(
            data.get("sources", []),
            data.get("cited", []),  # type: ignore[arg-type]
            data.get("below", []),
            str(data.get("query", "")),
            notices=data.get("notices", []),  # type: ignore[arg-type]
        )  # type: ignore[arg-type]

    def _citation(self, card: AnswerCard, number: int) -> None:
        self._select_card(card)
        self.sources.select(number)

    def show_prompt(self, card: AnswerCard) -> PromptInspector | None:
        prompt = card.data.get("prompt")
        if not prompt:
            return None
        dialog = PromptInspector(prompt, self)  # type: ignore[arg-type]
        dialog.show()
        return dialog

    # -- compare -------------------------------------------------------------------------------

    def menu(self) -> QMenu:
        """The Chat menu, shown in the menu bar while this tab is."""
        if self._menu is None:
            self._menu = tab_menu(
                "&Chat",
                self,
                (self.ask_action, self.stop_action, self.compare_action, self.question_action),
                (self.save_example_action,),
                (self.new_action, self.rename_action, self.delete_action, self.export_action),
                (self.retrieval_view_action,),
            )
        return self._menu

    def focus_question(self) -> None:
        self.views.setCurrentIndex(0)
        self.input.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def compare(self, question: str | None = None) -> CompareView | None:
        question = (
            (question if isinstance(question, str) else None)
            or self.input.toPlainText().strip()
            or (self.view.cards[-1].question if self.view.cards else "")
        )
        if self.active is not None:
            return None
        if not question:
            # Nothing to compare yet (e.g. "Compare in chat" from a finished job): say what
            # to do, where to do it.
            self.focus_question()
            self.status.setText(
                f"Type the question to compare {self.model.currentText() or 'the models'} on, "
                "then press Compare… (Ctrl+Shift+Enter)."
            )
            return None
        base = self.model.currentText().strip()
        if base.startswith("ft:"):
            base = self.context.settings.chat_model
        columns = compare_columns(base, self.fine_tuned_model())
        view = CompareView(question, columns, self)
        chat = self.chat
        settings = search_settings(self.context.settings)

        def run(cancel):
            return (yield from chat.compare(question, columns, settings, cancel=cancel))

        worker = Worker(run, title="Comparing answers", stops_itself=True)
        worker.signals.progress.connect(
            lambda event: (
                view.show_record(event.index, event.record)
                if isinstance(event, ColumnDone)
                else None
            )
        )
        worker.signals.error.connect(lambda e: self.report_error("Compare", e))
        view.rejected.connect(worker.cancel)
        self.tasks.submit(worker, queue=STORE_QUEUE)
        view.show()
        self.compare_view = view
        return view
