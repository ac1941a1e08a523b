"""Training metrics of a job: from its ``metrics`` events while it runs, and from its
result file (CSV, from Azure base64-encoded) once it succeeded."""

from __future__ import annotations

import base64
import binascii
import csv
import dataclasses
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]

METRIC_NAMES = (
    "train_loss",
    "valid_loss",
    "train_mean_token_accuracy",
    "valid_mean_token_accuracy",
    "full_valid_loss",
    "full_valid_mean_token_accuracy",
)


@dataclass(frozen=True)
class MetricPoint:
    """The metrics of one training step (any may be missing)."""

    step: int
    train_loss: float | None = None
    valid_loss: float | None = None
    train_mean_token_accuracy: float | None = None
    valid_mean_token_accuracy: float | None = None
    full_valid_loss: float | None = None
    full_valid_mean_token_accuracy: float | None = None

    def values(self) -> tuple[float | None, ...]:
        return tuple(getattr(self, name) for name in METRIC_NAMES)


@dataclass(frozen=True)
class MetricsSeries:
    """Per-step lists for a chart, aligned with ``steps`` (None where a step has no
    value); ``points(name)`` gives just the (step, value) pairs of one curve."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float | None] = field(default_factory=list)
    valid_loss: list[float | None] = field(default_factory=list)
    train_mean_token_accuracy: list[float | None] = field(default_factory=list)
    valid_mean_token_accuracy: list[float | None] = field(default_factory=list)
    full_valid_loss: list[float | None] = field(default_factory=list)
    full_valid_mean_token_accuracy: list[float | None] = field(default_factory=list)

    def points(self, name: str) -> list[tuple[int, float]]:
        if name not in METRIC_NAMES:
            raise KeyError(name)
        values: list[float | None] = getattr(self, name)
        return [(s, v) for s, v in zip(self.steps, values, strict=True) if v is not None]

    def to_json(self) -> Json:
        return dataclasses.asdict(self)

    @classmethod
    def from_points(cls, points: Iterable[MetricPoint]) -> MetricsSeries:
        """Aligned per-step lists for the loss and accuracy chart."""
        series = cls()
        for point in points:
            series.steps.append(point.step)
            for name in METRIC_NAMES:
                getattr(series, name).append(getattr(point, name))
        return series


# Column names seen in result files (OpenAI has renamed some; Azure uses "validation_").
_CSV_COLUMNS = {
    "train_loss": "train_loss",
    "training_loss": "train_loss",
    "train_accuracy": "train_mean_token_accuracy",
    "train_mean_token_accuracy": "train_mean_token_accuracy",
    "valid_loss": "valid_loss",
    "validation_loss": "valid_loss",
    "valid_accuracy": "valid_mean_token_accuracy",
    "valid_mean_token_accuracy": "valid_mean_token_accuracy",
    "validation_mean_token_accuracy": "valid_mean_token_accuracy",
    "full_valid_loss": "full_valid_loss",
    "full_validation_loss": "full_valid_loss",
    "full_valid_accuracy": "full_valid_mean_token_accuracy",
    "full_valid_mean_token_accuracy": "full_valid_mean_token_accuracy",
    "full_validation_mean_token_accuracy": "full_valid_mean_token_accuracy",
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def step_of(value: Any) -> int | None:
    number = _number(value)
    if number is None or number != int(number):
        return None
    return int(number)


def metrics_from_event(event: Mapping[str, Any]) -> MetricPoint | None:
    """The metrics a ``metrics`` event carries (step, losses, token accuracies)."""
    data = event.get("data")
    if event.get("type") != "metrics" or not isinstance(data, dict):
        return None
    step = step_of(data.get("step"))
    if step is None:
        return None
    return MetricPoint(step, *(_number(data.get(name)) for name in METRIC_NAMES))


def decode_result_file(content: bytes) -> str:
    """A result file's text: plain CSV (OpenAI) or base64-encoded CSV (Azure)."""
    text = content.decode("utf-8-sig", errors="replace")
    if "," in text.split("\n", 1)[0]:
        return text
    try:
        decoded = base64.b64decode(b"".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        return text
    return decoded.decode("utf-8-sig", errors="replace")


def parse_result_csv(text: str) -> list[MetricPoint]:
    """Per-step metrics from a ``step_metrics.csv`` result file; empty cells are None.
    Raises ValueError when the text has no step column."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ValueError("the result file is empty")
    names = [cell.strip().lower() for cell in header]
    if "step" not in names:
        raise ValueError(f"the result file has no step column (columns: {', '.join(names)})")
    step_at = names.index("step")
    columns = {i: _CSV_COLUMNS[name] for i, name in enumerate(names) if name in _CSV_COLUMNS}
    points: list[MetricPoint] = []
    for row in reader:
        if step_at >= len(row):
            continue
        step = step_of(row[step_at])
        if step is None:
            continue
        values = {name: _number(row[i]) for i, name in columns.items() if i < len(row)}
        points.append(MetricPoint(step, **values))
    return points
