"""The search index where people look for it: how many chunks have vectors, which
embedder makes them, and the action that embeds the rest, with progress and cancel.

Kept live by the domain events: an import, a delete, a re-chunk or an index run anywhere
in the app updates it. With ``auto`` (the Library tab's bar), chunks added by an import are
embedded at once when the chosen embedder is the free, offline one; a paid embedder
always asks first, with its estimate."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from desktop.events import Topic
from desktop.progress import Progress
from desktop.ui.common.dialogs import Confirm, ask
from desktop.ui.common.events import EventRelay
from desktop.workers import SEARCH_QUEUE, SETTINGS_QUEUE, TaskError, TaskManager, Worker

if TYPE_CHECKING:  # retrieval pulls numpy: imported by the first worker, not at start-up
    from desktop.retrieval.indexing import IndexPlan, IndexResult
    from desktop.retrieval.service import EmbedderChoice, IndexStatus, RetrievalService
    from desktop.settings import Settings


class IndexBar(QWidget):
    status_changed = Signal(object)  # IndexStatus of the chosen embedder
    indexed = Signal(object)  # IndexResult

    def __init__(
        self,
        retrieval: Callable[[], RetrievalService],
        tasks: TaskManager,
        events: EventRelay,
        report_error: Callable[[str, TaskError], None],
        save_settings: Callable[[Settings], object],
        *,
        auto: bool = False,
        compact: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._retrieval = retrieval
        self.save_settings = save_settings
        self.tasks = tasks
        self.report_error = report_error
        self.auto = auto
        self.confirm: Confirm = ask(self)
        self.status: IndexStatus | None = None
        self.worker: Worker | None = None
        self._choices: list[EmbedderChoice] = []
        self._refreshing = False
        self._stale = False  # something changed while a refresh was reading
        self._changes = 0  # library changes seen; a refresh knows which it saw
        self._auto_after = -1  # index automatically once a refresh has seen this change

        self.title = QLabel("<b>Search index</b>")
        self.label = QLabel("Checking the index…")
        self.label.setWordWrap(True)
        self.label.setMinimumWidth(120)
        self.embedder = QComboBox()
        self.embedder.setToolTip(
            "The model that turns chunks into vectors for search. The bundled model works "
            "offline and costs nothing; a provider's model is sent your chunks and billed."
        )
        self.embedder.setAccessibleName("Embedder")
        # Its models arrive after the first show: size it to them, not to an empty list.
        self.embedder.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.index_button = QPushButton("Index library")
        self.index_button.setToolTip("Embed the chunks that have no vector yet")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop indexing; what is embedded so far is kept")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if not compact:
            layout.addWidget(self.title)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.embedder)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.index_button)
        self._set_running(False)

        self.embedder.activated.connect(self._embedder_picked)
        self.embedder.currentIndexChanged.connect(lambda _i: self.refresh())
        self.index_button.clicked.connect(lambda: self.index())
        self.cancel_button.clicked.connect(self.cancel)
        for topic in (Topic.LIBRARY, Topic.INDEX):
            events.on(topic, self._library_changed, self)
        events.on(Topic.SETTINGS, self.load_choices, self)
        self.load_choices()

    @property
    def retrieval(self) -> RetrievalService:
        """The retrieval front door, made (and its modules imported) by the first worker
        that asks; the GUI thread only uses it after that."""
        return self._retrieval()

    # -- which embedder --------------------------------------------------------------------

    def load_choices(self) -> None:
        """The embedders to pick from; the one searches use now is selected."""
        worker = self.tasks.run(
            lambda: (self.retrieval.options(), self.retrieval.target()),
            title="Reading the index settings",
        )
        worker.signals.result.connect(lambda pair: self._show_choices(*pair))
        worker.signals.error.connect(lambda e: self.report_error("Reading the index", e))

    def _show_choices(self, options: list[EmbedderChoice], current: EmbedderChoice) -> None:
        if current not in options:
            options = [current, *options]
        self._choices = options
        self.embedder.blockSignals(True)
        self.embedder.clear()
        for choice in options:
            self.embedder.addItem(choice.label())
        self.embedder.setCurrentIndex(options.index(current))
        self.embedder.blockSignals(False)
        self.refresh()

    def _embedder_picked(self, _index: int) -> None:
        """The user's pick becomes the embedder to index with (the same setting as in the
        Settings dialog); searches switch to it once its index is complete."""
        choice = self.chosen()
        if choice is None:
            return
        self.tasks.run(
            lambda: self.save_settings(self.retrieval.chosen_settings(choice)),
            title="Saving the embedder choice",
            queue=SETTINGS_QUEUE,
        )

    def chosen(self) -> EmbedderChoice | None:
        index = self.embedder.currentIndex()
        return self._choices[index] if 0 <= index < len(self._choices) else None

    def select(self, choice: EmbedderChoice) -> None:
        if choice in self._choices:
            self.embedder.setCurrentIndex(self._choices.index(choice))

    # -- state -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the chosen embedder's index state (again, if a read is under way: what it
        reads may be older than the change that asked)."""
        choice = self.chosen()
        if choice is None:
            return
        if self._refreshing:
            self._stale = True
            return
        self._refreshing = True
        seen = self._changes
        worker = self.tasks.run(
            lambda: (self.retrieval.status(choice), self.retrieval.active()),
            title="Checking the index",
        )
        worker.signals.result.connect(lambda pair: self._show_status(choice, seen, *pair))
        worker.signals.error.connect(
            lambda e: self.label.setText(f"The index could not be read: {e.message}")
        )
        worker.signals.finished.connect(self._refreshed)

    def _refreshed(self) -> None:
        self._refreshing = False
        if self._stale:
            self._stale = False
            self.refresh()

    def _show_status(
        self,
        choice: EmbedderChoice,
        seen: int,
        status: IndexStatus,
        active: EmbedderChoice | None,
    ) -> None:
        if choice != self.chosen():
            return  # the user picked another embedder meanwhile
        self.status = status
        self.label.setText(describe(status, choice, active))
        self.index_button.setEnabled(
            self.worker is None and status.chunks > 0 and not status.complete
        )
        self.status_changed.emit(status)
        if 0 <= self._auto_after <= seen:
            self._auto_after = -1
            self._index_if_free()

    def _library_changed(self) -> None:
        self._changes += 1
        if self.auto:
            self._auto_after = self._changes
        self.refresh()

    def _index_if_free(self) -> None:
        choice, status = self.chosen(), self.status
        if (
            self.auto
            and self.retrieval.settings.auto_index
            and choice is not None
            and not choice.paid
            and status is not None
            and status.chunks > status.embedded
            and self.worker is None
        ):
            self.index()

    # -- indexing ---------------------------------------------------------------------------

    def index(self) -> Worker | None:
        choice = self.chosen()
        if choice is None or self.worker is not None:
            return None
        worker = self.tasks.run(self.retrieval.plan, choice, title="Planning the index")
        worker.signals.result.connect(lambda pair: self._confirm(*pair))
        worker.signals.error.connect(lambda e: self.report_error("Planning the index", e))
        self.index_button.setEnabled(False)
        return worker

    def _confirm(self, embedder: object, plan: IndexPlan) -> None:
        if not plan.missing:
            self.refresh()
            return
        if plan.paid and not self.confirm(
            "Index the library", plan.describe() + "\n\nEmbed them now?"
        ):
            self.refresh()
            return
        worker = Worker(self.retrieval.index, embedder, plan, title="Indexing the library")
        worker.signals.progress.connect(self._progress)
        worker.signals.result.connect(self._indexed)
        worker.signals.error.connect(lambda e: self.report_error("Indexing", e))
        worker.signals.cancelled.connect(
            lambda: self.label.setText(
                "Indexing cancelled: the chunks embedded so far are kept; "
                "indexing again resumes from there."
            )
        )
        worker.signals.finished.connect(self._index_done)
        self.worker = worker
        self._set_running(True)
        self.progress.setRange(0, len(plan.missing))
        self.progress.setValue(0)
        self.tasks.submit(worker, queue=SEARCH_QUEUE)

    def _progress(self, step: object) -> None:
        if isinstance(step, Progress):
            if step.total:
                self.progress.setRange(0, step.total)
                self.progress.setValue(step.done)
            self.label.setText(f"Indexing: {step.message}")

    def _indexed(self, result: IndexResult) -> None:
        self.indexed.emit(result)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)

    def _index_done(self) -> None:
        self.worker = None
        self._set_running(False)
        self.refresh()

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.embedder.setEnabled(not running)
        if running:
            self.index_button.setEnabled(False)


def describe(status: IndexStatus, choice: EmbedderChoice, active: EmbedderChoice | None) -> str:
    """One sentence: what is embedded, and whether searches use it yet."""
    if status.chunks == 0:
        return "Nothing to index yet: import documents first."
    share = f"{status.embedded:,} of {status.chunks:,} chunks embedded"
    if status.complete:
        text = f"{share}: search is ready."
    elif status.embedded == 0:
        text = f"{share}: searches find keywords only until the library is indexed."
    else:
        text = f"{share}: the rest are found by keywords only until indexed."
    if active is not None and active != choice:
        text += f" Searches use {active.label()} until this index is complete."
    if status.windowed:
        text += f" {status.windowed:,} longer than the model's window were embedded in windows."
    if status.truncated:
        text += f" {status.truncated:,} longer than the model's limit were cut."
    return text
