"""Tokens and cost: estimated before a run starts, and counted per answer after.

Prices are US dollars per million input and output tokens, OpenAI's list prices as of
2025 (fine-tuned models cost more to use than their base). They go out of date and a
local server's models cost nothing: ``settings.extra["answer_prices"]`` (model prefix →
[input, output]) overrides them, and a model in neither has no cost, shown as unknown,
never as zero."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.tokens import encoding_for_model, get_tokenizer

DEFAULT_ANSWER_PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "ft:gpt-4.1": (3.00, 12.00),
    "ft:gpt-4.1-mini": (0.80, 3.20),
    "ft:gpt-4.1-nano": (0.20, 0.80),
    "ft:gpt-4o": (3.75, 15.00),
    "ft:gpt-4o-mini": (0.30, 1.20),
}
EXPECTED_ANSWER_TOKENS = 150
"""Completion tokens assumed per answer when the reference gives no better guess."""
JUDGE_REPLY_TOKENS = 60
PROMPT_OVERHEAD_TOKENS = 120
"""The chat's system prompt and message framing, per question."""


def answer_price(
    model: str, overrides: Mapping[str, Any] | None = None
) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens by longest matching prefix, or None."""
    name = model.strip().lower()
    best: tuple[str, tuple[float, float]] | None = None
    for table in (DEFAULT_ANSWER_PRICES, overrides or {}):
        for prefix, price in table.items():
            key = prefix.lower()
            if not name.startswith(key) or (best is not None and len(key) < len(best[0])):
                continue
            if isinstance(price, list | tuple) and len(price) == 2:
                best = (key, (float(price[0]), float(price[1])))
    return None if best is None else best[1]


def usage_cost(
    model: str, usage: Mapping[str, int], overrides: Mapping[str, Any] | None = None
) -> float | None:
    price = answer_price(model, overrides)
    if price is None or not usage:
        return None
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return (prompt * price[0] + completion * price[1]) / 1_000_000


@dataclass(frozen=True)
class RunEstimate:
    questions: int
    prompt_tokens: int
    completion_tokens: int
    judge_tokens: int
    cost_usd: float | None
    """None when a model's price is unknown."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens + self.judge_tokens

    def describe(self) -> str:
        cost = f"about ${self.cost_usd:,.2f}" if self.cost_usd is not None else "cost unknown"
        if self.cost_usd is not None and self.cost_usd == 0:
            cost = "no cost (retrieval only)"
        return (
            f"{self.questions:,} questions, about {self.total_tokens:,} tokens, {cost}"
            if self.total_tokens
            else f"{self.questions:,} questions, no model calls ({cost})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "judge_tokens": self.judge_tokens,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 4),
        }


def estimate_run(
    questions: Sequence[str],
    references: Sequence[str],
    *,
    model: str,
    answers: bool,
    retrieves: bool,
    k: int,
    mean_chunk_tokens: float,
    judge_model: str = "",
    overrides: Mapping[str, Any] | None = None,
) -> RunEstimate:
    """What a run will send, before it starts: per question the prompt (framing, the k
    chunks at the library's mean size when retrieving, the question) and an answer as
    long as the reference (at least ``EXPECTED_ANSWER_TOKENS``); the judge reads all of
    that again."""
    if not answers:
        return RunEstimate(len(questions), 0, 0, 0, 0.0)
    tokenizer = get_tokenizer(encoding_for_model(model))
    context = int(k * mean_chunk_tokens) if retrieves else 0
    prompt = completion = 0
    for question, reference in zip(questions, references, strict=True):
        prompt += PROMPT_OVERHEAD_TOKENS + context + tokenizer.count(question)
        completion += max(EXPECTED_ANSWER_TOKENS, tokenizer.count(reference))
    judge = 0
    if judge_model:
        judge = prompt + completion + len(questions) * (PROMPT_OVERHEAD_TOKENS + JUDGE_REPLY_TOKENS)
    cost: float | None = None
    price = answer_price(model, overrides)
    if price is not None:
        cost = (prompt * price[0] + completion * price[1]) / 1_000_000
        if judge_model:
            judge_price = answer_price(judge_model, overrides)
            if judge_price is None:
                cost = None
            else:
                replies = len(questions) * JUDGE_REPLY_TOKENS
                cost += (judge * judge_price[0] + replies * judge_price[1]) / 1_000_000
    return RunEstimate(len(questions), prompt, completion, judge, cost)
