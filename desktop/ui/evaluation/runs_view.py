"""The Runs page: the set's runs, the one running with its progress, and the selected
run's results question by question (answer, sources, the judge's reasons)."""

from __future__ import annotations

import html

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.evaluation import metrics
from desktop.evaluation.compare import COMPARED_KEYS, metric_label
from desktop.evaluation.records import EvalRun, QuestionResult
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.menus import tool_button
from desktop.ui.common.table_model import RECORD_ROLE, SORT_ROLE, record_table
from desktop.ui.evaluation.models import ResultsModel, RunsModel, figure, when
from desktop.ui.evaluation.questions_view import make_action, select_only


def sorted_proxy(model: object, parent: QWidget) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)  # type: ignore[arg-type]
    proxy.setSortRole(SORT_ROLE)
    return proxy


def result_html(result: QuestionResult) -> str:
    """One question of a run as the detail pane shows it."""
    e = html.escape
    parts = [f"<p><b>{result.position + 1}. {e(result.question)}</b></p>"]
    parts.append(f"<p><i>Reference:</i> {e(result.reference) or '—'}</p>")
    if result.answer:
        parts.append(f"<p><i>Answer:</i> {e(result.answer)}</p>")
    if result.error:
        parts.append(f"<p style='color:#b71c1c'><i>Failed:</i> {e(result.error)}</p>")
    if result.format_violation:
        parts.append(f"<p style='color:#8a5300'><i>Format:</i> {e(result.format_violation)}</p>")
    if result.judge is not None:
        verdict = result.judge
        if verdict.status == "judged":
            said = "correct" if verdict.correct else "not correct"
            if verdict.faithful is not None:
                said += ", faithful" if verdict.faithful else ", not faithful to the sources"
            parts.append(f"<p><i>Judge:</i> {said}. {e(verdict.reason)}</p>")
        else:
            parts.append(
                f"<p style='color:#8a5300'><i>Unjudged:</i> {e(verdict.reason)}"
                + (f"<br><small>{e(verdict.reply[:300])}</small>" if verdict.reply else "")
                + "</p>"
            )
    scores = ", ".join(
        f"{metric_label(k)} {figure(k, v)}" for k, v in result.metrics.items() if v is not None
    )
    if scores:
        parts.append(f"<p><i>Scores:</i> {e(scores)}</p>")
    if result.retrieved:
        items = []
        for source in result.retrieved:
            mark = {True: " ✓ expected", False: "", None: ""}[source.relevant]
            text = f"<br><small>{e(source.text[:400])}</small>" if source.text else ""
            items.append(f"<li>{e(source.document)} · score {source.score:.4f}{mark}{text}</li>")
        parts.append("<p><i>Retrieved:</i></p><ol>" + "".join(items) + "</ol>")
    return "".join(parts)


class RunsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        a = lambda *args: make_action(self, *args)  # noqa: E731
        self.run_action = a("Run…", "Ctrl+R", "Run this set: choose modes, models, the judge")
        self.resume_action = a("Resume", None, "Finish a stopped or interrupted run")
        self.stop_action = a("Stop", "Ctrl+.", "Stop issuing questions; answers in flight finish")
        self.delete_action = a("Delete run", None, "Delete the run and its results")
        row = QHBoxLayout()
        for action in (self.run_action, self.resume_action, self.stop_action, self.delete_action):
            row.addWidget(tool_button(action))
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.progress_label = QLabel()
        row.addWidget(self.progress, 1)
        row.addWidget(self.progress_label)

        self.runs = RunsModel(self)
        self.runs_proxy = sorted_proxy(self.runs, self)
        self.runs_table = record_table(
            self.runs_proxy,
            stretch=RunsModel.MODEL,
            samples=(
                "#999",
                "2026-11-23 12:00",
                "Fine-tuned + RAG",
                "interrupted (resumable)",
                "999 of 999, 9 failed",
                "100% correct (judge)",
            ),
            sort_column=RunsModel.DATE,
            descending=True,
        )
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.results = ResultsModel(self)
        self.results_proxy = sorted_proxy(self.results, self)
        self.results_table = record_table(
            self.results_proxy,
            stretch=ResultsModel.QUESTION,
            samples=("999", "failed", "An answer of some length here", "F1 100%", "notes"),
            sort_column=ResultsModel.NUMBER,
        )
        self.detail = QTextBrowser()
        self.detail.setOpenLinks(False)
        self.detail.setPlaceholderText("Select a question to see its answer, sources and scores.")
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.results_table)
        lower.addWidget(self.detail)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.runs_table, 1)
        upper_layout.addWidget(self.summary)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([240, 460])
        self.empty = EmptyState(
            "No runs of this set yet",
            "A run answers every question in one mode (retrieval alone, the base model, RAG, "
            "fine-tuned, fine-tuned + RAG) and scores the answers. Start one with Run… "
            "(Ctrl+R); the estimate is shown before anything is sent.",
        )
        self.empty.add_action("Run…", self.run_action.trigger)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.stack, 1)
        self.results_table.selectionModel().selectionChanged.connect(self._result_chosen)

    def selected_run(self) -> EvalRun | None:
        rows = self.runs_table.selectionModel().selectedRows()
        return self.runs_proxy.data(rows[0], RECORD_ROLE) if rows else None

    def select_run(self, run_id: int) -> None:
        row = self.runs.row_of(run_id)
        if row is not None:
            select_only(self.runs_table, self.runs_proxy.mapFromSource(self.runs.index(row, 0)))

    def show_summary(self, run: EvalRun | None) -> None:
        if run is None:
            self.summary.setText("")
            return
        shown = [k for k in COMPARED_KEYS if run.metrics.get(k) is not None]
        figures = [f"{metric_label(k)} <b>{figure(k, run.metrics[k])}</b>" for k in shown]
        self.summary.setToolTip(
            "\n".join(f"{metric_label(k)}: {metrics.DESCRIPTIONS.get(k, '')}" for k in shown)
        )
        head = f"#{run.id} {html.escape(run.config.describe())} · {when(run.created_at)}"
        if run.stale:
            head += " · <span style='color:#8a5300'>the set changed since this run</span>"
        self.summary.setText(head + "<br>" + " · ".join(figures))

    def _result_chosen(self) -> None:
        rows = self.results_table.selectionModel().selectedRows()
        if not rows:
            self.detail.clear()
            return
        result = self.results_proxy.data(rows[0], RECORD_ROLE)
        self.detail.setHtml(result_html(result))
