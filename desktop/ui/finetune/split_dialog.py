"""Choosing a percentage split: how much to hold out for validation, and the seed that
makes the same choice every time."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.finetune.split import validation_count


class SplitDialog(QDialog):
    def __init__(self, examples: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Split into training and validation")
        self.examples = examples
        self.percent = QSpinBox()
        self.percent.setRange(0, 50)
        self.percent.setValue(20)
        self.percent.setSuffix(" % validation")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setValue(0)
        self.seed.setToolTip("The same seed always picks the same examples")
        self.preview = QLabel()
        intro = QLabel(
            "Every example goes to exactly one of the two files. The choice depends only on "
            "the seed and the examples' content, so it can be repeated. Undo restores the "
            "previous split."
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Hold out", self.percent)
        form.addRow("Seed", self.seed)
        form.addRow("", self.preview)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Split")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.percent.valueChanged.connect(lambda _: self._update())
        self._update()

    @property
    def fraction(self) -> float:
        return self.percent.value() / 100

    def _update(self) -> None:
        held = validation_count(self.examples, self.fraction)
        self.preview.setText(
            f"{self.examples - held:,} training · {held:,} validation of {self.examples:,}"
        )
