"""Runs side by side, per question, and over time; and the figures the Decide tab cites.

A question is "right" in a run (for the "changed between two runs" filter and the
headline correctness) by the best evidence the run has: the judge's verdict when it
judged the answer; else, for answers, token F1 ≥ 0.5 against the reference (on an
unanswerable question: that the answer said the documents do not say); for retrieval
alone, a chunk covering an expected source in the top k (else the answer inside one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.evaluation import metrics
from desktop.evaluation.records import MODE_LABELS, EvalRun, QuestionResult

RIGHT_F1 = 0.5
COMPARED_KEYS = (
    metrics.CORRECT,
    metrics.FAITHFUL,
    metrics.EXACT_MATCH,
    metrics.F1,
    metrics.FORMAT_ADHERENCE,
    metrics.SAID_UNKNOWN,
    metrics.REFUSED_UNANSWERABLE,
    metrics.HIT_1,
    metrics.HIT_5,
    metrics.HIT_K,
    metrics.MRR,
    metrics.NDCG_10,
    metrics.RECALL_K,
    metrics.ANSWER_IN_CONTEXT,
    "latency_median_ms",
    "latency_p95_ms",
    "tokens_per_answer",
    "cost_per_answer_usd",
)
"""The metrics a comparison shows, in this order (those no compared run has are left out)."""
MIN_DECISION_QUESTIONS = 20
"""A run must have answered at least this many questions to count as evidence."""


def headline_metric(run: EvalRun) -> str:
    """The metric that says how often the run was right."""
    m = run.metrics
    if m.get(metrics.CORRECT) is not None:
        return metrics.CORRECT
    if run.config.answers:
        return metrics.F1
    if m.get(metrics.HIT_5) is not None:
        return metrics.HIT_5
    return metrics.ANSWER_IN_CONTEXT


def is_right(result: QuestionResult | None, run: EvalRun) -> bool | None:
    if result is None or not result.ok:
        return None
    m = result.metrics
    if result.judge is not None and result.judge.status == "judged":
        return bool(result.judge.correct)
    if run.config.answers:
        if not result.answerable:
            return bool(m.get(metrics.REFUSED_UNANSWERABLE))
        f1 = m.get(metrics.F1)
        return None if f1 is None else f1 >= RIGHT_F1
    for key in (metrics.HIT_K, metrics.ANSWER_IN_CONTEXT):
        if m.get(key) is not None:
            return bool(m[key])
    return None


@dataclass(frozen=True)
class QuestionRow:
    question_id: int
    position: int
    question: str
    reference: str
    results: tuple[QuestionResult | None, ...]
    right: tuple[bool | None, ...]

    @property
    def changed(self) -> bool:
        """Right in one run and wrong in another (unknowns do not count)."""
        known = {r for r in self.right if r is not None}
        return len(known) == 2


@dataclass(frozen=True)
class Comparison:
    runs: tuple[EvalRun, ...]
    keys: tuple[str, ...]
    rows: tuple[QuestionRow, ...]

    def value(self, run: int, key: str) -> Any:
        return self.runs[run].metrics.get(key)

    def changed(self) -> list[QuestionRow]:
        return [row for row in self.rows if row.changed]

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [r.to_json() for r in self.runs],
            "metrics": {
                key: [self.value(i, key) for i in range(len(self.runs))] for key in self.keys
            },
            "changed": [
                {
                    "question_id": row.question_id,
                    "question": row.question,
                    "right": list(row.right),
                    "answers": [r.answer if r else None for r in row.results],
                }
                for row in self.changed()
            ],
        }


def compare_runs(
    runs: Sequence[EvalRun], results: Sequence[Sequence[QuestionResult]]
) -> Comparison:
    keys = tuple(k for k in COMPARED_KEYS if any(r.metrics.get(k) is not None for r in runs))
    by_run = [{r.question_id: r for r in found} for found in results]
    ids: dict[int, QuestionResult] = {}
    for found in results:
        for r in found:
            ids.setdefault(r.question_id, r)
    rows = []
    for question_id, first in sorted(ids.items(), key=lambda i: (i[1].position, i[0])):
        per_run = tuple(found.get(question_id) for found in by_run)
        rows.append(
            QuestionRow(
                question_id,
                first.position,
                first.question,
                first.reference,
                per_run,
                tuple(is_right(r, run) for r, run in zip(per_run, runs, strict=True)),
            )
        )
    return Comparison(tuple(runs), keys, tuple(rows))


@dataclass(frozen=True)
class Point:
    run_id: int
    at: float
    value: float


def history(runs: Sequence[EvalRun], key: str) -> dict[str, list[Point]]:
    """Per mode, the finished runs' ``key`` in time order: a change of chunking, model or
    data shows as a step."""
    series: dict[str, list[Point]] = {}
    for run in sorted(runs, key=lambda r: (r.created_at, r.id)):
        value = run.metrics.get(key)
        if run.status in ("complete", "stopped") and isinstance(value, int | float):
            series.setdefault(run.mode, []).append(Point(run.id, run.created_at, float(value)))
    return series


@dataclass(frozen=True)
class ModeFigure:
    """The latest run of a mode that the Decide tab may cite."""

    mode: str
    model: str
    run_id: int
    set_name: str
    at: float
    questions: int
    metric: str
    value: float
    format_adherence: float | None

    @property
    def label(self) -> str:
        return MODE_LABELS.get(self.mode, self.mode)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "model": self.model,
            "run_id": self.run_id,
            "set": self.set_name,
            "at": self.at,
            "questions": self.questions,
            "metric": self.metric,
            "value": self.value,
            "format_adherence": self.format_adherence,
        }


def mode_figures(runs: Sequence[EvalRun]) -> list[ModeFigure]:
    """The latest finished, current (not stale) run per answering mode with at least
    ``MIN_DECISION_QUESTIONS`` answered, on the set most modes were measured on."""
    candidates = [
        r
        for r in runs
        if r.config.answers
        and r.status in ("complete", "stopped")
        and not r.stale
        and r.answered >= MIN_DECISION_QUESTIONS
    ]
    by_set: dict[str, dict[str, EvalRun]] = {}
    for run in sorted(candidates, key=lambda r: (r.created_at, r.id)):
        by_set.setdefault(run.set_name, {})[run.mode] = run
    if not by_set:
        return []
    chosen = max(
        by_set.values(),
        key=lambda modes: (len(modes), max(r.created_at for r in modes.values())),
    )
    figures = []
    for run in chosen.values():
        metric = headline_metric(run)
        value = run.metrics.get(metric)
        if not isinstance(value, int | float):
            continue
        format_value = run.metrics.get(metrics.FORMAT_ADHERENCE)
        figures.append(
            ModeFigure(
                run.mode,
                run.model,
                run.id,
                run.set_name,
                run.created_at,
                run.answered,
                metric,
                float(value),
                float(format_value) if isinstance(format_value, int | float) else None,
            )
        )
    order = {mode: n for n, mode in enumerate(MODE_LABELS)}
    return sorted(figures, key=lambda f: order.get(f.mode, 99))


def metric_label(key: str) -> str:
    labels: Mapping[str, str] = {
        metrics.CORRECT: "correct (judge)",
        metrics.FAITHFUL: "faithful (judge)",
        metrics.EXACT_MATCH: "exact match",
        metrics.F1: "F1",
        metrics.FORMAT_ADHERENCE: "format adherence",
        metrics.SAID_UNKNOWN: "said it does not know",
        metrics.REFUSED_UNANSWERABLE: "refused unanswerable",
        metrics.ANSWER_IN_CONTEXT: "answer in context@k",
        "latency_median_ms": "latency median (ms)",
        "latency_p95_ms": "latency p95 (ms)",
        "tokens_per_answer": "tokens per answer",
        "cost_per_answer_usd": "cost per answer ($)",
    }
    return labels.get(key, key)
