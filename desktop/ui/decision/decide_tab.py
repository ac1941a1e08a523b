"""The Decide tab: the nine-question checklist with the evidence measured from the
workspace, the recommendation it adds up to, the comparison table and the report.

Measuring runs on a worker (it tokenizes the whole library); saving the answers and the
snapshot goes through the "store" queue. The recommendation itself is a pure function
of the evidence and the answers, recomputed at once when an answer changes."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.context import AppContext
from desktop.decision.checklist import QUESTIONS, Answer, Answers, Recommendation, evaluate_cards
from desktop.decision.evidence import DecisionInputs, Evidence
from desktop.decision.service import Decision, DecisionService, Measurement, Visit
from desktop.events import Topic
from desktop.ui.common.events import EventRelay
from desktop.ui.common.keyboard import tab_moves_on
from desktop.ui.common.menus import command, command_button, tab_menu
from desktop.ui.common.message_bar import MessageBar
from desktop.ui.common.table_model import record_table
from desktop.ui.decision.cards import ComparisonModel, QuestionCard, RecommendationPanel
from desktop.ui.decision.report_pdf import write_pdf
from desktop.workers import STORE_QUEUE, TaskError, TaskManager

log = logging.getLogger(__name__)

INPUT_DELAY_MS = 600
"""Typing in the inputs re-measures after this pause, not on every key."""
HIGHLIGHT_MS = 1500
GROUP_TITLES = {
    "knowledge": "Knowledge: what the model must know",
    "behaviour": "Behaviour: how the model must answer",
    "feasibility": "Feasibility: what can run",
}
ChoosePath = Callable[[str, str, str], Path | None]
"""(dialog title, suggested file name, file filter) → the chosen path, or None."""


def _local_now() -> datetime:
    return datetime.now().astimezone()


class DecideTab(QWidget):
    refreshed = Signal()  # the evidence was measured and every view shows it
    saved = Signal()  # the answers and the recommendation are in the workspace
    exported = Signal(object)  # Path of a written report

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
        *,
        now: Callable[[], datetime] = _local_now,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.service: DecisionService = context.decision()
        # What the evidence is measured from changes in other tabs: measure again (when
        # shown; a hidden tab measures when it is shown anyway).
        self.events = EventRelay(context.events, self)
        for topic in (
            Topic.LIBRARY,
            Topic.INDEX,
            Topic.DATASETS,
            Topic.JOBS,
            Topic.SETTINGS,
            Topic.EVALUATION,
        ):
            self.events.on(topic, self._evidence_changed, self)
        self.tasks = tasks
        self.report_error = report_error
        self.now = now
        self.choose_path: ChoosePath = self._choose_path
        self.answers: Answers | None = None  # None until the saved ones are read
        self.evidence: Evidence | None = None
        self.recommendation: Recommendation | None = None
        self.decision: Decision | None = None
        self.changes: list[str] = []
        self._generation = 0
        self._measuring = False
        self._saving = 0

        # -- toolbar --------------------------------------------------------------------
        self.banner = MessageBar()
        self.status_label = QLabel("Measuring the workspace…")
        self.measure_action = command(
            self, "Measure again", self.refresh, "F5", "Re-read the library, datasets and searches"
        )
        self.markdown_action = command(
            self, "Export Markdown…", lambda: self.export_markdown(), "Ctrl+E", "The report"
        )
        self.pdf_action = command(
            self, "Export PDF…", lambda: self.export_pdf(), "Ctrl+Shift+E", "The report as PDF"
        )
        self.measure_button = command_button(self.measure_action)
        self.markdown_button = command_button(self.markdown_action)
        self.pdf_button = command_button(self.pdf_action)
        self._menu: QMenu | None = None
        toolbar = QHBoxLayout()
        toolbar.addWidget(self.status_label, 1)
        toolbar.addWidget(self.measure_button)
        toolbar.addWidget(self.markdown_button)
        toolbar.addWidget(self.pdf_button)

        # -- the checklist ----------------------------------------------------------------
        self.cards: dict[str, QuestionCard] = {}
        checklist = QWidget()
        cards_layout = QVBoxLayout(checklist)
        group = ""
        for q in QUESTIONS:
            if q.group != group:
                group = q.group
                heading = QLabel(f"<h3>{GROUP_TITLES[group]}</h3>")
                heading.setWordWrap(True)
                cards_layout.addWidget(heading)
            card = QuestionCard(q)
            card.answer_changed.connect(self._answer_changed)
            self.cards[q.id] = card
            cards_layout.addWidget(card)
        cards_layout.addStretch(1)

        self.latency_budget = QSpinBox()
        self.latency_budget.setRange(0, 600_000)
        self.latency_budget.setSingleStep(100)
        self.latency_budget.setSuffix(" ms")
        self.latency_budget.setSpecialValueText("not entered")
        self.requests_per_day = QSpinBox()
        self.requests_per_day.setRange(0, 2_000_000_000)
        self.requests_per_day.setSingleStep(1000)
        self.requests_per_day.setGroupSeparatorShown(True)
        self.requests_per_day.setSpecialValueText("not entered")
        self.system_prompt = tab_moves_on(QPlainTextEdit())
        self.system_prompt.setPlaceholderText("Paste the system prompt sent with every request")
        self.system_prompt.setMaximumHeight(90)
        latency_form = QFormLayout()
        latency_form.addRow("Latency budget:", self.latency_budget)
        self.cards["latency"].inputs.addLayout(latency_form)
        prompt_form = QFormLayout()
        prompt_form.addRow("Requests a day:", self.requests_per_day)
        prompt_form.addRow("System prompt:", self.system_prompt)
        self.cards["repeated_prompt"].inputs.addLayout(prompt_form)
        self.inputs_timer = QTimer(self)
        self.inputs_timer.setSingleShot(True)
        self.inputs_timer.setInterval(INPUT_DELAY_MS)
        self.inputs_timer.timeout.connect(self._inputs_settled)
        self.latency_budget.valueChanged.connect(self._inputs_changed)
        self.requests_per_day.valueChanged.connect(self._inputs_changed)
        self.system_prompt.textChanged.connect(self._inputs_changed)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(checklist)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        # -- recommendation and comparison -----------------------------------------------------
        self.panel = RecommendationPanel()
        self.panel.card_requested.connect(self.scroll_to_card)
        self.comparison = ComparisonModel(self)
        self.comparison_proxy = QSortFilterProxyModel(self)
        self.comparison_proxy.setSourceModel(self.comparison)
        self.comparison_proxy.setSortRole(ComparisonModel.SORT_ROLE)
        self.table = record_table(
            self.comparison_proxy, sort_column=ComparisonModel.ASPECT, wrap=True
        )
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(ComparisonModel.ASPECT, QHeaderView.ResizeMode.ResizeToContents)
        for column in (ComparisonModel.RAG, ComparisonModel.FINE_TUNING, ComparisonModel.MEASURED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        comparison_box = QWidget()
        comparison_layout = QVBoxLayout(comparison_box)
        comparison_layout.setContentsMargins(0, 0, 0, 0)
        comparison_layout.addWidget(QLabel("<b>RAG and fine-tuning compared</b>"))
        comparison_layout.addWidget(self.table)

        # On a short screen the recommendation scrolls rather than squeezing its parts
        # on top of each other.
        panel_scroll = QScrollArea()
        panel_scroll.setWidgetResizable(True)
        panel_scroll.setFrameShape(QFrame.Shape.NoFrame)
        panel_scroll.setWidget(self.panel)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(panel_scroll)
        right.addWidget(comparison_box)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([600, 600])

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(toolbar)
        layout.addWidget(splitter, 1)
        self._set_ready(False)

    # -- measuring -------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous():
            self.refresh()

    def menu(self) -> QMenu:
        """The Decide menu, shown in the menu bar while this tab is."""
        if self._menu is None:
            self._menu = tab_menu(
                "&Decide", self, (self.measure_action,), (self.markdown_action, self.pdf_action)
            )
        return self._menu

    def _evidence_changed(self) -> None:
        if self.isVisible() and self.answers is not None:
            self._measure(visit=False)

    def refresh(self) -> None:
        """Measure the evidence again and recompute; the banner says what changed since
        the last visit."""
        self._measure(visit=True)

    def _measure(self, *, visit: bool) -> None:
        self._generation += 1
        generation = self._generation
        self._measuring = True
        self.status_label.setText("Measuring the workspace…")
        answers = self.answers
        moment = self.now()
        service = self.service
        worker = self.tasks.run(
            lambda: service.measure(answers, moment), title="Measuring the evidence"
        )
        worker.signals.result.connect(lambda m: self._measured(generation, m, visit))
        worker.signals.error.connect(lambda e: self._measure_failed(generation, e))

    def _measure_failed(self, generation: int, error: TaskError) -> None:
        if generation == self._generation:
            self._measuring = False
            self.status_label.setText("The workspace could not be measured.")
        self.report_error("Measuring the evidence", error)

    def _measured(self, generation: int, measurement: Measurement, visit: bool) -> None:
        if generation != self._generation:
            return  # a newer measurement is on its way
        self._measuring = False
        if self.answers is None:
            self.answers = measurement.answers
            self._show_answers(measurement.answers)
        self.evidence = measurement.evidence
        self._set_ready(True)
        self._recompute(visit=visit)
        moment = datetime.fromtimestamp(self.evidence.measured_at).astimezone()
        self.status_label.setText(f"Measured {moment:%Y-%m-%d %H:%M}")
        self.refreshed.emit()

    def _show_answers(self, answers: Answers) -> None:
        for card_id, card in self.cards.items():
            card.set_answer(answers.get(card_id))
        inputs = answers.inputs
        for widget, value in (
            (self.latency_budget, int(inputs.latency_budget_ms or 0)),
            (self.requests_per_day, int(inputs.requests_per_day or 0)),
        ):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self.system_prompt.blockSignals(True)
        self.system_prompt.setPlainText(inputs.system_prompt)
        self.system_prompt.blockSignals(False)

    def _set_ready(self, ready: bool) -> None:
        """Answers can be given once the saved ones are on screen."""
        for card in self.cards.values():
            card.setEnabled(ready)
        for action in (self.markdown_action, self.pdf_action):
            action.setEnabled(ready)

    # -- answers and the recommendation --------------------------------------------------

    def _answer_changed(self, card_id: str, answer: Answer) -> None:
        if self.answers is None:
            return
        given = dict(self.answers.answers)
        given[card_id] = answer
        self.answers = replace(self.answers, answers=given)
        self._recompute(visit=False)

    def _inputs_changed(self) -> None:
        if self.answers is None:
            return
        self.answers = replace(self.answers, inputs=self.current_inputs())
        self.inputs_timer.start()

    def current_inputs(self) -> DecisionInputs:
        budget = self.latency_budget.value()
        requests = self.requests_per_day.value()
        return DecisionInputs(
            float(budget) if budget else None,
            requests if requests else None,
            self.system_prompt.toPlainText(),
        )

    def _inputs_settled(self) -> None:
        """The prompt's token count and the budget are part of the evidence: measure."""
        self._measure(visit=False)

    def _recompute(self, *, visit: bool) -> None:
        if self.evidence is None or self.answers is None:
            return
        decision = self.service.decide(self.answers, self.evidence)
        self.decision = decision
        self.recommendation = decision.recommendation
        for card in evaluate_cards(decision.evidence, self.answers):
            self.cards[card.question.id].show_result(card)
        self.panel.show_recommendation(decision.recommendation)
        self.comparison.set_rows(decision.table)
        self._save(decision, visit=visit)

    def _save(self, decision: Decision, *, visit: bool) -> None:
        self._saving += 1
        service = self.service
        worker = self.tasks.run(
            lambda: service.save(decision), title="Saving the decision", queue=STORE_QUEUE
        )
        worker.signals.result.connect(lambda seen: self._show_changes(seen) if visit else None)
        worker.signals.error.connect(lambda e: self.report_error("Saving the decision", e))
        worker.signals.finished.connect(self._save_finished)

    def _save_finished(self) -> None:
        self._saving -= 1
        if self._saving == 0:
            self.saved.emit()

    @property
    def busy(self) -> bool:
        """Measuring or saving (tests wait for this to clear)."""
        return self._measuring or self._saving > 0 or self.inputs_timer.isActive()

    def _show_changes(self, visit: Visit) -> None:
        self.changes = visit.changes
        if visit.previous_at is None or not self.changes:
            self.banner.hide()
            return
        when = datetime.fromtimestamp(visit.previous_at).astimezone()
        lines = "\n".join(f"• {change}" for change in self.changes)
        self.banner.show_message(
            f"Since your last visit ({when:%Y-%m-%d %H:%M}):\n{lines}", level="info"
        )

    # -- going to a card -----------------------------------------------------------------

    def scroll_to_card(self, card_id: str) -> None:
        card = self.cards[card_id]
        self.scroll.ensureWidgetVisible(card, 0, 12)
        card.set_highlighted(True)
        QTimer.singleShot(HIGHLIGHT_MS, card, lambda: card.set_highlighted(False))
        card.buttons[card.answer].setFocus(Qt.FocusReason.OtherFocusReason)

    # -- the report ------------------------------------------------------------------------

    def report(self) -> str:
        """The decision as Markdown, as it stands on screen."""
        if self.evidence is None or self.answers is None:
            raise RuntimeError("nothing measured yet")
        return self.service.report(
            self.service.decide(self.answers, self.evidence), self.now().date()
        )

    def _suggested_name(self, suffix: str) -> str:
        return f"decision-{self.context.workspace_name}-{self.now():%Y-%m-%d}{suffix}"

    def export_markdown(self, path: Path | None = None) -> Path | None:
        """Write the Markdown report (on a worker); ``exported`` carries the path."""
        if self.recommendation is None:
            return None
        target = path or self.choose_path(
            "Export the decision as Markdown", self._suggested_name(".md"), "Markdown (*.md)"
        )
        if target is None:
            return None
        assert self.evidence is not None and self.answers is not None
        decision = self.service.decide(self.answers, self.evidence)
        worker = self.tasks.run(
            self.service.write_report, decision, self.now().date(), Path(target), title="Exporting"
        )
        worker.signals.result.connect(self._exported)
        worker.signals.error.connect(lambda e: self.report_error("Exporting the report", e))
        return Path(target)

    def export_pdf(self, path: Path | None = None) -> Path | None:
        """Write the PDF report. On the GUI thread: Qt lays text out with fonts, which
        belong to it; a report is a few pages and takes a fraction of a second."""
        if self.recommendation is None:
            return None
        target = path or self.choose_path(
            "Export the decision as PDF", self._suggested_name(".pdf"), "PDF (*.pdf)"
        )
        if target is None:
            return None
        try:
            written = write_pdf(self.report(), Path(target))
        except OSError as exc:
            self.report_error("Exporting the report", TaskError(exc, traceback.format_exc()))
            return None
        self._exported(written)
        return written

    def _exported(self, path: Path) -> None:
        self.status_label.setText(f"Report saved to {path}")
        self.exported.emit(path)

    def _choose_path(self, title: str, name: str, file_filter: str) -> Path | None:
        start = str(Path.home() / name)
        chosen, _filter = QFileDialog.getSaveFileName(self, title, start, file_filter)
        return Path(chosen) if chosen else None
