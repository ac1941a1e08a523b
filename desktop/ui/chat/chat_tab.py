"""The Chat tab. Until grounded answering lands it holds the retrieval test panel, and
says plainly that answering is not built yet."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from desktop.context import AppContext
from desktop.retrieval.service import RetrievalService
from desktop.ui.chat.retrieval_panel import RetrievalPanel
from desktop.ui.common.empty_state import EmptyState
from desktop.workers import TaskError, TaskManager


class ChatTab(QWidget):
    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        retrieval: RetrievalService,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.retrieval_panel = RetrievalPanel(context, tasks, retrieval, report_error)
        self.conversation = EmptyState(
            "Conversation",
            "Answering with a chat model, grounded in the retrieved chunks, is not built yet. "
            "The Retrieval test tab already shows exactly which chunks a question would be "
            "answered from.",
        )
        self.views = QTabWidget()
        self.views.addTab(self.retrieval_panel, "Retrieval test")
        self.views.addTab(self.conversation, "Conversation")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.views)
