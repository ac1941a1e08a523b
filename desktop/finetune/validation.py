"""Dataset validation: what OpenAI would reject, and what would waste a training run.

Errors follow OpenAI's documented chat format and the checks of its cookbook notebook
"Data preparation and analysis for chat model fine-tuning" (the category names are
the notebook's where it has one), extended to tool calling and ``weight``. The
notebook's crash cases (an integer ``weight``, ``content: null``) are reported, not
raised. Warnings are the notebook's (no system or user message, over the token limit)
plus three the notebook lacks: exact duplicates, near duplicates, and leakage of
evaluation questions into the training data.

Every check reads the JSON object of the training line (``TrainingExample.to_openai``
gives it back exactly, including what is wrong with it), so a line that failed to
import and an example being edited are judged by the same code.

Near duplicates, fast enough for 50,000 examples: the user and assistant text of
each example is normalised (case, punctuation, spacing) into words. Equal normalised
texts are near duplicates outright. Otherwise candidates come from one-permutation
MinHash (64 bins, densified by rotation) over word-bigram sets, banded 16 × 4, and
each candidate pair is confirmed with the exact Jaccard similarity of the bigram sets
(default threshold 0.8). Banding finds a pair at similarity 0.8 with probability
> 0.999, and the exact check means a reported pair is always truly similar. Word ids
come from first occurrence and the hash is fixed, so results do not vary between
runs. System prompts are left out: they are the same in most datasets.
"""

from __future__ import annotations

import itertools
import json
import logging
import string
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from desktop.finetune.examples import PreferenceExample, TrainingExample, _kind
from desktop.finetune.stats import ExampleTokens, TokenCounter, token_limit_for_model

logger = logging.getLogger(__name__)

Severity = Literal["error", "warning"]

# Errors
INVALID_JSON = "invalid_json"
DATA_TYPE = "data_type"
MISSING_MESSAGES_LIST = "missing_messages_list"
MESSAGE_MISSING_KEY = "message_missing_key"
MESSAGE_UNRECOGNIZED_KEY = "message_unrecognized_key"
UNRECOGNIZED_ROLE = "unrecognized_role"
MISSING_CONTENT = "missing_content"
EXAMPLE_MISSING_ASSISTANT_MESSAGE = "example_missing_assistant_message"
INVALID_WEIGHT = "invalid_weight"
INVALID_TOOLS = "invalid_tools"
INVALID_TOOL_CALLS = "invalid_tool_calls"
TOOL_CALL_MISSING_KEY = "tool_call_missing_key"
INVALID_TOOL_ARGUMENTS = "invalid_tool_arguments"
TOOL_MESSAGE_MISSING_ID = "tool_message_missing_id"
UNKNOWN_TOOL_CALL_ID = "unknown_tool_call_id"
MISSING_OUTPUT = "missing_output"
INVALID_OUTPUT = "invalid_output"
# Warnings
MISSING_SYSTEM_MESSAGE = "missing_system_message"
MISSING_USER_MESSAGE = "missing_user_message"
TOO_MANY_TOKENS = "too_many_tokens"
DUPLICATE = "duplicate"
NEAR_DUPLICATE = "near_duplicate"
LEAKAGE = "leakage"

WARNING_CATEGORIES = frozenset(
    {MISSING_SYSTEM_MESSAGE, MISSING_USER_MESSAGE, TOO_MANY_TOKENS, DUPLICATE, NEAR_DUPLICATE}
    | {LEAKAGE}
)

ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool", "function")
"""Roles OpenAI accepts in training data ("function" is the legacy function-calling form)."""
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}
)
_PLAIN_ROLES_TUPLE = ("system", "user", "assistant")  # a tuple: a role may be unhashable

DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.8
LEAKAGE_CONTAINMENT = 0.9
"""Share of an evaluation question's word pairs found in a user message to call it leaked."""
LEAKAGE_MIN_WORDS = 4
"""Shorter evaluation questions only leak by exact (normalised) match."""


@dataclass(frozen=True)
class Issue:
    """One finding. ``line`` is the 1-based line in the file it came from (None for
    examples made in the app); ``index`` is the example's position in the list that
    was validated, or -1 for a line that could not become an example."""

    line: int | None
    index: int
    category: str
    severity: Severity
    message: str


@dataclass
class ValidationReport:
    issues: list[Issue]
    tokens: list[ExampleTokens | None]
    """Token counts per example (None where there is no message list), for the stats."""
    token_limit: int
    examples: int = 0
    _by_index: dict[int, list[Issue]] | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing would make OpenAI reject the file."""
        return not any(i.severity == "error" for i in self.issues)

    def counts(self) -> dict[str, int]:
        """Issues per category, like the notebook's summary."""
        return dict(Counter(i.category for i in self.issues))

    def for_example(self, index: int) -> list[Issue]:
        if self._by_index is None:
            grouped: dict[int, list[Issue]] = defaultdict(list)
            for issue in self.issues:
                grouped[issue.index].append(issue)
            self._by_index = dict(grouped)
        return self._by_index.get(index, [])


# ---------------------------------------------------------------------------
# Structural checks of one line
# ---------------------------------------------------------------------------

Problem = tuple[str, str]  # (category, message)


def _check_tool_calls(
    calls: Any, where: str, role: Any, problems: list[Problem], call_ids: set[str]
) -> None:
    if role != "assistant":
        problems.append(
            (INVALID_TOOL_CALLS, f"{where}.tool_calls is only allowed on assistant messages")
        )
    if not isinstance(calls, list):
        problems.append((INVALID_TOOL_CALLS, f"{where}.tool_calls is {_kind(calls)}, not a list"))
        return
    for number, call in enumerate(calls):
        at = f"{where}.tool_calls[{number}]"
        if not isinstance(call, Mapping):
            problems.append((INVALID_TOOL_CALLS, f"{at} is {_kind(call)}, not an object"))
            continue
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            problems.append((TOOL_CALL_MISSING_KEY, f"{at} has no 'id'"))
        else:
            call_ids.add(call_id)
        kind = call.get("type", "function")
        if kind != "function":
            problems.append((INVALID_TOOL_CALLS, f"{at}.type is {kind!r}; expected 'function'"))
        function = call.get("function")
        if function is None:
            problems.append((TOOL_CALL_MISSING_KEY, f"{at} has no 'function'"))
            continue
        if not isinstance(function, Mapping):
            problems.append(
                (INVALID_TOOL_CALLS, f"{at}.function is {_kind(function)}, not an object")
            )
            continue
        name = function.get("name")
        if not isinstance(name, str) or not name:
            problems.append((TOOL_CALL_MISSING_KEY, f"{at}.function has no 'name'"))
        if "arguments" not in function:
            problems.append((TOOL_CALL_MISSING_KEY, f"{at}.function has no 'arguments'"))
            continue
        arguments = function["arguments"]
        if not isinstance(arguments, str):
            problems.append(
                (
                    INVALID_TOOL_ARGUMENTS,
                    f"{at}.function.arguments is {_kind(arguments)}; it must be a JSON string",
                )
            )
            continue
        try:
            json.loads(arguments)
        except ValueError as exc:
            problems.append(
                (INVALID_TOOL_ARGUMENTS, f"{at}.function.arguments is not valid JSON ({exc})")
            )


def _check_content(
    message: Mapping[str, Any], where: str, has_calls: bool, problems: list[Problem]
) -> None:
    if "content" not in message:
        return
    content = message["content"]
    if isinstance(content, str):
        if not content and not has_calls:
            problems.append((MISSING_CONTENT, f"{where}.content is empty"))
    elif isinstance(content, list):
        if not content:
            problems.append((MISSING_CONTENT, f"{where}.content is an empty list"))
        for number, part in enumerate(content):
            at = f"{where}.content[{number}]"
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                problems.append((MISSING_CONTENT, f"{at} is not a content part with a 'type'"))
            elif part["type"] == "text" and not isinstance(part.get("text"), str):
                problems.append((MISSING_CONTENT, f"{at} is a text part without 'text'"))
    elif content is None:
        if not has_calls:
            problems.append((MISSING_CONTENT, f"{where}.content is null"))
    else:
        problems.append((MISSING_CONTENT, f"{where}.content is {_kind(content)}, not text"))


def _check_message(
    message: Any, where: str, problems: list[Problem], call_ids: set[str]
) -> str | None:
    """Check one message; returns its role when it has a string one."""
    if not isinstance(message, Mapping):
        problems.append((DATA_TYPE, f"{where} is {_kind(message)}, not an object"))
        return None
    role = message.get("role")
    content = message.get("content")
    if len(message) == 2 and type(content) is str and content and role in _PLAIN_ROLES_TUPLE:
        return str(role)  # {"role", "content"} with text: nothing else to check
    has_calls = message.get("tool_calls") is not None or message.get("function_call") is not None
    if "role" not in message:
        problems.append((MESSAGE_MISSING_KEY, f"{where} has no 'role'"))
    if "content" not in message and not has_calls:
        problems.append((MESSAGE_MISSING_KEY, f"{where} has no 'content'"))
    for key in message:
        if key not in MESSAGE_KEYS:
            problems.append(
                (
                    MESSAGE_UNRECOGNIZED_KEY,
                    f"{where} has the key {key!r}, which OpenAI does not accept in a message",
                )
            )
    if "role" in message and role not in ROLES:
        problems.append(
            (
                UNRECOGNIZED_ROLE,
                f"{where}.role is {role!r}; expected system, user, assistant or tool",
            )
        )
    _check_content(message, where, has_calls, problems)
    if "weight" in message:
        weight = message["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int) or weight not in (0, 1):
            problems.append((INVALID_WEIGHT, f"{where}.weight is {weight!r}; it must be 0 or 1"))
        elif role != "assistant":
            problems.append(
                (INVALID_WEIGHT, f"{where}.weight is only allowed on assistant messages")
            )
    if "tool_calls" in message:
        _check_tool_calls(message["tool_calls"], where, role, problems, call_ids)
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            problems.append((TOOL_MESSAGE_MISSING_ID, f"{where} (a tool reply) has no tool_call_id"))
        elif call_id not in call_ids:
            problems.append(
                (
                    UNKNOWN_TOOL_CALL_ID,
                    f"{where}.tool_call_id {call_id!r} answers no earlier tool call",
                )
            )
    return role if isinstance(role, str) else None


def _check_tools(container: Mapping[str, Any], where: str, problems: list[Problem]) -> None:
    if "tools" in container:
        tools = container["tools"]
        if not isinstance(tools, list):
            problems.append((INVALID_TOOLS, f"{where}tools is {_kind(tools)}, not a list"))
        else:
            for number, tool in enumerate(tools):
                function = tool.get("function") if isinstance(tool, Mapping) else None
                if (
                    not isinstance(function, Mapping)
                    or not isinstance(function.get("name"), str)
                    or tool.get("type", "function") != "function"
                ):
                    problems.append(
                        (
                            INVALID_TOOLS,
                            f"{where}tools[{number}] is not a function tool with a name",
                        )
                    )
    if "parallel_tool_calls" in container and not isinstance(
        container["parallel_tool_calls"], bool
    ):
        value = container["parallel_tool_calls"]
        problems.append(
            (INVALID_TOOLS, f"{where}parallel_tool_calls is {_kind(value)}, not true or false")
        )


def check_record(record: Any) -> tuple[list[Problem], list[str] | None]:
    """The format errors of one chat training line, and its roles (None if no messages)."""
    problems: list[Problem] = []
    if not isinstance(record, Mapping):
        problems.append((DATA_TYPE, f"the line is {_kind(record)}, not a JSON object"))
        return problems, None
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        what = "missing" if "messages" not in record else _kind(messages)
        if messages == []:
            what = "empty"
        problems.append(
            (MISSING_MESSAGES_LIST, f"messages must be a non-empty list of messages ({what})")
        )
        return problems, None
    call_ids: set[str] = set()
    roles: list[str] = []
    for position, message in enumerate(messages):
        role = _check_message(message, f"messages[{position}]", problems, call_ids)
        if role is not None:
            roles.append(role)
    _check_tools(record, "", problems)
    if "assistant" not in roles:
        problems.append(
            (EXAMPLE_MISSING_ASSISTANT_MESSAGE, "no message has the role 'assistant'")
        )
    return problems, roles


def check_example(
    example: TrainingExample | Mapping[str, Any], *, index: int = 0, line: int | None = None
) -> list[Issue]:
    """Format errors and missing-message warnings of one example, for live feedback
    while it is edited (the dataset-wide checks need ``validate_examples``)."""
    record = example.to_openai() if isinstance(example, TrainingExample) else example
    problems, roles = check_record(record)
    issues = [Issue(line, index, c, "error", m) for c, m in problems]
    if roles is not None:
        issues.extend(_role_warnings(roles, index, line))
    return issues


def _role_warnings(roles: list[str], index: int, line: int | None) -> list[Issue]:
    issues = []
    if "system" not in roles:
        issues.append(Issue(line, index, MISSING_SYSTEM_MESSAGE, "warning", "no system message"))
    if "user" not in roles:
        issues.append(Issue(line, index, MISSING_USER_MESSAGE, "warning", "no user message"))
    return issues


# ---------------------------------------------------------------------------
# Text normalisation and similarity
# ---------------------------------------------------------------------------

_PUNCTUATION = string.punctuation + "¡¿«»‹›“”„‘’‚–—…·•§¶"
_TO_SPACE = str.maketrans(dict.fromkeys(_PUNCTUATION, " "))


def normalised_words(text: str) -> list[str]:
    """Lower-case words without punctuation: what "the same text" means here."""
    return text.lower().translate(_TO_SPACE).split()


def _bigrams(words: Sequence[str]) -> set[tuple[str, ...]]:
    if len(words) < 2:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], strict=False))


def jaccard(a: set[Any], b: set[Any]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


_BINS = 64
_BAND_ROWS = 4
_VALUE_BITS = 58
_EMPTY = np.uint64(2**64 - 1)
_MAX_GROUP_PAIRS = 64
_BAND_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit hash (no per-run seed)."""
    h = values.astype(np.uint64, copy=True)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


def _sketches(word_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """One-permutation MinHash sketches (len × 64) of word-bigram sets; all non-empty."""
    vocabulary = dict.fromkeys(itertools.chain.from_iterable(word_lists))
    ids = dict(zip(vocabulary, range(len(vocabulary)), strict=True))
    lengths = np.fromiter(map(len, word_lists), dtype=np.int64, count=len(word_lists))
    total = int(lengths.sum())
    words = np.fromiter(
        map(ids.__getitem__, itertools.chain.from_iterable(word_lists)),
        dtype=np.uint64,
        count=total,
    )
    owners = np.repeat(np.arange(len(word_lists), dtype=np.int64), lengths)
    ends = np.cumsum(lengths)
    # Bigram at position p joins words p and p+1 of the same example.
    same = np.ones(max(total - 1, 0), dtype=bool)
    inner_ends = ends[:-1] - 1
    same[inner_ends[inner_ends < total - 1]] = False
    codes = (words[:-1] << np.uint64(32)) | words[1:]
    codes, code_owners = codes[same], owners[:-1][same]
    single = np.flatnonzero(lengths == 1)
    if single.size:
        first = words[ends[single] - 1]
        codes = np.concatenate([codes, (first << np.uint64(32)) | first])
        code_owners = np.concatenate([code_owners, single])
    hashed = _mix(codes)
    bins = (hashed >> np.uint64(_VALUE_BITS)).astype(np.int64)
    values = hashed & np.uint64((1 << _VALUE_BITS) - 1)
    sketch = np.full(len(word_lists) * _BINS, _EMPTY, dtype=np.uint64)
    np.minimum.at(sketch, code_owners * _BINS + bins, values)
    sketch = sketch.reshape(len(word_lists), _BINS)
    # Densify: an empty bin borrows the nearest non-empty bin to its right, marked with
    # the distance, so that two sets agree on it exactly as often as on a real bin.
    rows = np.flatnonzero((sketch == _EMPTY).any(axis=1))
    if rows.size:
        original = sketch[rows]
        filled = original.copy()
        for shift in range(1, _BINS):
            missing = filled == _EMPTY
            if not missing.any():
                break
            rolled = np.roll(original, -shift, axis=1)
            take = missing & (rolled != _EMPTY)
            filled[take] = rolled[take] + np.uint64(shift << _VALUE_BITS)
        sketch[rows] = filled
    return sketch


def _candidate_pairs(sketch: np.ndarray) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for start in range(0, _BINS, _BAND_ROWS):
        band = sketch[:, start : start + _BAND_ROWS]
        keys = (band * _BAND_MULTIPLIERS).sum(axis=1, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        breaks = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        bounds = np.concatenate(([0], breaks, [len(ordered)]))
        sizes = np.diff(bounds)
        for group in np.flatnonzero(sizes > 1):
            members = sorted(order[bounds[group] : bounds[group + 1]].tolist())
            if len(members) <= _MAX_GROUP_PAIRS:
                pairs.update(itertools.combinations(members, 2))
            else:  # a huge group is one template: compare each with the first
                pairs.update((members[0], m) for m in members[1:])
    return pairs


def find_near_duplicates(
    word_lists: Sequence[Sequence[str]],
    threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
) -> dict[int, tuple[int, float]]:
    """For each text at least ``threshold`` similar (word-bigram Jaccard) to an earlier
    one: its index -> (the most similar earlier index, similarity). Empty texts never match.
    """
    present = [i for i, words in enumerate(word_lists) if words]
    if len(present) < 2:
        return {}
    sketch = _sketches([word_lists[i] for i in present])
    sets: dict[int, set[tuple[str, ...]]] = {}
    best: dict[int, tuple[int, float]] = {}
    for a, b in sorted(_candidate_pairs(sketch)):
        i, j = present[a], present[b]
        if i not in sets:
            sets[i] = _bigrams(word_lists[i])
        if j not in sets:
            sets[j] = _bigrams(word_lists[j])
        similarity = jaccard(sets[i], sets[j])
        if similarity >= threshold and (j not in best or similarity > best[j][1]):
            best[j] = (i, similarity)
    return best


# ---------------------------------------------------------------------------
# The whole dataset
# ---------------------------------------------------------------------------


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return ""


def _duplicate_key(record: Mapping[str, Any]) -> Any:
    """Equal keys mean the same training line (key order and spacing aside)."""
    parts: list[Any] = []
    for message in record["messages"]:
        if (
            isinstance(message, Mapping)
            and len(message) == 2
            and type(message.get("role")) is str
            and type(message.get("content")) is str
        ):
            parts.append((message["role"], message["content"]))
        else:
            parts.append(json.dumps(message, sort_keys=True, ensure_ascii=False))
    if len(record) > 1:
        rest = {k: v for k, v in record.items() if k != "messages"}
        parts.append(json.dumps(rest, sort_keys=True, ensure_ascii=False))
    return tuple(parts)


def _where(line: int | None, index: int) -> str:
    return f"line {line}" if line is not None else f"example {index + 1}"


def validate_examples(
    examples: Sequence[TrainingExample | Mapping[str, Any] | Any],
    *,
    model: str,
    lines: Sequence[int | None] | None = None,
    token_limit: int | None = None,
    evaluation_questions: Sequence[str] | None = None,
    near_duplicate_threshold: float | None = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    counter: TokenCounter | None = None,
) -> ValidationReport:
    """Check a chat dataset (examples or raw JSON values of lines).

    ``model`` chooses the tokenizer and the default token limit; ``lines`` gives each
    example's line in its file, for messages. ``evaluation_questions`` (optional) are
    checked for leakage into the user messages. ``near_duplicate_threshold=None``
    turns the near-duplicate search off.
    """
    limit = token_limit if token_limit is not None else token_limit_for_model(model)
    counter = counter if counter is not None else TokenCounter(model)
    line_of = list(lines) if lines is not None else [None] * len(examples)
    if len(line_of) != len(examples):
        raise ValueError("lines must have one entry per example")
    issues: list[Issue] = []
    tokens: list[ExampleTokens | None] = []
    first_of_key: dict[Any, int] = {}
    duplicates: set[int] = set()
    texts: list[list[str]] = []
    user_words: list[list[list[str]]] = []

    for index, example in enumerate(examples):
        line = line_of[index]
        record = example.to_openai() if isinstance(example, TrainingExample) else example
        problems, roles = check_record(record)
        issues.extend(Issue(line, index, c, "error", m) for c, m in problems)
        if roles is None:
            tokens.append(None)
            texts.append([])
            user_words.append([])
            continue
        issues.extend(_role_warnings(roles, index, line))
        counted = counter.record(record)
        tokens.append(counted)
        if counted is not None and counted.total > limit:
            issues.append(
                Issue(
                    line,
                    index,
                    TOO_MANY_TOKENS,
                    "warning",
                    f"the example has {counted.total:,} tokens, over the {limit:,}-token "
                    f"training limit of {model}: it will be truncated",
                )
            )
        key = _duplicate_key(record)
        first = first_of_key.setdefault(key, index)
        if first != index:
            duplicates.add(index)
            issues.append(
                Issue(
                    line,
                    index,
                    DUPLICATE,
                    "warning",
                    f"the same example as {_where(line_of[first], first)}",
                )
            )
        words: list[str] = []
        users: list[list[str]] = []
        for message in record["messages"]:
            if not isinstance(message, Mapping) or message.get("role") == "system":
                continue
            message_words = normalised_words(_message_text(message))
            words.extend(message_words)
            if message.get("role") == "user":
                users.append(message_words)
        texts.append(words)
        user_words.append(users)

    if near_duplicate_threshold is not None:
        issues.extend(_near_duplicates(texts, duplicates, line_of, near_duplicate_threshold))
    if evaluation_questions:
        issues.extend(_leakage(user_words, evaluation_questions, line_of))
    issues.sort(key=lambda issue: issue.index)
    return ValidationReport(issues, tokens, limit, len(examples))


def _near_duplicates(
    texts: list[list[str]], duplicates: set[int], line_of: list[int | None], threshold: float
) -> list[Issue]:
    issues = []
    first_of_text: dict[str, int] = {}
    candidates: list[list[str]] = []
    positions: list[int] = []
    for index, words in enumerate(texts):
        if index in duplicates or not words:
            continue
        first = first_of_text.setdefault(" ".join(words), index)
        if first != index:
            issues.append(
                Issue(
                    line_of[index],
                    index,
                    NEAR_DUPLICATE,
                    "warning",
                    f"the same user and assistant text as {_where(line_of[first], first)}, "
                    "apart from case, punctuation or spacing",
                )
            )
            continue
        candidates.append(words)
        positions.append(index)
    for later, (earlier, similarity) in sorted(
        find_near_duplicates(candidates, threshold).items()
    ):
        index, first = positions[later], positions[earlier]
        issues.append(
            Issue(
                line_of[index],
                index,
                NEAR_DUPLICATE,
                "warning",
                f"the user and assistant text is {similarity:.0%} similar to "
                f"{_where(line_of[first], first)}",
            )
        )
    return issues


def _leakage(
    user_words: list[list[list[str]]],
    evaluation_questions: Sequence[str],
    line_of: list[int | None],
) -> list[Issue]:
    exact: dict[str, int] = {}
    index_of_pair: dict[tuple[str, ...], list[int]] = defaultdict(list)
    pair_counts: list[int] = []
    for number, question in enumerate(evaluation_questions):
        words = normalised_words(question)
        pairs = _bigrams(words)
        pair_counts.append(len(pairs))
        if not words:
            continue
        exact.setdefault(" ".join(words), number)
        if len(words) >= LEAKAGE_MIN_WORDS:
            for pair in pairs:
                index_of_pair[pair].append(number)
    issues = []
    for index, users in enumerate(user_words):
        found: int | None = None
        for words in users:
            found = exact.get(" ".join(words))
            if found is not None or not index_of_pair:
                break
            hits: Counter[int] = Counter()
            for pair in _bigrams(words):
                hits.update(index_of_pair.get(pair, ()))
            leaked = [q for q, n in hits.items() if n >= LEAKAGE_CONTAINMENT * pair_counts[q]]
            if leaked:
                found = min(leaked)
                break
        if found is not None:
            question = evaluation_questions[found]
            shown = question if len(question) <= 80 else question[:77] + "..."
            issues.append(
                Issue(
                    line_of[index],
                    index,
                    LEAKAGE,
                    "warning",
                    f"a user message matches evaluation question {found + 1} ({shown!r}): "
                    "the evaluation would measure memory, not skill",
                )
            )
    return issues


# ---------------------------------------------------------------------------
# Preference (DPO) data
# ---------------------------------------------------------------------------


def check_preference_record(record: Any) -> list[Problem]:
    """Format errors of one DPO line: input messages, one assistant reply per output."""
    problems: list[Problem] = []
    if not isinstance(record, Mapping):
        return [(DATA_TYPE, f"the line is {_kind(record)}, not a JSON object")]
    given = record.get("input")
    messages = given.get("messages") if isinstance(given, Mapping) else None
    if not isinstance(messages, list) or not messages:
        problems.append(
            (MISSING_MESSAGES_LIST, "input.messages must be a non-empty list of messages")
        )
    else:
        call_ids: set[str] = set()
        for position, message in enumerate(messages):
            _check_message(message, f"input.messages[{position}]", problems, call_ids)
        assert isinstance(given, Mapping)
        _check_tools(given, "input.", problems)
    for key in ("preferred_output", "non_preferred_output"):
        output = record.get(key)
        if not isinstance(output, list) or not output:
            problems.append((MISSING_OUTPUT, f"{key} must be a list with one assistant message"))
            continue
        if len(output) != 1:
            problems.append(
                (INVALID_OUTPUT, f"{key} has {len(output)} messages; it must have exactly one")
            )
        for position, message in enumerate(output):
            role = _check_message(message, f"{key}[{position}]", problems, set())
            if role is not None and role != "assistant":
                problems.append(
                    (INVALID_OUTPUT, f"{key}[{position}].role is {role!r}; expected 'assistant'")
                )
    return problems


def validate_preference_examples(
    examples: Sequence[PreferenceExample | Mapping[str, Any] | Any],
    *,
    lines: Sequence[int | None] | None = None,
) -> list[Issue]:
    """Format errors of a DPO dataset, plus exact duplicates and identical reply pairs."""
    line_of = list(lines) if lines is not None else [None] * len(examples)
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for index, example in enumerate(examples):
        line = line_of[index]
        record = example.to_openai() if isinstance(example, PreferenceExample) else example
        problems = check_preference_record(record)
        issues.extend(Issue(line, index, c, "error", m) for c, m in problems)
        if problems:
            continue
        if record["preferred_output"] == record["non_preferred_output"]:
            issues.append(
                Issue(
                    line,
                    index,
                    INVALID_OUTPUT,
                    "error",
                    "preferred_output and non_preferred_output are the same",
                )
            )
        key = json.dumps(record, sort_keys=True, ensure_ascii=False)
        first = seen.setdefault(key, index)
        if first != index:
            issues.append(
                Issue(
                    line, index, DUPLICATE, "warning", f"the same example as {_where(line_of[first], first)}"
                )
            )
    return issues


def summarize(issues: Iterable[Issue]) -> str:
    """One line per category with its count, errors first (for logs and the CLI)."""
    counts = Counter((i.severity, i.category) for i in issues)
    if not counts:
        return "No errors found"
    ordered = sorted(counts.items(), key=lambda item: (item[0][0] != "error", item[0][1]))
    return "\n".join(f"{severity} {category}: {n}" for (severity, category), n in ordered)
