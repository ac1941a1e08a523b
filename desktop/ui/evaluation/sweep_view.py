"""The Sweep page: a grid of chunking × size × embedder × search mode × k scored with the
retrieval metrics, offline, on scratch copies of the library's texts; the result as a
table and a chart, and "Apply this configuration to the library"."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.evaluation import metrics
from desktop.evaluation.compare import metric_label
from desktop.evaluation.sweep import SIZE_UNITS, SweepGrid, SweepResult, SweepRow
from desktop.library.chunking import STRATEGIES
from desktop.retrieval.search import MODES
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.table_model import RECORD_ROLE, record_table
from desktop.ui.evaluation.charts import BarChart
from desktop.ui.evaluation.models import SweepModel
from desktop.ui.evaluation.questions_view import make_action
from desktop.ui.evaluation.runs_view import sorted_proxy

CHART_ROWS = 12


def _numbers(text: str) -> tuple[int, ...]:
    values = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if part:
            values.append(int(part))
    return tuple(values)


class SweepView(QWidget):
    sweep_requested = Signal(object)  # SweepGrid
    stop_requested = Signal()
    apply_requested = Signal(object)  # SweepRow

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: SweepResult | None = None
        self.strategy_boxes = {name: QCheckBox(name) for name in STRATEGIES}
        for name in ("recursive_tokens", "sentences"):
            self.strategy_boxes[name].setChecked(True)
        self.sizes = QLineEdit("128, 256, 512")
        self.sizes.setToolTip("Sizes to try: words for fixed_words, tokens for the others")
        self.embedder_boxes: dict[str, QCheckBox] = {}
        self.embedder_row = QHBoxLayout()
        self.mode_boxes = {mode: QCheckBox(mode) for mode in MODES}
        for mode in ("vector", "hybrid"):
            self.mode_boxes[mode].setChecked(True)
        self.ks = QLineEdit("3, 5")
        self.count_label = QLabel()
        self.run_action = make_action(
            self,
            "Run sweep",
            "Ctrl+Return",
            "Chunk, embed and search scratch copies of the library's texts; the library "
            "itself is not changed",
        )
        self.run_button = QPushButton("Run sweep")
        self.run_button.setToolTip(self.run_action.toolTip())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.hide()
        self.problem = QLabel()
        self.problem.setStyleSheet("color:#b71c1c;")
        self.problem.setWordWrap(True)
        strategies = QHBoxLayout()
        for box in self.strategy_boxes.values():
            strategies.addWidget(box)
        modes = QHBoxLayout()
        for box in self.mode_boxes.values():
            modes.addWidget(box)
        form = QFormLayout()
        form.addRow("Chunking:", strategies)
        form.addRow("Sizes:", self.sizes)
        form.addRow("Embedders:", self.embedder_row)
        form.addRow("Search:", modes)
        form.addRow("k:", self.ks)
        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label, 1)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.run_button)

        self.model = SweepModel(self)
        self.proxy = sorted_proxy(self.model, self)
        self.table = record_table(
            self.proxy,
            stretch=0,
            samples=("512 tokens", "minilm-l6-v2-static256", "hybrid", "99", "9999")
            + ("100%",) * len(SweepModel.KEYS),
            sort_column=7,
            descending=True,
        )
        self.metric = QComboBox()
        for key in SweepModel.KEYS:
            self.metric.addItem(metric_label(key), key)
        self.metric.setCurrentIndex(1)
        self.chart = BarChart()
        self.apply_button = QPushButton("Apply this configuration to the library…")
        self.apply_button.setToolTip(
            "Re-chunk the library with the selected row's strategy and size (planned first, "
            "undone only by another re-chunk) and use its embedder, search mode and k"
        )
        self.apply_button.setEnabled(False)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        chart_row = QHBoxLayout()
        chart_row.addWidget(QLabel(f"Best {CHART_ROWS} by:"))
        chart_row.addWidget(self.metric)
        chart_row.addStretch(1)
        chart_row.addWidget(self.apply_button)
        chart_box = QWidget()
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.addLayout(chart_row)
        chart_layout.addWidget(self.chart, 1)
        results = QSplitter(Qt.Orientation.Vertical)
        results.addWidget(self.table)
        results.addWidget(chart_box)
        self.empty = EmptyState(
            "No sweep yet",
            "A sweep measures retrieval alone, with no chat model, for every combination of "
            "the chunking, size, embedder, search mode and k chosen above, on this set's "
            "questions with an expected source or answer. It answers “which chunking works "
            "for my documents?” with numbers, without touching the library.",
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(results)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.problem)
        layout.addWidget(self.summary)
        layout.addWidget(self.stack, 1)

        for box in [*self.strategy_boxes.values(), *self.mode_boxes.values()]:
            box.toggled.connect(lambda _: self._update_count())
        for edit in (self.sizes, self.ks):
            edit.textChanged.connect(lambda _: self._update_count())
        self.run_button.clicked.connect(self._run)
        self.run_action.triggered.connect(
            lambda: self._run() if self.run_button.isEnabled() else None
        )
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.metric.currentIndexChanged.connect(lambda _: self._draw_chart())
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self.apply_button.setEnabled(self.selected_row() is not None)
        )
        self.apply_button.clicked.connect(self._apply)
        self._update_count()

    def set_embedders(self, names: Sequence[str]) -> None:
        for name in names:
            if name in self.embedder_boxes:
                continue
            box = QCheckBox(name)
            box.setChecked("static" in name or len(names) == 1)
            box.toggled.connect(lambda _: self._update_count())
            self.embedder_boxes[name] = box
            self.embedder_row.addWidget(box)
        self._update_count()

    def show_grid(self, grid: SweepGrid) -> None:
        """The form as the grid of the sweep shown (to run it again, or change it)."""
        for name, box in self.strategy_boxes.items():
            box.setChecked(name in grid.strategies)
        for name, box in self.embedder_boxes.items():
            box.setChecked(name in grid.embedders)
        for mode, box in self.mode_boxes.items():
            box.setChecked(mode in grid.modes)
        self.sizes.setText(", ".join(str(n) for n in grid.sizes))
        self.ks.setText(", ".join(str(k) for k in grid.ks))

    def grid(self, vector_weight: float = 0.5) -> SweepGrid:
        """The grid as chosen; raises ValueError with what is wrong."""
        try:
            sizes, ks = _numbers(self.sizes.text()), _numbers(self.ks.text())
        except ValueError:
            raise ValueError("sizes and k are whole numbers separated by commas") from None
        grid = SweepGrid(
            tuple(n for n, b in self.strategy_boxes.items() if b.isChecked()),
            sizes,
            tuple(n for n, b in self.embedder_boxes.items() if b.isChecked()),
            tuple(m for m, b in self.mode_boxes.items() if b.isChecked()),
            ks,
            vector_weight,
        )
        grid.check()
        return grid

    def _update_count(self) -> None:
        try:
            grid = self.grid()
        except ValueError as exc:
            self.count_label.setText("")
            self.problem.setText(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
            self.run_button.setEnabled(False)
            return
        self.problem.setText("")
        chunkings = len(grid.chunkings)
        builds = chunkings * (len(grid.embedders) if grid.uses_vectors else 0)
        self.count_label.setText(
            f"{grid.configurations()} configurations: {chunkings} chunkings, {builds} "
            "embeddings to build"
        )
        self.run_button.setEnabled(not self.stop_button.isEnabled())

    def _run(self) -> None:
        try:
            grid = self.grid()
        except ValueError:
            return
        self.sweep_requested.emit(grid)

    def set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.run_button.setEnabled(not running)
        self.progress.setVisible(running)

    def show_result(self, result: SweepResult | None) -> None:
        self.result = result
        self.stack.setCurrentIndex(1 if result is not None else 0)
        if result is None:
            self.model.set_items([])
            self.summary.setText("")
            return
        self.model.set_items(result.rows)
        self.show_grid(result.grid)
        best = result.best(metrics.HIT_5)
        text = (
            f"{len(result.rows)} configurations over {result.questions} questions "
            f"({result.skipped} without an expected source or answer); chunked "
            f"{result.builds.get('chunkings', 0)}×, embedded {result.builds.get('embeddings', 0)}× "
            f"in {result.seconds:.0f} s."
        )
        if best is not None:
            text += f" Best by hit@5: {best.label()}."
        self.summary.setText(text)
        self._draw_chart()

    def _draw_chart(self) -> None:
        if self.result is None:
            return
        key = self.metric.currentData()
        scored = [r for r in self.result.rows if r.metrics.get(key) is not None]
        top = sorted(scored, key=lambda r: -(r.metrics.get(key) or 0.0))[:CHART_ROWS]
        self.chart.show_values(
            metric_label(key),
            [_short_label(r) for r in top],
            [r.metrics.get(key) for r in top],
            percent=key not in (metrics.MRR, metrics.NDCG_10),
        )

    def selected_row(self) -> SweepRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.data(rows[0], RECORD_ROLE) if rows else None

    def _apply(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.apply_requested.emit(row)


def _short_label(row: SweepRow) -> str:
    unit = "w" if SIZE_UNITS.get(row.strategy) == "words" else "t"
    name = {"recursive_tokens": "rec", "fixed_words": "fixed", "sentences": "sent"}.get(
        row.strategy, row.strategy[:6]
    )
    return f"{name} {row.size}{unit} {row.mode[:3]} k{row.k}"
