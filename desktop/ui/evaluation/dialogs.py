"""The Evaluate tab's dialogs: starting runs (with the estimate before anything is sent),
the answer format a set declares, the columns of a CSV import, and the review of drafted
questions. Each returns plain values; the tab's controller does the work on workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.evaluation.drafting import DraftedQuestion
from desktop.evaluation.files import FIELD_NAMES
from desktop.evaluation.formats import SchemaError, check_schema
from desktop.evaluation.judge import DEFAULT_JUDGE_PROMPT
from desktop.evaluation.records import MODE_LABELS, FormatSpec

ANSWER_MODES = ("base", "rag", "ft", "ft-rag")


@dataclass(frozen=True)
class RunRequest:
    """What the run dialog asks for: one run per mode, the rest shared."""

    modes: tuple[str, ...]
    model: str
    fine_tuned_model: str
    judge_model: str
    judge_prompt: str
    system_prompt: str
    search_mode: str
    k: int
    limit: int | None
    concurrency: int

    def model_for(self, mode: str) -> str:
        if mode == "retrieval":
            return ""
        return self.fine_tuned_model if mode in ("ft", "ft-rag") else self.model


def editable_combo(items: Sequence[str], current: str, placeholder: str = "") -> QComboBox:
    combo = QComboBox()
    combo.setEditable(True)
    combo.addItems(list(dict.fromkeys(i for i in items if i)))
    combo.setCurrentText(current)
    if placeholder and combo.lineEdit() is not None:
        combo.lineEdit().setPlaceholderText(placeholder)
    return combo


class RunDialog(QDialog):
    """Modes (all four at once with one button), models, the judge and its prompt, the
    retrieval settings; the estimate is shown (and kept current) before anything starts."""

    estimate_wanted = Signal(object)  # RunRequest

    def __init__(
        self,
        set_name: str,
        questions: int,
        *,
        chat_model: str,
        fine_tuned: Sequence[str],
        search_mode: str,
        k: int,
        concurrency: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Run “{set_name}”")
        self.mode_boxes: dict[str, QCheckBox] = {}
        modes = QHBoxLayout()
        for mode, label in MODE_LABELS.items():
            box = QCheckBox(label)
            box.setChecked(mode == "rag")
            self.mode_boxes[mode] = box
            modes.addWidget(box)
        self.all_button = QPushButton("All four modes")
        self.all_button.setToolTip("Base model, Base + RAG, Fine-tuned and Fine-tuned + RAG")
        self.all_button.clicked.connect(self.choose_all_four)
        modes.addWidget(self.all_button)
        self.model = editable_combo([chat_model], chat_model)
        self.fine_tuned = editable_combo(
            fine_tuned, fine_tuned[0] if fine_tuned else "", "ft:… (no fine-tuned model yet)"
        )
        self.judge = editable_combo(["", chat_model], "", "none: offline metrics only")
        self.judge_prompt = QPlainTextEdit(DEFAULT_JUDGE_PROMPT)
        self.judge_prompt.setTabChangesFocus(True)
        self.judge_prompt.setToolTip(
            "What the judge model is asked; {question}, {reference}, {answer} and {sources} "
            "are replaced. Kept with each run."
        )
        self.judge_prompt.setMinimumHeight(90)
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setTabChangesFocus(True)
        self.system_prompt.setPlaceholderText("Sent with every question (empty: the chat's own)")
        self.system_prompt.setMaximumHeight(60)
        self.search_mode = QComboBox()
        self.search_mode.addItems(["hybrid", "vector", "lexical"])
        self.search_mode.setCurrentText(search_mode)
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setValue(k)
        self.limit = QSpinBox()
        self.limit.setRange(0, max(1, questions))
        self.limit.setSpecialValueText(f"all {questions}")
        self.limit.setToolTip("Only the first N questions (a quick check)")
        self.concurrency = QSpinBox()
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(concurrency)
        self.concurrency.setToolTip("Questions in flight at once (setting eval_concurrency)")
        self.estimate_label = QLabel("Estimating…")
        self.estimate_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Modes:", modes)
        form.addRow("Model:", self.model)
        form.addRow("Fine-tuned model:", self.fine_tuned)
        form.addRow("Judge model:", self.judge)
        form.addRow("Judge prompt:", self.judge_prompt)
        form.addRow("System prompt:", self.system_prompt)
        search = QHBoxLayout()
        search.addWidget(self.search_mode)
        search.addWidget(QLabel("k"))
        search.addWidget(self.k)
        search.addStretch(1)
        form.addRow("Retrieval:", search)
        form.addRow("Questions:", self.limit)
        form.addRow("In flight:", self.concurrency)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.problem = QLabel()
        self.problem.setStyleSheet("color:#b71c1c;")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.estimate_label)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(lambda: self.estimate_wanted.emit(self.request()))
        for box in self.mode_boxes.values():
            box.toggled.connect(self._changed)
        for combo in (self.model, self.fine_tuned, self.judge, self.search_mode):
            combo.currentTextChanged.connect(self._changed)
        for spin in (self.k, self.limit):
            spin.valueChanged.connect(self._changed)
        self._timer.start()

    def choose_all_four(self) -> None:
        for mode, box in self.mode_boxes.items():
            box.setChecked(mode in ANSWER_MODES)

    def _changed(self) -> None:
        self.problem.setText(self.problem_text())
        self._timer.start()

    def problem_text(self) -> str:
        request = self.request()
        if not request.modes:
            return "Choose at least one mode."
        if any(m in ("ft", "ft-rag") for m in request.modes) and not request.fine_tuned_model:
            return "The fine-tuned modes need a fine-tuned model."
        if request.judge_model and "{answer}" not in request.judge_prompt:
            return "The judge prompt needs {question} and {answer}."
        return ""

    def request(self) -> RunRequest:
        return RunRequest(
            modes=tuple(m for m, box in self.mode_boxes.items() if box.isChecked()),
            model=self.model.currentText().strip(),
            fine_tuned_model=self.fine_tuned.currentText().strip(),
            judge_model=self.judge.currentText().strip(),
            judge_prompt=self.judge_prompt.toPlainText(),
            system_prompt=self.system_prompt.toPlainText().strip(),
            search_mode=self.search_mode.currentText(),
            k=self.k.value(),
            limit=self.limit.value() or None,
            concurrency=self.concurrency.value(),
        )

    def show_estimate(self, text: str) -> None:
        self.estimate_label.setText(text)

    def _accept(self) -> None:
        problem = self.problem_text()
        if problem:
            self.problem.setText(problem)
            return
        self.accept()


class FormatDialog(QDialog):
    """The format answers must keep: none, JSON, a JSON Schema, or a dataset's template."""

    def __init__(
        self, current: FormatSpec, datasets: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Answer format")
        self.kind = QComboBox()
        for label, value in (
            ("No format", "none"),
            ("Valid JSON", "json"),
            ("JSON valid against a schema", "json_schema"),
            ("The template of a dataset's replies", "template"),
        ):
            self.kind.addItem(label, value)
        self.kind.setCurrentIndex(max(0, self.kind.findData(current.kind)))
        self.schema = QPlainTextEdit(
            json.dumps(dict(current.schema), indent=2) if current.schema else ""
        )
        self.schema.setTabChangesFocus(True)
        self.schema.setPlaceholderText(
            '{"type": "object", "required": ["answer"], "properties": {"answer": '
            '{"type": "string"}}}'
        )
        self.dataset = QComboBox()
        self.dataset.addItems(list(datasets))
        self.note = QLabel(
            "Supported in schemas: type, enum, const, required, properties, "
            "additionalProperties, items, minItems, maxItems, minLength, maxLength, minimum, "
            "maximum."
        )
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#555;")
        self.problem = QLabel()
        self.problem.setStyleSheet("color:#b71c1c;")
        self.problem.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Answers must be:", self.kind)
        form.addRow("JSON Schema:", self.schema)
        form.addRow("Dataset:", self.dataset)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.schema.setEnabled(kind == "json_schema")
        self.dataset.setEnabled(kind == "template" and self.dataset.count() > 0)

    def chosen(self) -> tuple[str, FormatSpec | str]:
        """("format", spec) or ("dataset", name): a template is inferred on a worker."""
        kind = self.kind.currentData()
        if kind == "template":
            return "dataset", self.dataset.currentText()
        if kind == "json_schema":
            schema = json.loads(self.schema.toPlainText())
            check_schema(schema)
            return "format", FormatSpec("json_schema", schema=schema)
        return "format", FormatSpec(kind) if kind == "json" else FormatSpec()

    def _accept(self) -> None:
        if self.kind.currentData() == "template" and not self.dataset.currentText():
            self.problem.setText("There is no dataset to take a template from.")
            return
        try:
            self.chosen()
        except json.JSONDecodeError as exc:
            self.problem.setText(f"The schema is not JSON: {exc.msg} (line {exc.lineno}).")
            return
        except SchemaError as exc:
            self.problem.setText(f"The schema cannot be checked: {exc}.")
            return
        self.accept()


class CsvColumnsDialog(QDialog):
    """Which CSV column holds each part (question and answer required)."""

    PARTS = (
        ("question", "Question"),
        ("answer", "Reference answer"),
        ("source", "Source document"),
        ("passage", "Passage"),
        ("tags", "Tags"),
    )

    def __init__(self, columns: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("CSV columns")
        self.combos: dict[str, QComboBox] = {}
        form = QFormLayout()
        lowered = [c.lower() for c in columns]
        for part, label in self.PARTS:
            combo = QComboBox()
            combo.addItem("(none)", "")
            for column in columns:
                combo.addItem(column, column)
            guess = next((lowered.index(n) for n in FIELD_NAMES[part] if n in lowered), None)
            if guess is not None:
                combo.setCurrentIndex(guess + 1)
            self.combos[part] = combo
            form.addRow(f"{label}:", combo)
        self.problem = QLabel()
        self.problem.setStyleSheet("color:#b71c1c;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def mapping(self) -> dict[str, str]:
        return {
            part: combo.currentData() for part, combo in self.combos.items() if combo.currentData()
        }

    def _accept(self) -> None:
        if not {"question", "answer"} <= set(self.mapping()):
            self.problem.setText("Choose the question and the answer columns.")
            return
        self.accept()


class DraftDialog(QDialog):
    """Drafted questions arrive as they are read; the checked ones are kept."""

    start_requested = Signal(int, str)  # count, model
    stop_requested = Signal()

    def __init__(self, chat_model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Draft questions from the library")
        self.drafts: list[DraftedQuestion] = []
        self.count = QSpinBox()
        self.count.setRange(1, 500)
        self.count.setValue(20)
        self.count.setToolTip("One question from each of this many chunks, spread over the library")
        self.model = editable_combo([chat_model], chat_model)
        self.start_button = QPushButton("Draft")
        self.start_button.clicked.connect(
            lambda: self.start_requested.emit(self.count.value(), self.model.currentText().strip())
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        top = QHBoxLayout()
        top.addWidget(QLabel("Questions:"))
        top.addWidget(self.count)
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model, 1)
        top.addWidget(self.start_button)
        top.addWidget(self.stop_button)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.status = QLabel("Each question is grounded in one chunk, which becomes its source.")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Keep checked")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(720, 480)

    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def add_draft(self, draft: DraftedQuestion) -> None:
        self.drafts.append(draft)
        q = draft.question
        item = QListWidgetItem(f"{q.question}\n→ {q.answer}\n(from {draft.chunk.document})")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.list.addItem(item)

    def kept(self) -> list[DraftedQuestion]:
        return [
            draft
            for row, draft in enumerate(self.drafts)
            if self.list.item(row).checkState() == Qt.CheckState.Checked
        ]
