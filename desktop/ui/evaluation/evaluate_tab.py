"""The Evaluate tab's behaviour: eval sets and their questions (with undo), runs started
from one dialog and followed live, comparisons, the sweep. The pages are laid out in
``questions_view``, ``runs_view``, ``compare_view`` and ``sweep_view``; every call to the
evaluation's front door runs on a worker (writes and the re-reads after them on the
store queue, runs one after another on their own queue, so the window never waits)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QShowEvent, QUndoStack
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QInputDialog,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop.context import AppContext
from desktop.evaluation.edits import (
    AddQuestions,
    CreateSet,
    DeleteQuestions,
    DeleteSet,
    RenameSet,
    SetEdit,
    SetFormat,
    UpdateQuestions,
)
from desktop.evaluation.records import EvalQuestion, EvalRun, EvalSet, FormatSpec
from desktop.evaluation.runner import QuestionDone
from desktop.evaluation.service import SAVED_QUESTIONS, SetSnapshot
from desktop.evaluation.sweep import SweepGrid, SweepResult, SweepRow
from desktop.events import Topic
from desktop.progress import Progress
from desktop.ui.common.dialogs import Confirm, ask
from desktop.ui.common.events import EventRelay
from desktop.ui.evaluation.compare_view import CompareView, HistoryView
from desktop.ui.evaluation.dialogs import (
    CsvColumnsDialog,
    DraftDialog,
    FormatDialog,
    RunDialog,
    RunRequest,
)
from desktop.ui.evaluation.questions_view import QuestionsView, select_only
from desktop.ui.evaluation.runs_view import RunsView
from desktop.ui.evaluation.sweep_view import SweepView
from desktop.ui.finetune.import_dialogs import ImportReportDialog
from desktop.ui.finetune.undo import StoreCommand
from desktop.workers import STORE_QUEUE, TaskError, TaskManager, Worker

log = logging.getLogger(__name__)

RUN_QUEUE = "evaluation-runs"
"""Runs one after another: each already keeps its own requests in flight."""
SWEEP_QUEUE = "evaluation-sweep"
RELOAD_DELAY_MS = 200
PROGRESS_EVERY_MS = 150
"""A progress bar repaints at once on each new value (Qt does, so that progress shows
even while the GUI thread is busy): a run's progress is shown at most this often."""


class EvaluateTab(QWidget):
    show_requested = Signal()  # a chat answer or a held-out set wants the tab in front
    refreshed = Signal()  # the pages show the store as it is now
    run_finished = Signal(int)  # a run id, once its worker ended
    sweep_finished = Signal(object)  # SweepResult

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.service = context.evaluation()
        self.tasks = tasks
        self.report_error = report_error
        self.snapshot: SetSnapshot | None = None
        self.runs: list[EvalRun] = []
        self.set_id: int | None = None
        self._follow_set: int | None = None
        self._select_question: int | None = None
        self._pending = 0
        self._seq = 0
        self._active: dict[int, Worker] = {}  # run id → its worker, once started
        self._run_workers: list[Worker] = []  # submitted and not finished (queued too)
        self._sweep: Worker | None = None
        self._draft: Worker | None = None
        self._chosen_runs: list[int] = []
        self._select_run: int | None = None
        self._runs_ticked = False  # the user chose the runs to compare (else: latest per mode)
        # Questions the tab asks, as attributes so tests answer them without a dialog.
        self.confirm: Confirm = ask(self)
        self.ask_text: Callable[[str, str, str], str | None] = self._ask_text
        self.choose_open_path: Callable[[], Path | None] = self._choose_open_path
        self.choose_save_path: Callable[[str], Path | None] = self._choose_save_path
        self.map_csv_columns: Callable[[list[str]], dict[str, str] | None] = self._map_csv
        self.ask_run: Callable[[RunDialog], RunRequest | None] = self._ask_run
        self.ask_format: Callable[[FormatDialog], tuple[str, Any] | None] = self._ask_format

        self.questions = QuestionsView()
        self.runs_view = RunsView()
        self.compare = CompareView()
        self.history = HistoryView()
        self.sweep = SweepView()
        self.pages = QTabWidget()
        for page, title in (
            (self.questions, "Questions"),
            (self.runs_view, "Runs"),
            (self.compare, "Compare"),
            (self.history, "Over time"),
            (self.sweep, "Retrieval sweep"),
        ):
            self.pages.addTab(page, title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.reload_timer = QTimer(self)
        self.reload_timer.setSingleShot(True)
        self.reload_timer.setInterval(RELOAD_DELAY_MS)
        self.reload_timer.timeout.connect(self.reload)
        self._progress: Progress | None = None
        self._results: list[tuple[int, Any]] = []  # (run id, QuestionResult) not shown yet
        self._progress_run: int | None = None
        self.progress_timer = QTimer(self)
        self.progress_timer.setInterval(PROGRESS_EVERY_MS)
        self.progress_timer.timeout.connect(self._show_progress)
        self.events = EventRelay(context.events, self)
        for topic in (Topic.EVALUATION, Topic.DATASETS, Topic.LIBRARY):
            self.events.on(topic, self.reload_timer.start, self)
        self._connect()
        self._update_actions()
        self.sweep.set_embedders(self.service.sweep_embedders())
        self.reload()

    def _connect(self) -> None:
        q = self.questions
        for action, slot in (
            (q.new_set_action, self.new_set),
            (q.rename_set_action, self.rename_set),
            (q.delete_set_action, self.delete_set),
            (q.undo_action, self.undo_stack.undo),
            (q.redo_action, self.undo_stack.redo),
            (q.new_question_action, self.new_question),
            (q.delete_action, self.delete_questions),
            (q.import_action, self.import_file),
            (q.export_action, self.export_set),
            (q.draft_action, self.open_draft_dialog),
            (q.format_action, self.choose_format),
            (self.runs_view.run_action, self.open_run_dialog),
            (self.runs_view.resume_action, self.resume_selected),
            (self.runs_view.stop_action, self.stop_runs),
            (self.runs_view.delete_action, self.delete_selected_run),
        ):
            action.triggered.connect(lambda _=False, slot=slot: slot())
        for signal in (self.undo_stack.canUndoChanged, self.undo_stack.canRedoChanged):
            signal.connect(lambda _: self._update_actions())
        q.set_combo.activated.connect(self._set_chosen)
        q.table.selectionModel().selectionChanged.connect(self._question_selected)
        q.editor.applied.connect(self._question_applied)
        self.runs_view.runs_table.selectionModel().selectionChanged.connect(self._run_selected)
        self.compare.runs_chosen.connect(self._runs_ticked_by_user)
        self.sweep.sweep_requested.connect(self.run_sweep)
        self.sweep.stop_requested.connect(self.stop_sweep)
        self.sweep.apply_requested.connect(self.apply_sweep_row)

    # -- state --------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Writes, re-reads, runs, a sweep or a draft still going (tests and quitting)."""
        return bool(
            self._pending
            or self._run_workers
            or self.reload_timer.isActive()
            or (self._sweep is not None)
            or (self._draft is not None)
        )

    @property
    def eval_set(self) -> EvalSet | None:
        if self.snapshot is None:
            return None
        return next((s for s in self.snapshot.sets if s.id == self.set_id), None)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous():
            self.reload_timer.start()

    def _update_actions(self) -> None:
        if not isValid(self.undo_stack):
            return
        q = self.questions
        stack = self.undo_stack
        q.undo_action.setEnabled(stack.canUndo())
        q.redo_action.setEnabled(stack.canRedo())
        has_set = self.set_id is not None
        has_questions = bool(self.snapshot and self.snapshot.questions)
        for action in (
            q.rename_set_action,
            q.delete_set_action,
            q.new_question_action,
            q.draft_action,
            q.format_action,
        ):
            action.setEnabled(has_set)
        q.export_action.setEnabled(has_questions)
        q.delete_action.setEnabled(bool(q.selected_questions()))
        self.runs_view.run_action.setEnabled(has_questions)
        run = self.runs_view.selected_run()
        self.runs_view.resume_action.setEnabled(
            run is not None and run.resumable and run.id not in self._active
        )
        self.runs_view.delete_action.setEnabled(run is not None and run.id not in self._active)
        self.runs_view.stop_action.setEnabled(bool(self._run_workers))

    # -- reading ------------------------------------------------------------------------

    def reload(self) -> Worker:
        wanted = self._follow_set if self._follow_set is not None else self.set_id
        self._follow_set = None
        self._seq += 1
        seq = self._seq
        self._pending += 1
        service = self.service

        def read() -> tuple[SetSnapshot, list[EvalRun], Any]:
            snapshot = service.snapshot(wanted)
            runs = service.runs(snapshot.set_id) if snapshot.set_id is not None else []
            sweeps = service.sweeps(snapshot.set_id) if snapshot.set_id is not None else []
            return snapshot, runs, sweeps[0] if sweeps else None

        worker = self.tasks.run(read, title="Reading the eval sets", queue=STORE_QUEUE)
        worker.signals.result.connect(lambda found: self._show(found, seq))
        worker.signals.error.connect(lambda e: self.report_error("Reading the eval sets", e))
        worker.signals.finished.connect(self._done)
        return worker

    def _done(self) -> None:
        self._pending -= 1

    def _show(self, found: tuple[SetSnapshot, list[EvalRun], Any], seq: int) -> None:
        if seq != self._seq:
            return
        snapshot, runs, sweep = found
        switched = snapshot.set_id != self.set_id
        self.snapshot = snapshot
        self.set_id = snapshot.set_id
        self.runs = runs
        self._show_sets()
        self._show_questions(switched)
        self._show_runs()
        self.history.show_runs(runs)
        if sweep is not None:
            self.sweep.show_result(_sweep_result(sweep.data))
        elif switched:
            self.sweep.show_result(None)
        self._update_actions()
        self.refreshed.emit()

    def _show_sets(self) -> None:
        assert self.snapshot is not None
        combo = self.questions.set_combo
        combo.blockSignals(True)
        combo.clear()
        for eval_set in self.snapshot.sets:
            combo.addItem(f"{eval_set.name} ({eval_set.question_count:,})", eval_set.id)
        if self.set_id is not None:
            combo.setCurrentIndex(combo.findData(self.set_id))
        combo.setEnabled(bool(self.snapshot.sets))
        if not self.snapshot.sets:
            combo.addItem("No eval sets")
        combo.blockSignals(False)
        eval_set = self.eval_set
        self.questions.format_label.setText(
            f"Answers must be: {eval_set.format.describe()}."
            if eval_set and eval_set.format.declared
            else ""
        )

    def _show_questions(self, switched: bool) -> None:
        assert self.snapshot is not None
        q = self.questions
        selected = [x.id for x in q.selected_questions()] if not switched else []
        unchanged = (
            not switched
            and list(q.model.rows()) == self.snapshot.questions
            and q.model.leaks == self.snapshot.leaks
        )
        if not unchanged:  # a run's start and end re-read the set: no reset for nothing
            q.model.set_questions(self.snapshot.questions, self.snapshot.leaks)
        if not self.snapshot.sets:
            q.stack.setCurrentWidget(q.no_sets)
        elif not self.snapshot.questions:
            q.stack.setCurrentWidget(q.no_questions)
        else:
            q.stack.setCurrentWidget(q.splitter)
        wanted = self._select_question or (selected[0] if selected else None)
        self._select_question = None
        if wanted is not None:
            q.select_question(wanted)
        elif q.model.rowCount():
            select_only(q.table, q.proxy.index(0, 0))
        else:
            q.editor.show_question(None, None)
        leaks = len(self.snapshot.leaks)
        q.leaks_label.setVisible(bool(leaks))
        q.leaks_label.setText(
            f"{leaks} question(s) are also training questions in a dataset (see Checks): a "
            "model fine-tuned on them would be measured on its memory."
        )

    def _show_runs(self) -> None:
        view = self.runs_view
        previous = view.selected_run()
        wanted = self._select_run or (previous.id if previous is not None else None)
        self._select_run = None
        view.runs.active = set(self._active)
        view.runs.set_items(self.runs)
        view.stack.setCurrentIndex(1 if self.runs else 0)
        if wanted is not None and view.runs.row_of(wanted) is not None:
            view.select_run(wanted)
        elif self.runs:
            select_only(view.runs_table, view.runs_proxy.index(0, 0))
        else:
            view.results.set_results(None, [])
            view.show_summary(None)
        known = {r.id for r in self.runs}
        chosen = [i for i in self._chosen_runs if i in known] if self._runs_ticked else []
        chosen = chosen or _latest_per_mode(self.runs)
        self._chosen_runs = chosen
        self.compare.show_runs(self.runs, chosen)
        if len(chosen) >= 2:
            self._compare_runs(chosen)

    def _set_chosen(self, index: int) -> None:
        set_id = self.questions.set_combo.itemData(index)
        if set_id is not None and set_id != self.set_id:
            self.select_set(set_id)

    def select_set(self, set_id: int) -> Worker:
        self._follow_set = set_id
        self._chosen_runs = []
        self._runs_ticked = False
        return self.reload()

    def _question_selected(self) -> None:
        chosen = self.questions.selected_questions()
        leaks = self.snapshot.leaks if self.snapshot else {}
        if len(chosen) == 1:
            self.questions.editor.show_question(chosen[0], leaks.get(chosen[0].id or -1))
        else:
            self.questions.editor.show_question(None, None)
        self._update_actions()

    # -- changes (undoable) ------------------------------------------------------------------

    def push(self, edit: SetEdit, message: str | None = None) -> StoreCommand:
        command = StoreCommand(edit, self._submit, done_message=message)
        self.undo_stack.push(command)
        return command

    def _submit(self, command: StoreCommand, forward: bool) -> None:
        edit: SetEdit = command.operation  # type: ignore[assignment]
        self._pending += 1
        service = self.service
        title = edit.text if forward else f"Undo {edit.text[0].lower()}{edit.text[1:]}"
        worker = self.tasks.run(
            lambda: service.apply(edit, forward), title=title, queue=STORE_QUEUE
        )
        worker.signals.result.connect(lambda _: self._applied(command, forward))
        worker.signals.error.connect(lambda e: self._apply_failed(command, forward, title, e))
        worker.signals.finished.connect(self._done)

    def _applied(self, command: StoreCommand, forward: bool) -> None:
        edit: SetEdit = command.operation  # type: ignore[assignment]
        if edit.set_id is not None and forward:
            self._follow_set = edit.set_id
        ids = edit.affected_ids(forward)
        if ids:
            self._select_question = ids[0]
        text = command.done_message if forward and command.done_message else None
        self.questions.set_message(
            text or (f"{edit.text}." if forward else f"Undone: {edit.text}.")
        )
        self.reload_timer.start()

    def _apply_failed(
        self, command: StoreCommand, forward: bool, title: str, error: TaskError
    ) -> None:
        self.report_error(title, error)
        stack = self.undo_stack
        if (
            forward
            and isValid(command)
            and stack.index() > 0
            and stack.command(stack.index() - 1) is command
        ):
            command.setObsolete(True)  # nothing happened: nothing to undo
            stack.undo()

    def new_set(self) -> StoreCommand | None:
        name = self.ask_text("New eval set", "Name of the new eval set:", "")
        if not name or not name.strip():
            return None
        if self.snapshot and any(
            s.name.lower() == name.strip().lower() for s in self.snapshot.sets
        ):
            self.questions.set_message(f"An eval set named “{name.strip()}” exists already.")
            return None
        return self.push(CreateSet(" ".join(name.split())))

    def rename_set(self) -> StoreCommand | None:
        eval_set = self.eval_set
        if eval_set is None:
            return None
        name = self.ask_text("Rename eval set", "New name:", eval_set.name)
        if not name or " ".join(name.split()) == eval_set.name:
            return None
        return self.push(RenameSet(eval_set.id, " ".join(name.split())))

    def delete_set(self) -> StoreCommand | None:
        eval_set = self.eval_set
        if eval_set is None:
            return None
        if eval_set.question_count and not self.confirm(
            "Delete eval set",
            f"Delete “{eval_set.name}” and its {eval_set.question_count} question(s)? Its runs "
            "are kept. Undo (Ctrl+Z) brings the set back.",
        ):
            return None
        return self.push(DeleteSet(eval_set.id, eval_set.name))

    def new_question(self) -> StoreCommand | None:
        if self.set_id is None:
            return None
        return self.push(
            AddQuestions(self.set_id, [EvalQuestion("New question")], text="New question")
        )

    def delete_questions(self) -> StoreCommand | None:
        chosen = [q.id for q in self.questions.selected_questions() if q.id is not None]
        if self.set_id is None or not chosen:
            return None
        return self.push(DeleteQuestions(self.set_id, chosen))

    def _question_applied(self, question: EvalQuestion) -> None:
        if self.set_id is not None:
            self.push(
                UpdateQuestions(self.set_id, [question], f"Edit question {question.position + 1}")
            )

    def add_question_from_chat(
        self, question: str, answer: str, sources: Sequence[Any] = ()
    ) -> StoreCommand:
        """A chat turn as a question of the current set (or of “Saved from chat”), selected
        so its reference can be checked at once."""
        made = self.service.question_from_chat(question, answer, list(sources))
        edit = AddQuestions(
            self.set_id,
            [made],
            text="Save a chat answer as an eval question",
            create_name=None if self.set_id is not None else SAVED_QUESTIONS,
        )
        self.pages.setCurrentWidget(self.questions)
        self.show_requested.emit()
        return self.push(
            edit, "Saved as an eval question: check its reference answer before you run the set."
        )

    # -- files ----------------------------------------------------------------------------

    def import_file(
        self, path: Path | None = None, mapping: dict[str, str] | None = None
    ) -> Worker | None:
        path = path or self.choose_open_path()
        if path is None:
            return None
        service = self.service
        set_name = self.eval_set.name if self.eval_set else Path(path).stem
        if Path(path).suffix.lower() in (".csv", ".tsv") and mapping is None:
            columns = service.csv_columns(Path(path))
            mapping = self.map_csv_columns(columns)
            if mapping is None:
                return None
        self._pending += 1
        worker = self.tasks.run(
            lambda: service.import_file(Path(path), set_name, "auto", mapping=mapping),
            title=f"Importing {Path(path).name}",
            queue=STORE_QUEUE,
        )
        worker.signals.result.connect(self._imported)
        worker.signals.error.connect(lambda e: self.report_error(f"Importing {Path(path).name}", e))
        worker.signals.finished.connect(self._done)
        return worker

    def _imported(self, outcome: Any) -> None:
        problems = len(outcome.problems)
        self.questions.set_message(
            f"Imported {outcome.imported} question(s) into “{outcome.set_name}”"
            + (
                f"; {problems} line(s) could not be read (the report lists them)."
                if problems
                else "."
            ),
            warning=bool(problems),
        )
        found = next(
            (
                s
                for s in (self.snapshot.sets if self.snapshot else ())
                if s.name == outcome.set_name
            ),
            None,
        )
        if found is None:
            self._follow_set = None
        self.reload_timer.start()
        if problems:
            self.report_dialog = ImportReportDialog(outcome, self)
            self.report_dialog.show()

    def export_set(self, path: Path | None = None) -> Worker | None:
        eval_set = self.eval_set
        if eval_set is None:
            return None
        target = path or self.choose_save_path(f"{eval_set.name}.jsonl")
        if target is None:
            return None
        service = self.service
        worker = self.tasks.run(
            lambda: service.export(eval_set.id, Path(target)), title="Exporting"
        )
        worker.signals.result.connect(
            lambda n: self.questions.set_message(f"Wrote {n} question(s) to {target}.")
        )
        worker.signals.error.connect(lambda e: self.report_error("Exporting the eval set", e))
        return worker

    # -- format, hold-out ------------------------------------------------------------------

    def choose_format(self) -> None:
        eval_set = self.eval_set
        if eval_set is None:
            return
        service = self.service
        worker = self.tasks.run(service.dataset_names, title="Listing datasets")
        worker.signals.result.connect(lambda names: self._format_dialog(eval_set, names))
        worker.signals.error.connect(lambda e: self.report_error("Listing datasets", e))

    def _format_dialog(self, eval_set: EvalSet, datasets: list[str]) -> None:
        dialog = FormatDialog(eval_set.format, datasets, self)
        chosen = self.ask_format(dialog)
        if chosen is None:
            return
        kind, value = chosen
        if kind == "format":
            self.push(SetFormat(eval_set.id, value))
            return
        service = self.service
        worker = self.tasks.run(lambda: service.infer_format(value), title="Reading the dataset")
        worker.signals.result.connect(lambda found: self._inferred(eval_set, found))
        worker.signals.error.connect(lambda e: self.report_error("Reading the dataset", e))

    def _inferred(self, eval_set: EvalSet, found: tuple[FormatSpec, str]) -> None:
        spec, message = found
        if spec.declared:
            self.push(SetFormat(eval_set.id, spec), f"Answer format: {message}.")
        else:
            self.questions.set_message(f"No format set: {message}.", warning=True)

    def hold_out(self, dataset: str) -> Worker:
        """A dataset's validation split as a new eval set (the dataset builder's hook)."""
        service = self.service
        self.show_requested.emit()
        self.pages.setCurrentWidget(self.questions)
        self._pending += 1
        worker = self.tasks.run(
            lambda: service.hold_out(dataset), title="Holding out", queue=STORE_QUEUE
        )
        worker.signals.result.connect(self._held_out)
        worker.signals.error.connect(lambda e: self.report_error("Holding out an eval set", e))
        worker.signals.finished.connect(self._done)
        return worker

    def _held_out(self, made: tuple[EvalSet, int]) -> None:
        eval_set, count = made
        self.questions.set_message(
            f"Made “{eval_set.name}” from {count} validation example(s); its answers must "
            f"keep the dataset's format ({eval_set.format.describe()})."
        )
        self.select_set(eval_set.id)

    # -- drafting ---------------------------------------------------------------------------

    def open_draft_dialog(self) -> DraftDialog | None:
        if self.set_id is None:
            return None
        dialog = DraftDialog(self.context.settings.chat_model, self)
        dialog.start_requested.connect(lambda n, model: self._start_draft(dialog, n, model))
        dialog.stop_requested.connect(lambda: self._draft.cancel() if self._draft else None)
        dialog.accepted.connect(lambda: self._keep_drafts(dialog))
        dialog.rejected.connect(lambda: self._draft.cancel() if self._draft else None)
        self.draft_dialog = dialog
        dialog.show()
        return dialog

    def _start_draft(self, dialog: DraftDialog, count: int, model: str) -> None:
        service = self.service
        worker = Worker(
            lambda cancel: service.draft(count, model=model or None, cancel=cancel),
            title="Drafting questions",
        )
        worker.signals.progress.connect(lambda event: self._draft_event(dialog, event))
        worker.signals.error.connect(lambda e: self.report_error("Drafting questions", e))
        worker.signals.finished.connect(lambda: self._draft_done(dialog))
        self._draft = worker
        dialog.set_running(True)
        self.tasks.submit(worker)

    def _draft_event(self, dialog: DraftDialog, event: object) -> None:
        from desktop.evaluation.drafting import DraftedQuestion
        from desktop.finetune.generate import ChunkFailure

        if not isValid(dialog):
            return
        if isinstance(event, Progress):
            dialog.progress.setRange(0, event.total or 0)
            dialog.progress.setValue(event.done)
            dialog.progress.setFormat(event.message)
        elif isinstance(event, DraftedQuestion):
            dialog.add_draft(event)
        elif isinstance(event, ChunkFailure):
            dialog.status.setText(f"A chunk gave no question: {event.reason}")

    def _draft_done(self, dialog: DraftDialog) -> None:
        self._draft = None
        if isValid(dialog):
            dialog.set_running(False)

    def _keep_drafts(self, dialog: DraftDialog) -> StoreCommand | None:
        kept = [d.question for d in dialog.kept()]
        if not kept or self.set_id is None:
            return None
        return self.push(
            AddQuestions(self.set_id, kept, text=f"Keep {len(kept)} drafted question(s)")
        )

    # -- runs ---------------------------------------------------------------------------

    def open_run_dialog(self) -> list[Worker]:
        eval_set = self.eval_set
        if eval_set is None or not eval_set.question_count:
            return []
        settings = self.context.settings
        service = self.service
        # Listed on a worker (it asks the workspace's jobs); the dialog fills in when they come.
        fine_tuned = self.tasks.run(service.fine_tuned_models, title="Listing fine-tuned models")
        dialog = RunDialog(
            eval_set.name,
            eval_set.question_count,
            chat_model=settings.chat_model,
            fine_tuned=(),
            search_mode=settings.search_mode,
            k=settings.search_k,
            concurrency=settings.eval_concurrency,
            parent=self,
        )
        fine_tuned.signals.result.connect(
            lambda models: dialog.fine_tuned.addItems(models) if isValid(dialog) else None
        )
        dialog.estimate_wanted.connect(lambda request: self._estimate(dialog, request))
        self.run_dialog = dialog
        request = self.ask_run(dialog)
        if request is None:
            return []
        return self.start_runs(request)

    def _estimate(self, dialog: RunDialog, request: RunRequest) -> None:
        eval_set = self.eval_set
        if eval_set is None or not request.modes:
            return
        service = self.service

        def estimate() -> str:
            totals = [
                service.estimate(eval_set.id, self._config(mode, request)) for mode in request.modes
            ]
            tokens = sum(t.total_tokens for t in totals)
            costs = [t.cost_usd for t in totals]
            questions = sum(t.questions for t in totals)
            cost = (
                f"about ${sum(c for c in costs if c is not None):,.2f}"
                if all(c is not None for c in costs)
                else "cost unknown (a model without a known price)"
            )
            return (
                f"Estimate: {len(totals)} run(s), {questions:,} questions, about {tokens:,} "
                f"tokens, {cost}."
            )

        worker = self.tasks.run(estimate, title="Estimating")
        worker.signals.result.connect(
            lambda text: dialog.show_estimate(text) if isValid(dialog) else None
        )
        worker.signals.error.connect(
            lambda e: dialog.show_estimate(f"No estimate: {e.message}") if isValid(dialog) else None
        )

    def _config(self, mode: str, request: RunRequest) -> Any:
        return self.service.config(
            mode,
            model=request.model_for(mode) or None,
            judge_model=request.judge_model if mode != "retrieval" else "",
            judge_prompt=request.judge_prompt,
            system_prompt=request.system_prompt,
            k=request.k,
            search_mode=request.search_mode,
            limit=request.limit,
            concurrency=request.concurrency,
        )

    def start_runs(self, request: RunRequest) -> list[Worker]:
        """One run per mode, one after another on the runs' queue; each shows live."""
        eval_set = self.eval_set
        if eval_set is None:
            return []
        self.pages.setCurrentWidget(self.runs_view)
        return [self._start_one(eval_set.id, mode, request) for mode in request.modes]

    def _start_one(self, set_id: int, mode: str, request: RunRequest) -> Worker:
        service = self.service
        state: dict[str, int] = {}

        def work(cancel: Any) -> Any:
            run = service.start_run(set_id, self._config(mode, request))
            state["run"] = run.id
            yield ("started", run.id)
            return (yield from service.run_questions(run.id, cancel))

        return self._submit_run(
            Worker(work, title=f"Evaluating ({mode})", stops_itself=True), state
        )

    def resume_selected(self) -> Worker | None:
        run = self.runs_view.selected_run()
        if run is None or not run.resumable or run.id in self._active:
            return None
        service = self.service
        state = {"run": run.id}
        run_id = run.id

        def work(cancel: Any) -> Any:
            yield ("started", run_id)
            return (yield from service.run_questions(run_id, cancel))

        return self._submit_run(Worker(work, title="Resuming a run", stops_itself=True), state)

    def _submit_run(self, worker: Worker, state: dict[str, int]) -> Worker:
        worker.signals.progress.connect(lambda event: self._run_event(worker, state, event))
        worker.signals.error.connect(lambda e: self.report_error("Running the eval set", e))
        worker.signals.finished.connect(lambda: self._run_done(worker, state))
        self._run_workers.append(worker)
        self.tasks.submit(worker, queue=RUN_QUEUE)
        self._update_actions()
        return worker

    def _run_event(self, worker: Worker, state: dict[str, int], event: object) -> None:
        view = self.runs_view
        if isinstance(event, tuple) and event and event[0] == "started":
            self._active[event[1]] = worker
            self._select_run = event[1]  # follow the run that started
            view.runs.active = set(self._active)
            view.progress.show()
            view.progress.setValue(0)
            self.reload_timer.start()
        elif isinstance(event, QuestionDone):
            self._results.append((state.get("run", -1), event.result))
            if not self.progress_timer.isActive():
                self.progress_timer.start()
            return
        elif isinstance(event, Progress):
            self._progress, self._progress_run = event, state.get("run")
            if not self.progress_timer.isActive():
                self.progress_timer.start()
            return
        self._update_actions()

    def _show_progress(self) -> None:
        """The results and the progress that came since the last time, in one go."""
        view = self.runs_view
        results, self._results = self._results, []
        selected = view.selected_run()
        shown = [r for run, r in results if selected is not None and run == selected.id]
        if shown:
            view.results.add_results(shown)
        counts: dict[int, list[int]] = {}
        for run, result in results:
            answered_failed = counts.setdefault(run, [0, 0])
            answered_failed[0 if result.ok else 1] += 1
        for run, (answered, failed) in counts.items():
            view.runs.count_results(run, answered, failed)
        event, bar = self._progress, view.progress
        if event is None:
            if not results:
                self.progress_timer.stop()
            return
        self._progress = None
        bar.setRange(0, event.total or 0)
        bar.setValue(event.done)
        bar.setFormat(f"Run #{self._progress_run or '?'}: {event.message}")

    def _run_done(self, worker: Worker, state: dict[str, int]) -> None:
        run_id = state.get("run")
        if worker in self._run_workers:
            self._run_workers.remove(worker)
        if run_id is not None:
            self._active.pop(run_id, None)
        self.runs_view.runs.active = set(self._active)
        if not self._active:
            self._show_progress()
            self.progress_timer.stop()
            self._progress = None
            self.runs_view.progress.hide()
        self.reload_timer.start()  # merged with the reload the run's own event asks for
        self._update_actions()
        if run_id is not None:
            self.run_finished.emit(run_id)

    def stop_runs(self) -> None:
        """Queued runs do not start; the running one stops issuing questions."""
        for worker in list(self._run_workers):
            worker.cancel()
        self.runs_view.progress_label.setText("Stopping: answers in flight finish first…")

    def delete_selected_run(self) -> Worker | None:
        run = self.runs_view.selected_run()
        if run is None or run.id in self._active:
            return None
        if not self.confirm("Delete run", f"Delete run #{run.id} and its {run.done} result(s)?"):
            return None
        service = self.service
        self._pending += 1
        worker = self.tasks.run(
            lambda: service.delete_run(run.id), title="Deleting a run", queue=STORE_QUEUE
        )
        worker.signals.error.connect(lambda e: self.report_error("Deleting the run", e))
        worker.signals.finished.connect(self._done)
        return worker

    def _run_selected(self) -> None:
        run = self.runs_view.selected_run()
        self.runs_view.show_summary(run)
        self._update_actions()
        if run is None:
            self.runs_view.results.set_results(None, [])
            return
        service = self.service
        worker = self.tasks.run(lambda: service.run_view(run.id), title="Reading a run")
        worker.signals.result.connect(self._show_run_view)
        worker.signals.error.connect(lambda e: self.report_error("Reading the run", e))

    def _show_run_view(self, view: Any) -> None:
        selected = self.runs_view.selected_run()
        if selected is not None and selected.id == view.run.id:
            self.runs_view.results.set_results(view.run, view.results)

    def _runs_ticked_by_user(self, run_ids: list[int]) -> None:
        self._runs_ticked = True
        self._compare_runs(run_ids)

    def _compare_runs(self, run_ids: list[int]) -> None:
        self._chosen_runs = list(run_ids)
        if len(run_ids) < 1:
            return
        service = self.service
        worker = self.tasks.run(lambda: service.compare(run_ids), title="Comparing runs")
        worker.signals.result.connect(self.compare.show_comparison)
        worker.signals.error.connect(lambda e: self.report_error("Comparing runs", e))

    # -- the sweep ----------------------------------------------------------------------------

    def run_sweep(self, grid: SweepGrid) -> Worker | None:
        eval_set = self.eval_set
        if eval_set is None or self._sweep is not None:
            return None
        service = self.service
        worker = Worker(lambda cancel: service.sweep(eval_set.id, grid, cancel), title="Sweeping")
        worker.signals.progress.connect(self._sweep_progress)
        worker.signals.result.connect(self._swept)
        worker.signals.error.connect(lambda e: self.report_error("The retrieval sweep", e))
        worker.signals.finished.connect(self._sweep_done)
        self._sweep = worker
        self.sweep.set_running(True)
        self.tasks.submit(worker, queue=SWEEP_QUEUE)
        return worker

    def _sweep_progress(self, event: object) -> None:
        if isinstance(event, Progress):
            bar = self.sweep.progress
            bar.setRange(0, event.total or 0)
            bar.setValue(event.done)
            bar.setFormat(event.message)

    def _swept(self, result: SweepResult) -> None:
        self.sweep.show_result(result)
        self.sweep_finished.emit(result)

    def _sweep_done(self) -> None:
        self._sweep = None
        self.sweep.set_running(False)

    def stop_sweep(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()

    def apply_sweep_row(self, row: SweepRow) -> Worker | None:
        if not self.confirm(
            "Apply this configuration",
            f"Re-chunk the whole library with {row.label()}? Chunks that change need "
            "embedding again; search will use this mode and k.",
        ):
            return None
        service = self.service
        worker = self.tasks.run(
            lambda: service.apply_configuration(row),
            title="Applying the configuration",
            queue=STORE_QUEUE,
        )
        worker.signals.result.connect(lambda text: self.sweep.summary.setText(text))
        worker.signals.error.connect(lambda e: self.report_error("Applying the configuration", e))
        return worker

    # -- the default dialogs ---------------------------------------------------------------

    def _ask_text(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self, title, label, text=text)
        return value if ok else None

    def _choose_open_path(self) -> Path | None:
        chosen, _ = QFileDialog.getOpenFileName(
            self,
            "Import questions",
            str(Path.home()),
            "Eval sets (*.jsonl *.json *.csv *.tsv);;All files (*)",
        )
        return Path(chosen) if chosen else None

    def _choose_save_path(self, name: str) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Export the eval set", str(Path.home() / name), "JSON Lines (*.jsonl)"
        )
        return Path(chosen) if chosen else None

    def _map_csv(self, columns: list[str]) -> dict[str, str] | None:
        dialog = CsvColumnsDialog(columns, self)
        return dialog.mapping() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _ask_run(self, dialog: RunDialog) -> RunRequest | None:
        return dialog.request() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _ask_format(self, dialog: FormatDialog) -> tuple[str, Any] | None:
        return dialog.chosen() if dialog.exec() == QDialog.DialogCode.Accepted else None


def _latest_per_mode(runs: Sequence[EvalRun]) -> list[int]:
    """The latest run of each mode with answers, a complete one before a partial one."""
    latest: dict[str, EvalRun] = {}
    for run in sorted(runs, key=lambda r: (r.status == "complete", r.created_at)):
        if run.answered:
            latest[run.mode] = run  # later in this order wins
    return [r.id for r in sorted(latest.values(), key=lambda r: r.created_at)][-4:]


def _sweep_result(data: Any) -> SweepResult:
    grid = data.get("grid") or {}
    return SweepResult(
        tuple(SweepRow.from_json(r) for r in data.get("rows") or ()),
        SweepGrid(
            tuple(grid.get("strategies") or ()),
            tuple(grid.get("sizes") or ()),
            tuple(grid.get("embedders") or ()),
            tuple(grid.get("modes") or ()),
            tuple(grid.get("ks") or ()),
            float(grid.get("vector_weight") or 0.5),
        ),
        int(data.get("questions") or 0),
        int(data.get("skipped") or 0),
        dict(data.get("builds") or {}),
        float(data.get("seconds") or 0.0),
    )
