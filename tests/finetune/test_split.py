from __future__ import annotations

import pytest

from desktop.finetune.jsonl import read_chat_jsonl
from desktop.finetune.split import (
    plan_split,
    split_by_fraction,
    split_by_hand,
    validation_count,
)
from tests.finetune.conftest import SAMPLE_DATASET
from tests.finetune.datagen import generated_examples


def held_out(examples: list) -> list[int]:
    return [i for i, e in enumerate(examples) if e.split == "validation"]


def test_an_80_20_split_with_a_seed_is_the_same_twice_and_never_overlaps() -> None:
    examples = generated_examples(500, duplicate_every=0)
    first = split_by_fraction(examples, 0.2, seed=42)
    second = split_by_fraction(examples, 0.2, seed=42)
    assert held_out(first) == held_out(second)
    assert len(held_out(first)) == 100
    plan = plan_split(examples, 0.2, seed=42)
    assert set(plan.train).isdisjoint(plan.validation)
    assert sorted(plan.train + plan.validation) == list(range(500))
    assert list(plan.validation) == held_out(first)
    assert [e.split for e in first].count("train") == 400
    # Only the split changed.
    assert [e.messages for e in first] == [e.messages for e in examples]


def test_the_split_is_fixed_across_runs_and_follows_content_not_order() -> None:
    examples = read_chat_jsonl(SAMPLE_DATASET).examples
    chosen = held_out(split_by_fraction(examples, 0.2, seed=7))
    # A literal: the same on every platform and Python version (no random module, no
    # hash randomisation). Changing the rank function changes this on purpose.
    assert chosen == EXPECTED_SAMPLE_VALIDATION
    reversed_split = split_by_fraction(examples[::-1], 0.2, seed=7)
    assert {e.question for e in reversed_split if e.split == "validation"} == {
        examples[i].question for i in chosen
    }
    assert held_out(split_by_fraction(examples, 0.2, seed=8)) != chosen


EXPECTED_SAMPLE_VALIDATION = [0, 3, 6, 7, 9, 11, 12, 31, 32, 38, 43, 47]


def test_validation_count_rounds_and_keeps_both_sides_non_empty() -> None:
    assert validation_count(10, 0.2) == 2
    assert validation_count(3, 0.1) == 1
    assert validation_count(2, 0.9) == 1
    assert validation_count(1, 0.5) == 0
    assert validation_count(100, 0.0) == 0
    with pytest.raises(ValueError, match="less than 1"):
        validation_count(10, 1.0)


def test_a_split_by_hand_puts_exactly_the_chosen_examples_in_validation() -> None:
    examples = generated_examples(10)
    result = split_by_hand(examples, [1, 3, 3, 7])
    assert held_out(result) == [1, 3, 7]
    again = split_by_hand(result, [])
    assert held_out(again) == []
    with pytest.raises(IndexError, match="10"):
        split_by_hand(examples, [10])
