"""Train/validation split: by percentage with a seed, or by hand.

The percentage split ranks examples by a keyed hash (BLAKE2b of the seed and the
example's training line) and sends the lowest ranks to validation. It does not depend
on Python's ``random`` algorithms (which may change between versions), on hash
randomisation or on set order, so a seed gives the same split on every run and
platform; and because the rank comes from the content, reordering the dataset does not
change which examples are held out. Each example gets exactly one split, so none is
ever in both.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from desktop.finetune.examples import PreferenceExample, Split, TrainingExample

logger = logging.getLogger(__name__)

E = TypeVar("E", TrainingExample, PreferenceExample)


@dataclass(frozen=True)
class SplitPlan:
    """Indices of the examples in each split (disjoint, together all of them)."""

    train: tuple[int, ...]
    validation: tuple[int, ...]

    def split_of(self, index: int) -> Split:
        return "validation" if index in set(self.validation) else "train"


def _rank_key(example: TrainingExample | PreferenceExample, seed: int, index: int) -> bytes:
    line = json.dumps(example.to_openai(), sort_keys=True, ensure_ascii=False)
    digest = hashlib.blake2b(
        line.encode("utf-8", "surrogatepass"), digest_size=16, key=str(seed).encode()
    )
    # The index breaks ties between identical examples deterministically.
    return digest.digest() + index.to_bytes(8, "big")


def validation_count(n: int, validation_fraction: float) -> int:
    """How many of ``n`` examples a fraction holds out (rounded, at least 1 if > 0)."""
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError("validation_fraction must be at least 0 and less than 1")
    if n < 2 or validation_fraction == 0.0:
        return 0
    return min(n - 1, max(1, round(n * validation_fraction)))


def plan_split(
    examples: Sequence[TrainingExample | PreferenceExample],
    validation_fraction: float = 0.2,
    *,
    seed: int = 0,
) -> SplitPlan:
    """Choose the validation examples for a fraction and a seed (deterministic)."""
    count = validation_count(len(examples), validation_fraction)
    order = sorted(range(len(examples)), key=lambda i: _rank_key(examples[i], seed, i))
    held_out = sorted(order[:count])
    chosen = set(held_out)
    return SplitPlan(tuple(i for i in range(len(examples)) if i not in chosen), tuple(held_out))


def apply_plan(examples: Sequence[E], plan: SplitPlan) -> list[E]:
    """The examples with their ``split`` set from a plan."""
    held_out = set(plan.validation)
    return [
        _with_split(e, "validation" if i in held_out else "train") for i, e in enumerate(examples)
    ]


def split_by_fraction(
    examples: Sequence[E], validation_fraction: float = 0.2, *, seed: int = 0
) -> list[E]:
    """The examples with ``split`` set: ``validation_fraction`` of them to validation."""
    return apply_plan(examples, plan_split(examples, validation_fraction, seed=seed))


def split_by_hand(examples: Sequence[E], validation_indices: Iterable[int]) -> list[E]:
    """The examples with exactly the given indices in validation, all others in train."""
    held_out = set(validation_indices)
    bad = [i for i in held_out if not 0 <= i < len(examples)]
    if bad:
        raise IndexError(f"no example at index {min(bad)}")
    return apply_plan(
        examples,
        SplitPlan(
            tuple(i for i in range(len(examples)) if i not in held_out), tuple(sorted(held_out))
        ),
    )


def _with_split(example: E, split: Split) -> E:
    return example if example.split == split else replace(example, split=split)
