"""Fine-tuning: training examples and datasets, import/export, validation, token and
cost estimates, splitting, and drafting examples from library chunks. Qt-free."""

from desktop.finetune.examples import (
    ExampleFormatError,
    Message,
    PreferenceExample,
    Split,
    TrainingExample,
)
from desktop.finetune.validation import Issue, ValidationReport

__all__ = [
    "ExampleFormatError",
    "Issue",
    "Message",
    "PreferenceExample",
    "Split",
    "TrainingExample",
    "ValidationReport",
]
