"""Choose a chunking strategy and its parameters; the fields come from the strategy's
own dataclass, so a new strategy or parameter appears here without UI code."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSpinBox, QWidget

from desktop.library.chunking import PARAMETER_LABELS, STRATEGIES, ChunkingStrategy

LABELS = {
    "fixed_words": "Fixed size by words (naive)",
    "sentences": "Sentences with overlap",
    "recursive_tokens": "Recursive by tokens",
    "structure": "Structure-aware (headings)",
}


class StrategyForm(QWidget):
    """Emits ``strategy_changed`` with a valid strategy, debounced while the user types."""

    strategy_changed = Signal(object)
    validity_changed = Signal(bool)  # whether the fields make a strategy

    def __init__(self, strategy: ChunkingStrategy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(12)
        for name in STRATEGIES:
            self.combo.addItem(LABELS.get(name, name), name)
        self._layout.addRow("Strategy:", self.combo)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color:#b71c1c;")
        self.error_label.hide()
        self.spins: dict[str, QSpinBox] = {}
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self._emit)
        self._values: dict[str, dict[str, int]] = {}
        self._building = False
        self.set_strategy(strategy)
        self.combo.currentIndexChanged.connect(self._strategy_chosen)

    def set_strategy(self, strategy: ChunkingStrategy) -> None:
        self._building = True
        self.combo.setCurrentIndex(self.combo.findData(strategy.name))
        self._values[strategy.name] = {
            f.name: getattr(strategy, f.name) for f in dataclasses.fields(strategy)
        }
        self._build_fields(strategy.name)
        self._building = False

    def strategy(self) -> ChunkingStrategy:
        name = str(self.combo.currentData())
        values = {key: spin.value() for key, spin in self.spins.items()}
        return STRATEGIES[name](**values)

    def _strategy_chosen(self) -> None:
        self._build_fields(str(self.combo.currentData()))
        self._debounce.start()

    def _build_fields(self, name: str) -> None:
        while self._layout.rowCount() > 1:
            self._layout.removeRow(1)
        self.spins = {}
        values = self._values.get(name) or {
            f.name: f.default for f in dataclasses.fields(STRATEGIES[name])
        }
        for key, value in values.items():
            spin = QSpinBox()
            spin.setRange(0, 100_000)
            spin.setValue(int(value))
            spin.setAccessibleName(PARAMETER_LABELS.get(key, key))
            spin.valueChanged.connect(self._changed)
            self.spins[key] = spin
            self._layout.addRow(PARAMETER_LABELS.get(key, key) + ":", spin)
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color:#b71c1c;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self._layout.addRow(self.error_label)

    def _changed(self) -> None:
        if not self._building:
            self.validity_changed.emit(self.valid())  # at once: no click on a stale state
            self._debounce.start()

    def valid(self) -> bool:
        try:
            self.strategy()
        except ValueError:
            return False
        return True

    def _emit(self) -> None:
        try:
            strategy = self.strategy()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            self.validity_changed.emit(False)
            return
        self.error_label.hide()
        self.validity_changed.emit(True)
        name = strategy.name
        self._values[name] = {
            f.name: getattr(strategy, f.name) for f in dataclasses.fields(strategy)
        }
        self.strategy_changed.emit(strategy)
