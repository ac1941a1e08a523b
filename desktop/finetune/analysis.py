"""Whole-dataset validation and statistics, as the dataset builder shows them after each
change: chat examples go through ``validate_examples``, preference (DPO) examples
through ``validate_preference_examples``, and both into ``dataset_stats``, with one
shared ``TokenCounter`` so nothing is counted twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from desktop.finetune.examples import AnyExample, PreferenceExample, TrainingExample
from desktop.finetune.stats import DatasetStats, ExampleTokens, TokenCounter, dataset_stats
from desktop.finetune.validation import (
    Issue,
    validate_examples,
    validate_preference_examples,
)
from desktop.tokens import encoding_for_model


@dataclass(frozen=True)
class Analysis:
    """What the table's status and token columns and the statistics panel show."""

    examples: Sequence[AnyExample]
    model: str
    issues: tuple[tuple[Issue, ...], ...]
    """Per example, in the order of ``examples``."""
    tokens: tuple[ExampleTokens | None, ...]
    stats: DatasetStats
    evaluation: tuple[str, ...] = ()
    """The eval questions the leakage check ran against."""

    @cached_property
    def error_count(self) -> int:
        return sum(1 for found in self.issues if any(i.severity == "error" for i in found))

    @cached_property
    def warning_count(self) -> int:
        return sum(
            1 for found in self.issues if found and not any(i.severity == "error" for i in found)
        )


class Counters:
    """One ``TokenCounter`` per encoding, kept between runs (its cache is the speed-up).
    Used from one worker queue at a time."""

    def __init__(self) -> None:
        self._counters: dict[str, TokenCounter] = {}

    def for_model(self, model: str) -> TokenCounter:
        encoding = encoding_for_model(model)
        counter = self._counters.get(encoding)
        if counter is None:
            counter = self._counters[encoding] = TokenCounter(encoding)
        return counter


def analyse(
    examples: Sequence[AnyExample],
    *,
    model: str,
    epochs: int | None,
    price_per_million: float | None,
    counter: TokenCounter,
    previous: Analysis | None = None,
    evaluation_questions: Sequence[str] = (),
    evaluation_labels: Sequence[str] | None = None,
) -> Analysis:
    """Validate and measure ``examples``; reuses ``previous`` when only the cost inputs
    (epochs, price) changed since it was made. ``evaluation_questions`` (with a label
    naming each) are checked for leakage into the training examples."""
    evaluation = tuple(evaluation_questions)
    if (
        previous is not None
        and previous.examples is examples
        and previous.model == model
        and previous.evaluation == evaluation
    ):
        issues, tokens = previous.issues, previous.tokens
    else:
        issues, tokens = _validate(examples, model, counter, evaluation, evaluation_labels)
    stats = dataset_stats(
        examples,
        model=model,
        epochs=epochs,
        price_per_million=price_per_million,
        tokens=tokens,
    )
    return Analysis(examples, model, issues, tokens, stats, evaluation)


def _validate(
    examples: Sequence[AnyExample],
    model: str,
    counter: TokenCounter,
    evaluation: Sequence[str] = (),
    labels: Sequence[str] | None = None,
) -> tuple[tuple[tuple[Issue, ...], ...], tuple[ExampleTokens | None, ...]]:
    chat = [i for i, e in enumerate(examples) if isinstance(e, TrainingExample)]
    preference = [i for i, e in enumerate(examples) if isinstance(e, PreferenceExample)]
    found: list[list[Issue]] = [[] for _ in examples]
    tokens: list[ExampleTokens | None] = [None] * len(examples)
    if chat:
        report = validate_examples(
            [examples[i] for i in chat],
            model=model,
            counter=counter,
            evaluation_questions=evaluation or None,
            evaluation_labels=labels,
        )
        for issue in report.issues:
            found[chat[issue.index]].append(issue)
        for position, counted in enumerate(report.tokens):
            tokens[chat[position]] = counted
    if preference:
        chosen = [examples[i] for i in preference]
        for issue in validate_preference_examples(chosen):
            found[preference[issue.index]].append(issue)
        for position, example in zip(preference, chosen, strict=True):
            tokens[position] = counter.example(example)
    # Messages name examples by their number in the table, not in a sub-list.
    renumbered = tuple(
        tuple(_renumber(issue, index) for issue in issues) for index, issues in enumerate(found)
    )
    return renumbered, tuple(tokens)


def _renumber(issue: Issue, index: int) -> Issue:
    if issue.index == index:
        return issue
    return Issue(issue.line, index, issue.category, issue.severity, issue.message)
