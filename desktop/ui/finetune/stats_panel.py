"""The statistics of a dataset: size against OpenAI's minimum and the recommended range,
the token distribution, the assistant share, truncation, and the training cost."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.finetune.analysis import Analysis
from desktop.finetune.stats import (
    DEFAULT_TRAINING_PRICES,
    MIN_EXAMPLES,
    RECOMMENDED_EXAMPLES,
    DatasetStats,
    Distribution,
    default_epochs,
    training_price,
)
from desktop.ui.common.histogram import SizeHistogram

_LEVEL_COLOURS = {
    "below_minimum": "#b71c1c",
    "below_recommended": "#8a5300",
    "recommended": "#1b5e20",
    "above_recommended": "#1b5e20",
}


class ExampleHistogram(SizeHistogram):
    """``SizeHistogram`` whose labels count examples rather than chunks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.largest: int | None = None  # the largest example, for the right-hand label
        self.setAccessibleName("Histogram of example sizes in tokens")

    def set_bins(self, bins: Sequence[tuple[int, int, int]]) -> None:
        super().set_bins(bins)
        self.setToolTip("\n".join(f"{lo}–{hi - 1} tokens: {n} examples" for lo, hi, n in bins))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.rect().adjusted(8, 6, -8, -22)
        palette = self.palette()
        painter.setPen(palette.color(palette.ColorRole.WindowText))
        if not self.bins:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No examples")
            return
        peak = max(n for _, _, n in self.bins) or 1
        width = rect.width() / len(self.bins)
        for i, (_, _, count) in enumerate(self.bins):
            height = rect.height() * count / peak
            bar = QRectF(rect.left() + i * width + 1, rect.bottom() - height, width - 2, height)
            painter.fillRect(bar, QColor("#3b82f6"))
        labels = QRectF(rect.left(), rect.bottom() + 4, rect.width(), 16)
        low = self.bins[0][0]
        high = self.largest if self.largest is not None else self.bins[-1][1] - 1
        painter.drawText(labels, Qt.AlignmentFlag.AlignLeft, f"{low:,} tokens")
        painter.drawText(labels, Qt.AlignmentFlag.AlignRight, f"{high:,} tokens")
        painter.drawText(labels, Qt.AlignmentFlag.AlignHCenter, f"tallest bar: {peak} examples")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


class StatsPanel(QScrollArea):
    """Shows an ``Analysis``; the model, epochs and price are the user's inputs."""

    inputs_changed = Signal()  # model, epochs or price: the estimate needs a new run
    model_chosen = Signal(str)
    show_problems = Signal()

    def __init__(self, default_model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.analysis: Analysis | None = None
        self._prices: dict[str, float | None] = {}  # set by the user, per model

        # -- size ---------------------------------------------------------------------
        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.RichText)
        self.size_label = QLabel()
        self.size_label.setWordWrap(True)
        self.size_hint = QLabel(
            f"OpenAI needs at least {MIN_EXAMPLES} training examples; gains usually show "
            f"from {RECOMMENDED_EXAMPLES[0]}–{RECOMMENDED_EXAMPLES[1]} good ones."
        )
        self.size_hint.setWordWrap(True)
        self.size_hint.setStyleSheet("color:#555;")
        self.problems_label = QLabel()
        self.problems_label.setWordWrap(True)
        self.problems_button = QPushButton("Show them")
        self.problems_button.setToolTip("Filter the table to examples with errors or warnings")
        self.problems_button.clicked.connect(self.show_problems.emit)
        size_box = QGroupBox("Size")
        size_layout = QGridLayout(size_box)
        size_layout.addWidget(self.count_label, 0, 0, 1, 2)
        size_layout.addWidget(self.size_label, 1, 0, 1, 2)
        size_layout.addWidget(self.size_hint, 2, 0, 1, 2)
        size_layout.addWidget(self.problems_label, 3, 0)
        size_layout.addWidget(self.problems_button, 3, 1, Qt.AlignmentFlag.AlignRight)
        size_layout.setColumnStretch(0, 1)

        # -- tokens -------------------------------------------------------------------
        self.distribution = QGridLayout()
        self.distribution.setHorizontalSpacing(14)
        self._cells: dict[tuple[int, int], QLabel] = {}
        headings = ("", "min", "p5", "median", "mean", "p95", "max")
        for column, heading in enumerate(headings):
            label = QLabel(f"<b>{heading}</b>")
            label.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.distribution.addWidget(label, 0, column)
        for row, name in enumerate(("All tokens", "Assistant", "Turns"), start=1):
            self.distribution.addWidget(QLabel(name), row, 0)
            for column in range(1, len(headings)):
                cell = QLabel("–")
                cell.setAlignment(Qt.AlignmentFlag.AlignRight)
                self._cells[(row, column)] = cell
                self.distribution.addWidget(cell, row, column)
        self.histogram = ExampleHistogram()
        self.share_label = QLabel()
        self.share_label.setWordWrap(True)
        self.truncation_label = QLabel()
        self.truncation_label.setWordWrap(True)
        tokens_box = QGroupBox("Tokens per example")
        tokens_layout = QVBoxLayout(tokens_box)
        tokens_layout.addLayout(self.distribution)
        tokens_layout.addWidget(self.histogram)
        tokens_layout.addWidget(self.share_label)
        tokens_layout.addWidget(self.truncation_label)

        # -- cost ---------------------------------------------------------------------
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.addItems(sorted({default_model, *DEFAULT_TRAINING_PRICES}))
        self.model.setCurrentText(default_model)
        self.model.setToolTip("The base model to fine-tune: sets the token limit and the price")
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 50)
        self.epochs.setSpecialValueText("auto")
        self.epochs.setToolTip("0 = auto: OpenAI picks the epochs from the number of examples")
        self.price = QDoubleSpinBox()
        self.price.setRange(0.0, 10_000.0)
        self.price.setDecimals(2)
        self.price.setPrefix("$ ")
        self.price.setSpecialValueText("not known")
        self.price.setToolTip(
            "US dollars per million training tokens. The defaults are OpenAI's list prices "
            "of 2025 and go out of date: edit them."
        )
        for field in (self.model, self.epochs, self.price):
            field.setMaximumWidth(240)
        self.epochs_label = QLabel()
        self.billed_label = QLabel()
        self.billed_label.setWordWrap(True)
        self.cost_label = QLabel()
        self.cost_label.setTextFormat(Qt.TextFormat.RichText)
        note = QLabel("Validation examples are not billed. An estimate, not a bill.")
        note.setWordWrap(True)
        note.setStyleSheet("color:#555;")
        cost_box = QGroupBox("Training cost")
        cost_form = QFormLayout(cost_box)
        cost_form.addRow("Model", self.model)
        cost_form.addRow("Epochs", self.epochs)
        cost_form.addRow("", self.epochs_label)
        cost_form.addRow("Price per 1M tokens", self.price)
        cost_form.addRow("Billed tokens", self.billed_label)
        cost_form.addRow("Estimate", self.cost_label)
        cost_form.addRow(note)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(size_box)
        layout.addWidget(tokens_box)
        layout.addWidget(cost_box)
        layout.addStretch(1)
        self.setWidget(body)

        self._set_price_for(default_model)
        self._applied_model = default_model
        self.model.activated.connect(lambda _: self._model_changed(self.model.currentText()))
        self.model.lineEdit().editingFinished.connect(
            lambda: self._model_changed(self.model.currentText())
        )
        self.epochs.valueChanged.connect(lambda _: self.inputs_changed.emit())
        self.price.valueChanged.connect(self._price_edited)
        self.show_analysis(None)

    # -- inputs ---------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The model the figures are for (typing a new name counts once it is confirmed)."""
        return self._applied_model

    @property
    def epochs_value(self) -> int | None:
        return self.epochs.value() or None

    @property
    def price_value(self) -> float | None:
        return self.price.value() or None

    def set_model(self, model: str) -> None:
        """Show the dataset's model without counting it as the user's choice."""
        if model and model != self.model.currentText():
            self.model.blockSignals(True)
            if self.model.findText(model) < 0:
                self.model.addItem(model)
            self.model.setCurrentText(model)
            self.model.blockSignals(False)
            self._applied_model = model
            self._set_price_for(model)

    def _model_changed(self, model: str) -> None:
        """A model chosen from the list, or typed and confirmed (not every keystroke)."""
        model = model.strip()
        if not model or model == self._applied_model:
            return
        self._applied_model = model
        self._set_price_for(model)
        self.model_chosen.emit(model)
        self.inputs_changed.emit()

    def _set_price_for(self, model: str) -> None:
        price = self._prices[model] if model in self._prices else training_price(model)
        self.price.blockSignals(True)
        self.price.setValue(price or 0.0)
        self.price.blockSignals(False)

    def _price_edited(self, value: float) -> None:
        self._prices[self.model_name] = value or None
        self.inputs_changed.emit()

    # -- figures --------------------------------------------------------------------------

    def show_analysis(self, analysis: Analysis | None) -> None:
        self.analysis = analysis
        if analysis is None:
            self.count_label.setText("<h2>No examples</h2>")
            self.size_label.setText("")
            self.problems_label.setText("")
            self.problems_button.hide()
            for cell in self._cells.values():
                cell.setText("–")
            self.histogram.set_bins([])
            for label in (self.share_label, self.truncation_label, self.billed_label):
                label.setText("")
            self.cost_label.setText("–")
            self.epochs_label.setText("")
            return
        stats = analysis.stats
        self.count_label.setText(
            f"<h2 style='margin:0'>{stats.examples:,} example{'s' if stats.examples != 1 else ''}"
            f"</h2>{stats.train_examples:,} training · {stats.validation_examples:,} validation"
        )
        self.size_label.setText(stats.size_message)
        self.size_label.setStyleSheet(f"color:{_LEVEL_COLOURS[stats.size_level]};")
        errors, warnings = analysis.error_count, analysis.warning_count
        if errors or warnings:
            parts = []
            if errors:
                parts.append(
                    f"{errors} example{'s have' if errors != 1 else ' has'} errors "
                    "(OpenAI would reject the file)"
                )
            if warnings:
                parts.append(f"{warnings} example{'s have' if warnings != 1 else ' has'} warnings")
            self.problems_label.setText("; ".join(parts) + ".")
            self.problems_label.setStyleSheet(f"color:{'#b71c1c' if errors else '#8a5300'};")
            self.problems_button.show()
        else:
            self.problems_label.setText("No problems found.")
            self.problems_label.setStyleSheet("color:#1b5e20;")
            self.problems_button.hide()
        for row, distribution in enumerate(
            (stats.total_tokens, stats.assistant_tokens, stats.messages_per_example), start=1
        ):
            self._show_distribution(row, distribution)
        self.histogram.largest = int(stats.total_tokens.max)
        self.histogram.set_bins(stats.histogram)
        self.share_label.setText(
            f"Assistant replies are {stats.assistant_share:.0%} of the tokens: the part "
            "the model learns to write. The rest (system prompt, questions) is paid for "
            "on every example and every epoch."
        )
        self._show_truncation(stats, analysis.model)
        self._show_cost(stats)

    def _show_distribution(self, row: int, values: Distribution) -> None:
        figures = (values.min, values.p5, values.median, values.mean, values.p95, values.max)
        for column, value in enumerate(figures, start=1):
            self._cells[(row, column)].setText(_number(value))

    def _show_truncation(self, stats: DatasetStats, model: str) -> None:
        over = stats.over_limit
        if not over:
            self.truncation_label.setText(
                f"No example is over the {stats.token_limit:,}-token training limit of {model}."
            )
            self.truncation_label.setStyleSheet("")
            return
        shown = ", ".join(f"#{i + 1}" for i in over[:12]) + (" …" if len(over) > 12 else "")
        self.truncation_label.setText(
            f"{len(over)} example{'s are' if len(over) != 1 else ' is'} over the "
            f"{stats.token_limit:,}-token limit of {model} and will be truncated: {shown}"
        )
        self.truncation_label.setStyleSheet("color:#8a5300;")

    def _show_cost(self, stats: DatasetStats) -> None:
        cost = stats.cost
        auto = default_epochs(cost.train_examples)
        plural = "s" if cost.epochs != 1 else ""
        if cost.epochs_overridden:
            self.epochs_label.setText(f"{cost.epochs} epoch{plural} (auto would be {auto})")
        else:
            self.epochs_label.setText(
                f"{cost.epochs} epoch{plural} (auto for {cost.train_examples:,} training examples)"
            )
        self.billed_label.setText(
            f"{cost.epochs} × {cost.billed_tokens_per_epoch:,} = {cost.billed_tokens:,} tokens"
        )
        if cost.cost is None:
            self.cost_label.setText("No price known for this model: enter one above.")
        else:
            self.cost_label.setText(
                f"<b>${cost.cost:,.2f}</b> at ${cost.price_per_million:,.2f} per million tokens"
            )
