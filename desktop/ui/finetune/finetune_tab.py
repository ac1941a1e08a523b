"""The Fine-tuning tab: the dataset builder and the job tracker, side by side as views,
both on one fine-tuning front door."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QTabWidget, QVBoxLayout, QWidget

from desktop.context import AppContext
from desktop.ui.common.menus import command, tab_menu
from desktop.ui.finetune.dataset_builder import DatasetBuilder
from desktop.ui.finetune.jobs_view import JobsView
from desktop.ui.finetune.undo import StoreCommand
from desktop.workers import TaskError, TaskManager

if TYPE_CHECKING:
    from desktop.retrieval.search import RetrievedChunk


class FineTuningTab(QWidget):
    show_requested = Signal()  # e.g. a chat answer was saved: bring the tab to the front
    use_model = Signal(str)  # a fine-tuned model or checkpoint to select in the Chat tab
    compare_model = Signal(str)

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.tasks = tasks
        self.service = context.finetune()
        self.builder = DatasetBuilder(self.service, tasks, report_error)
        self.builder.show_requested.connect(self._show_builder)
        self.jobs = JobsView(
            self.service, tasks, report_error, remember_spend_limit=self._remember_spend_limit
        )
        self.jobs.use_model.connect(self.use_model.emit)
        self.jobs.compare_model.connect(self.compare_model.emit)
        self.views = QTabWidget()
        self.views.addTab(self.builder, "Datasets")
        self.views.addTab(self.jobs, "Jobs")
        self.views.currentChanged.connect(self._view_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.views)
        self.sync_action = command(
            self, "Sync jobs now", self._sync_jobs, "F5", "Ask the provider for the jobs' news"
        )
        self.datasets_view_action = command(
            self,
            "Datasets / Jobs",
            lambda: self.views.setCurrentIndex(1 - self.views.currentIndex()),
            "Ctrl+T",
            "Switch between the dataset builder and the job tracker",
        )
        self._menu: QMenu | None = None

    def menu(self) -> QMenu:
        """The Fine-tuning menu: the dataset builder's commands (they act where the focus
        is in the builder) and the job tracker's."""
        if self._menu is None:
            b = self.builder
            self._menu = tab_menu(
                "F&ine-tuning",
                self,
                (b.new_dataset_action, b.rename_dataset_action, b.delete_dataset_action),
                (b.new_example_action, b.generate_action, b.duplicate_action, b.delete_action),
                (b.import_chat_action, b.import_preference_action, b.import_csv_action),
                (b.load_sample_action, b.split_action),
                (b.export_chat_action, b.export_preference_action, b.export_messages_action),
                (b.undo_action, b.redo_action, b.find_action),
                (self.sync_action, self.datasets_view_action),
            )
        return self._menu

    def _sync_jobs(self) -> None:
        self.views.setCurrentWidget(self.jobs)
        self.jobs.sync_all()

    def _remember_spend_limit(self, usd: float) -> None:
        """On a worker: "don't ask again for jobs under $X" is a setting."""
        context = self.context
        context.save_settings(context.current_settings().replace(confirm_spend_above_usd=usd))

    def _show_builder(self) -> None:
        self.views.setCurrentWidget(self.builder)
        self.show_requested.emit()

    def _view_changed(self) -> None:
        if self.views.currentWidget() is self.jobs:
            self.jobs.refresh_datasets()  # datasets may have changed in the builder

    def add_example_from_chat(
        self,
        question: str,
        answer: str,
        *,
        system_prompt: str | None,
        sources: Sequence[RetrievedChunk] | None,
    ) -> StoreCommand:
        """Save a chat answer as a training example in the current dataset ("Saved
        answers" when there is none) and open it, editable, in the builder; the editor
        lets the user keep its sources in the user turn or strip them."""
        return self.builder.add_example_from_chat(
            question, answer, system_prompt=system_prompt, sources=sources or ()
        )
