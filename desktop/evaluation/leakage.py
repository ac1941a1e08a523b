"""The leakage guard, from the eval set's side: which eval questions (near-)duplicate a
question the fine-tuning data trains on. A fine-tuned model evaluated on its own
training questions measures its memory, and the comparison lies.

The same rule as the dataset builder's validation (``desktop.finetune.duplicates.
Leakage``): a training user message leaks an eval question when it equals it after
normalisation, or holds nearly all of its word pairs. Only examples in the training
split count: a held-out (validation) example is not trained on. The other direction
(the dataset builder naming the eval question a training example leaks) is the
fine-tuning validation's ``evaluation_questions``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from desktop.finetune.duplicates import Leakage, normalised_words
from desktop.finetune.validation import message_text


@dataclass(frozen=True)
class LeakedExample:
    """A training example that holds an eval question."""

    dataset: str
    example: int
    """1-based, as the dataset builder numbers its rows."""

    def describe(self) -> str:
        return f"“{self.dataset}” example {self.example}"


def find_leaks(
    questions: Sequence[str], datasets: Iterable[tuple[str, Sequence[object]]]
) -> dict[int, list[LeakedExample]]:
    """For each eval question (by index) that leaks, the training examples holding it.
    ``datasets``: (name, examples in the builder's order)."""
    if not questions:
        return {}
    leakage = Leakage(questions)
    found: dict[int, list[LeakedExample]] = {}
    for name, examples in datasets:
        for number, example in enumerate(examples, start=1):
            if getattr(example, "split", "train") != "train":
                continue
            to_openai = getattr(example, "to_openai", None)
            record = to_openai() if callable(to_openai) else example
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list):
                continue  # preference data: its input is checked by the builder
            for message in messages:
                if not isinstance(message, dict) or message.get("role") != "user":
                    continue
                hit = leakage.match(normalised_words(message_text(message)))
                if hit is not None:
                    found.setdefault(hit, []).append(LeakedExample(name, number))
                    break
    return found


def describe_leaks(leaks: Sequence[LeakedExample], limit: int = 3) -> str:
    shown = ", ".join(leak.describe() for leak in leaks[:limit])
    more = f" and {len(leaks) - limit} more" if len(leaks) > limit else ""
    return (
        f"also a training question ({shown}{more}): a model fine-tuned on it would be "
        "measured on its memory"
    )
