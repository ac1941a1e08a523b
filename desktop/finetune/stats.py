"""Token counts, dataset statistics and the training cost estimate.

Tokens are counted the way OpenAI's cookbook notebook "Data preparation and analysis
for chat model fine-tuning" counts them, because that is the estimate users compare
with: 3 tokens per message, the tokens of its content, the tokens of its ``name``
plus 1, and 3 for the reply primer. Two deliberate differences:

- The notebook also encodes the role string (one more token per message for the
  usual roles). We follow the documented formula above instead, as the dataset's
  README does; the difference is one token per message (under 1 % on the sample set).
- The notebook crashes on an integer ``weight`` and on ``content: null`` (it encodes
  every value). We count only text: content (or its text parts), name, and the
  function name and arguments of tool calls; ``tools`` definitions add the tokens of
  their compact JSON once per example. These are estimates, not OpenAI's bill.

Billing follows the notebook too: each example is billed up to the token limit
(longer ones are truncated), times the number of epochs, which OpenAI chooses from
the number of training examples unless the user sets it. Prices and limits are
tables of defaults that go out of date: callers pass their own (from settings).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from desktop.finetune.examples import PreferenceExample, TrainingExample
from desktop.tokens import Tokenizer, get_tokenizer

logger = logging.getLogger(__name__)

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_REPLY = 3

MIN_EXAMPLES = 10
"""OpenAI refuses a training file with fewer examples."""
RECOMMENDED_EXAMPLES = (50, 100)
"""Where OpenAI's guide says improvements usually start to show."""

# OpenAI's default epochs rule (from the cookbook notebook).
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

DEFAULT_TOKEN_LIMIT = 16_385
"""Per-example training limit for a model not in ``TRAINING_TOKEN_LIMITS``.

The cookbook notebook used 4,096 (gpt-3.5-turbo-0613) and later 16,385 (gpt-3.5-turbo
-1106/0125). We keep 16,385 for unknown models: it is the conservative one of the
current values, so an unknown model warns early rather than never."""

TRAINING_TOKEN_LIMITS: Mapping[str, int] = {
    # Maximum tokens per training example, from OpenAI's fine-tuning guide (2024-2025).
    # Matched by longest prefix after removing "ft:". May be outdated: override it.
    "gpt-4.1": 65_536,
    "gpt-4o": 65_536,
    "gpt-4-0613": 8_192,
    "gpt-3.5-turbo-0613": 4_096,
    "gpt-3.5-turbo": 16_385,
    "babbage-002": 16_384,
    "davinci-002": 16_384,
}

DEFAULT_TRAINING_PRICES: Mapping[str, float] = {
    # US dollars per million training tokens, OpenAI's price list as of 2025. Matched
    # by longest prefix after removing "ft:". Editable defaults that go out of date:
    # the settings let the user override them, and an unknown model has no price.
    "gpt-4.1": 25.00,
    "gpt-4.1-mini": 5.00,
    "gpt-4.1-nano": 1.50,
    "gpt-4o": 25.00,
    "gpt-4o-mini": 3.00,
    "gpt-3.5-turbo": 8.00,
    "davinci-002": 6.00,
    "babbage-002": 0.40,
}


def _base_model(model: str) -> str:
    name = model.strip().lower().rsplit("/", 1)[-1]
    name = name.removeprefix("ft:")
    return name.split(":", 1)[0]  # ft:gpt-4o-mini-2024-07-18:org::id


def _longest_prefix(model: str, table: Mapping[str, Any]) -> Any:
    name = _base_model(model)
    best = None
    for key in table:
        if name.startswith(key.lower()) and (best is None or len(key) > len(best)):
            best = key
    return None if best is None else table[best]


def token_limit_for_model(model: str, limits: Mapping[str, int] | None = None) -> int:
    """The per-example training token limit of a model (``DEFAULT_TOKEN_LIMIT`` if unknown)."""
    limit = _longest_prefix(model, TRAINING_TOKEN_LIMITS if limits is None else limits)
    return DEFAULT_TOKEN_LIMIT if limit is None else int(limit)


def training_price(model: str, prices: Mapping[str, float] | None = None) -> float | None:
    """Dollars per million training tokens, or None when the model is not in the table."""
    price = _longest_prefix(model, DEFAULT_TRAINING_PRICES if prices is None else prices)
    return None if price is None else float(price)


def default_epochs(n_train: int) -> int:
    """The number of epochs OpenAI picks when none is given (the cookbook's rule)."""
    if n_train <= 0:
        return TARGET_EPOCHS
    if n_train * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train)
    if n_train * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train)
    return TARGET_EPOCHS


# ---------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------


class ExampleTokens(NamedTuple):
    total: int
    """What the example costs per epoch before truncation (the cookbook's count)."""
    assistant: int
    """Tokens of assistant replies (content and tool calls): what the model learns to write."""


_CACHE_LIMIT = 500_000


class TokenCounter:
    """Counts tokens of examples, encoding each distinct text once.

    System prompts repeat across thousands of examples, so the cache keyed by the
    text itself turns most of them into one dictionary look-up. Share one counter
    between validation and statistics of the same dataset.
    """

    def __init__(self, model_or_encoding: str, *, tokenizer: Tokenizer | None = None) -> None:
        self.tokenizer = tokenizer if tokenizer is not None else get_tokenizer(model_or_encoding)
        self._cache: dict[str, int] = {}

    @property
    def encoding(self) -> str:
        return self.tokenizer.name

    def text(self, text: str) -> int:
        count = self._cache.get(text)
        if count is None:
            count = self.tokenizer.count(text)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[text] = count
        return count

    def _content(self, content: Any) -> int:
        if isinstance(content, str):
            return self.text(content)
        if isinstance(content, list | tuple):
            return sum(
                self.text(part["text"])
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
        return 0

    def _calls(self, message: Mapping[str, Any]) -> int:
        count = 0
        calls = message.get("tool_calls")
        functions = (
            [c.get("function") for c in calls if isinstance(c, dict)]
            if isinstance(calls, list | tuple)
            else []
        )
        legacy = message.get("function_call")
        if isinstance(legacy, dict):
            functions.append(legacy)
        for function in functions:
            if isinstance(function, dict):
                for key in ("name", "arguments"):
                    value = function.get(key)
                    if isinstance(value, str):
                        count += self.text(value)
        return count

    def message(self, message: Mapping[str, Any]) -> tuple[int, int]:
        """``(tokens, reply tokens)`` of one message; reply tokens only for the assistant."""
        content = message.get("content")
        if len(message) == 2 and type(content) is str and "role" in message:  # the usual case
            count = self.text(content)
            overhead = TOKENS_PER_MESSAGE
            return overhead + count, count if message.get("role") == "assistant" else 0
        count = self._content(content) + self._calls(message)
        name = message.get("name")
        total = TOKENS_PER_MESSAGE + count
        if isinstance(name, str):
            total += self.text(name) + TOKENS_PER_NAME
        return total, count if message.get("role") == "assistant" else 0

    def record(self, record: Any) -> ExampleTokens | None:
        """Counts for one chat training line; None when it has no message list."""
        if not isinstance(record, dict):
            return None
        messages = record.get("messages")
        if not isinstance(messages, list):
            return None
        total = TOKENS_PER_REPLY
        assistant = 0
        for message in messages:
            if isinstance(message, dict):
                tokens, reply = self.message(message)
                total += tokens
                assistant += reply
        tools = record.get("tools")
        if isinstance(tools, list) and tools:
            total += self.text(json.dumps(tools, ensure_ascii=False, separators=(",", ":")))
        return ExampleTokens(total, assistant)

    def example(self, example: TrainingExample | PreferenceExample) -> ExampleTokens:
        """Counts for an example; a preference example counts its input and preferred reply."""
        if isinstance(example, PreferenceExample):
            record: dict[str, Any] = {
                "messages": [m.to_openai() for m in (*example.input, *example.preferred_output)]
            }
            if example.tools:
                record["tools"] = list(example.tools)
        else:
            record = example.to_openai()
        counts = self.record(record)
        assert counts is not None
        return counts


def count_tokens(
    examples: Iterable[TrainingExample | PreferenceExample], counter: TokenCounter
) -> list[ExampleTokens]:
    return [counter.example(example) for example in examples]


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """min / max / mean / median / p5 / p95 of one measure over the dataset.

    The notebook labels its figures "p5 / p95" but computes the 10th and 90th
    percentiles; these are the real 5th and 95th (linear interpolation).
    """

    min: float
    max: float
    mean: float
    median: float
    p5: float
    p95: float

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> Distribution:
        array = np.asarray(values, dtype=np.float64)
        if array.size == 0:
            return cls(0, 0, 0.0, 0.0, 0.0, 0.0)
        p5, median, p95 = np.percentile(array, [5, 50, 95])
        return cls(
            float(array.min()),
            float(array.max()),
            float(array.mean()),
            float(median),
            float(p5),
            float(p95),
        )


SizeLevel = Literal["below_minimum", "below_recommended", "recommended", "above_recommended"]


def size_level(n_train: int) -> SizeLevel:
    if n_train < MIN_EXAMPLES:
        return "below_minimum"
    if n_train < RECOMMENDED_EXAMPLES[0]:
        return "below_recommended"
    if n_train <= RECOMMENDED_EXAMPLES[1]:
        return "recommended"
    return "above_recommended"


def size_message(n_train: int) -> str:
    level = size_level(n_train)
    if level == "below_minimum":
        return (
            f"{n_train} training example(s): OpenAI needs at least {MIN_EXAMPLES} to start a job."
        )
    if level == "below_recommended":
        return (
            f"{n_train} training examples: enough to start, but gains usually show from "
            f"{RECOMMENDED_EXAMPLES[0]}–{RECOMMENDED_EXAMPLES[1]}."
        )
    if level == "recommended":
        return f"{n_train} training examples: in the range where gains usually show."
    return f"{n_train} training examples."


@dataclass(frozen=True)
class CostEstimate:
    model: str
    train_examples: int
    epochs: int
    epochs_overridden: bool
    token_limit: int
    billed_tokens_per_epoch: int
    """Σ min(limit, tokens) over the training examples."""
    billed_tokens: int
    """``epochs × billed_tokens_per_epoch``: what OpenAI charges for."""
    price_per_million: float | None
    cost: float | None
    """Dollars; None when the model's price is unknown."""


def estimate_cost(
    train_tokens: Sequence[int],
    *,
    model: str,
    token_limit: int | None = None,
    epochs: int | None = None,
    price_per_million: float | None = None,
    prices: Mapping[str, float] | None = None,
) -> CostEstimate:
    """The training bill for examples with these token counts (training split only).

    ``price_per_million`` wins over the ``prices`` table, which wins over the defaults.
    """
    if epochs is not None and epochs < 1:
        raise ValueError("epochs must be at least 1")
    limit = token_limit if token_limit is not None else token_limit_for_model(model)
    n = len(train_tokens)
    chosen = epochs if epochs is not None else default_epochs(n)
    per_epoch = int(np.minimum(np.asarray(train_tokens, dtype=np.int64), limit).sum()) if n else 0
    billed = chosen * per_epoch
    price = price_per_million if price_per_million is not None else training_price(model, prices)
    cost = None if price is None else billed / 1_000_000 * price
    return CostEstimate(model, n, chosen, epochs is not None, limit, per_epoch, billed, price, cost)


@dataclass(frozen=True)
class DatasetStats:
    examples: int
    train_examples: int
    validation_examples: int
    size_level: SizeLevel
    size_message: str
    total_tokens: Distribution
    assistant_tokens: Distribution
    messages_per_example: Distribution
    histogram: tuple[tuple[int, int, int], ...]
    """``(low, high, count)`` bins of total tokens per example (high exclusive, but the
    last bin includes the maximum)."""
    assistant_share: float
    """Assistant tokens / all tokens: the part of each example the model learns to write."""
    token_limit: int
    over_limit: tuple[int, ...]
    """Indices of examples over the limit: they will be truncated in training."""
    cost: CostEstimate
    tokens: tuple[ExampleTokens, ...]


def _histogram(values: np.ndarray, bins: int) -> tuple[tuple[int, int, int], ...]:
    if values.size == 0:
        return ()
    low, high = int(values.min()), int(values.max())
    width = max(1, math.ceil((high - low + 1) / bins))
    edges = np.arange(low, high + width + 1, width)
    counts, _ = np.histogram(values, bins=edges)
    return tuple((int(edges[i]), int(edges[i + 1]), int(counts[i])) for i in range(len(counts)))


def dataset_stats(
    examples: Sequence[TrainingExample | PreferenceExample],
    *,
    model: str,
    token_limit: int | None = None,
    epochs: int | None = None,
    price_per_million: float | None = None,
    prices: Mapping[str, float] | None = None,
    counter: TokenCounter | None = None,
    tokens: Sequence[ExampleTokens | None] | None = None,
    bins: int = 20,
) -> DatasetStats:
    """Everything the statistics pane shows, for the whole dataset.

    Pass ``tokens`` (from ``ValidationReport.tokens``) or a shared ``counter`` to avoid
    counting twice. The cost covers the training split only: validation examples are
    not trained on.
    """
    limit = token_limit if token_limit is not None else token_limit_for_model(model)
    if tokens is None:
        counter = counter if counter is not None else TokenCounter(model)
        tokens = count_tokens(examples, counter)
    if len(tokens) != len(examples):
        raise ValueError("tokens must have one entry per example")
    counted = [t if t is not None else ExampleTokens(0, 0) for t in tokens]
    totals = np.fromiter((t.total for t in counted), dtype=np.int64, count=len(counted))
    replies = np.fromiter((t.assistant for t in counted), dtype=np.int64, count=len(counted))
    sizes = [
        len(e.messages) if isinstance(e, TrainingExample) else len(e.input) + 1 for e in examples
    ]
    is_train = np.fromiter((e.split == "train" for e in examples), dtype=bool, count=len(examples))
    n_train = int(is_train.sum())
    total_sum = int(totals.sum())
    cost = estimate_cost(
        totals[is_train].tolist(),
        model=model,
        token_limit=limit,
        epochs=epochs,
        price_per_million=price_per_million,
        prices=prices,
    )
    return DatasetStats(
        examples=len(examples),
        train_examples=n_train,
        validation_examples=len(examples) - n_train,
        size_level=size_level(n_train),
        size_message=size_message(n_train),
        total_tokens=Distribution.of(totals),
        assistant_tokens=Distribution.of(replies),
        messages_per_example=Distribution.of(sizes),
        histogram=_histogram(totals, bins),
        assistant_share=float(replies.sum()) / total_sum if total_sum else 0.0,
        token_limit=limit,
        over_limit=tuple(np.flatnonzero(totals > limit).tolist()),
        cost=cost,
        tokens=tuple(counted),
    )
