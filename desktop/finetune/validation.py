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

import hashlib
import itertools
import json
import logging
import string
from array import array
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
        if not isinstance(call, dict):
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
        if not isinstance(function, dict):
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
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
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
    if not isinstance(message, dict):
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
            problems.append(
                (TOOL_MESSAGE_MISSING_ID, f"{where} (a tool reply) has no tool_call_id")
            )
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
                function = tool.get("function") if isinstance(tool, dict) else None
                if (
                    not isinstance(function, dict)
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
    if not isinstance(record, dict):
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
        if (
            type(message) is dict
            and len(message) == 2
            and type(role := message.get("role")) is str
            and role in _PLAIN_ROLES_TUPLE
            and type(content := message.get("content")) is str
            and content
        ):
            roles.append(role)  # {"role", "content"} with text: nothing else to check
            continue
        checked = _check_message(message, f"messages[{position}]", problems, call_ids)
        if checked is not None:
            roles.append(checked)
    if len(record) > 1:
        _check_tools(record, "", problems)
    if "assistant" not in roles:
        problems.append((EXAMPLE_MISSING_ASSISTANT_MESSAGE, "no message has the role 'assistant'"))
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
    return set(itertools.pairwise(words))


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


_DONORS = np.random.default_rng(20261125).integers(0, _BINS, size=(32, _BINS))
"""Donor bins for densification: fixed, so sketches are the same on every run."""


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit hash (no per-run seed)."""
    h = values.astype(np.uint64, copy=True)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


class WordIds:
    """Normalised texts as one array of word ids plus a length per text.

    Ids are given by first occurrence (a ``defaultdict`` over a counter: all C code, no
    per-word Python), so they are the same on every run, and 50,000 texts cost a few
    megabytes instead of millions of word strings.
    """

    def __init__(self) -> None:
        self._vocabulary: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        self.ids = array("q")
        self.lengths = array("q")

    def add(self, words: Iterable[str]) -> bytes:
        """Append one text; returns its ids as bytes (equal bytes: equal texts)."""
        start = len(self.ids)
        self.ids.extend(map(self._vocabulary.__getitem__, words))
        self.lengths.append(len(self.ids) - start)
        return self.ids[start:].tobytes()

    def __len__(self) -> int:
        return len(self.lengths)

    def subset(self, texts: Sequence[int]) -> WordIds:
        """The given texts only, in that order (sharing the vocabulary)."""
        lengths = np.frombuffer(self.lengths, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        chosen = np.asarray(texts, dtype=np.int64)
        out = WordIds()
        out._vocabulary = self._vocabulary
        if chosen.size:
            ids = np.frombuffer(self.ids, dtype=np.int64)
            out.ids.frombytes(ids[_ranges(starts[chosen], lengths[chosen])].tobytes())
            out.lengths.frombytes(lengths[chosen].tobytes())
        return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + length)`` for many ranges, without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _shingles(texts: WordIds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word-bigram codes of every text, the text each belongs to, and where each text's
    codes start (a one-word text gets the word itself; an empty one nothing)."""
    words = np.frombuffer(texts.ids, dtype=np.int64).astype(np.uint64)
    lengths = np.frombuffer(texts.lengths, dtype=np.int64)
    counts = np.where(lengths >= 2, lengths - 1, lengths)  # shingles per text
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    codes = np.empty(int(counts.sum()), dtype=np.uint64)
    owners = np.repeat(np.arange(len(lengths), dtype=np.int64), counts)
    # Position p starts a bigram unless it is the last word of its text.
    if total >= 2:
        starts_pair = np.ones(total - 1, dtype=bool)
        last = ends[lengths > 0] - 1
        starts_pair[last[last < total - 1]] = False
        pairs = (words[:-1] << np.uint64(32)) | words[1:]
        pair_codes = pairs[starts_pair]
    else:
        pair_codes = np.zeros(0, dtype=np.uint64)
    single = lengths == 1
    if single.any():
        # Interleave: texts are in order, so place bigrams and single words by owner.
        is_single = single[owners]
        codes[~is_single] = pair_codes
        one = words[ends[single] - 1]
        codes[is_single] = (one << np.uint64(32)) | one
    else:
        codes[:] = pair_codes
    offsets = np.concatenate(([0], np.cumsum(counts)))
    return codes, owners, offsets


def _sketches(codes: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    """One-permutation MinHash sketches (n × 64) of the texts' shingle sets."""
    hashed = _mix(codes)
    bins = (hashed >> np.uint64(_VALUE_BITS)).astype(np.int64)
    values = hashed & np.uint64((1 << _VALUE_BITS) - 1)
    sketch = np.full(n * _BINS, _EMPTY, dtype=np.uint64)
    np.minimum.at(sketch, owners * _BINS + bins, values)
    sketch = sketch.reshape(n, _BINS)
    # Densify ("optimal densification", Shrivastava 2017): an empty bin takes the value
    # of a donor bin picked by a fixed pseudo-random sequence, the same for every set,
    # so two sets agree on it about as often as on a real bin, and neighbouring empty
    # bins do not copy one donor (which would make whole bands agree by accident).
    rows, columns = np.nonzero(sketch == _EMPTY)
    unique_rows = np.unique(rows)
    original = sketch[unique_rows]
    local = np.searchsorted(unique_rows, rows)  # row numbers within ``original``
    for donors in _DONORS:
        if not rows.size:
            break
        values = original[local, donors[columns]]
        found = values != _EMPTY
        sketch[rows[found], columns[found]] = values[found]
        rows, columns, local = rows[~found], columns[~found], local[~found]
    for shift in range(1, _BINS):  # sets with very few bins: the nearest one to the right
        if not rows.size:
            break
        values = original[local, (columns + shift) % _BINS]
        found = values != _EMPTY
        sketch[rows[found], columns[found]] = values[found] + np.uint64(shift << _VALUE_BITS)
        rows, columns, local = rows[~found], columns[~found], local[~found]
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


def near_duplicate_pairs(
    texts: WordIds, threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD
) -> dict[int, tuple[int, float]]:
    """For each text at least ``threshold`` similar (word-bigram Jaccard) to an earlier
    one: its index -> (the most similar earlier index, similarity). Empty texts never match.
    """
    lengths = np.frombuffer(texts.lengths, dtype=np.int64)
    present = np.flatnonzero(lengths > 0)
    if present.size < 2:
        return {}
    if present.size < len(lengths):
        dense = texts.subset(present.tolist())
        found = near_duplicate_pairs(dense, threshold)
        return {
            int(present[j]): (int(present[i]), similarity) for j, (i, similarity) in found.items()
        }
    codes, owners, offsets = _shingles(texts)
    sketch = _sketches(codes, owners, len(lengths))
    sets: dict[int, set[int]] = {}
    best: dict[int, tuple[int, float]] = {}
    for i, j in sorted(_candidate_pairs(sketch)):
        for k in (i, j):
            if k not in sets:
                sets[k] = set(codes[offsets[k] : offsets[k + 1]].tolist())
        similarity = jaccard(sets[i], sets[j])
        if similarity >= threshold and (j not in best or similarity > best[j][1]):
            best[j] = (i, similarity)
    return best


def find_near_duplicates(
    word_lists: Sequence[Sequence[str]],
    threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
) -> dict[int, tuple[int, float]]:
    """``near_duplicate_pairs`` for texts given as lists of (normalised) words."""
    texts = WordIds()
    for words in word_lists:
        texts.add(words)
    return near_duplicate_pairs(texts, threshold)


class _Leakage:
    """Finds evaluation questions in user messages.

    A user message leaks an evaluation question when it equals it (normalised) or
    holds at least ``LEAKAGE_CONTAINMENT`` of its word pairs (the question pasted into a
    longer message). A message that misses at most m of a question's pairs holds at
    least one of any m + 1 of them, so only those m + 1 "signature" pairs are looked
    up; the rare-looking ones (longest words) are chosen to keep candidates few.
    """

    def __init__(self, questions: Sequence[str]) -> None:
        self.questions = list(questions)
        self._exact: dict[str, int] = {}
        self._pairs: dict[int, set[tuple[str, ...]]] = {}
        self._signatures: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for number, question in enumerate(self.questions):
            words = normalised_words(question)
            if not words:
                continue
            self._exact.setdefault(" ".join(words), number)
            if len(words) < LEAKAGE_MIN_WORDS:
                continue
            pairs = _bigrams(words)
            self._pairs[number] = pairs
            misses = int(len(pairs) * (1 - LEAKAGE_CONTAINMENT))
            ranked = sorted(pairs, key=lambda pair: (-sum(map(len, pair)), pair))
            for pair in ranked[: misses + 1]:
                self._signatures[pair].append(number)

    def match(self, words: list[str]) -> int | None:
        """The first evaluation question the message leaks, or None."""
        found = self._exact.get(" ".join(words))
        if found is not None or not self._signatures:
            return found
        candidates: set[int] = set()
        for pair in itertools.pairwise(words):
            hit = self._signatures.get(pair)
            if hit is not None:
                candidates.update(hit)
        if not candidates:
            return None
        present = _bigrams(words)
        for number in sorted(candidates):
            pairs = self._pairs[number]
            if len(pairs & present) >= LEAKAGE_CONTAINMENT * len(pairs):
                return number
        return None

    def issue(self, number: int, line: int | None, index: int) -> Issue:
        question = self.questions[number]
        shown = question if len(question) <= 80 else question[:77] + "..."
        return Issue(
            line,
            index,
            LEAKAGE,
            "warning",
            f"a user message matches evaluation question {number + 1} ({shown!r}): "
            "the evaluation would measure memory, not skill",
        )


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
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _duplicate_key(record: Mapping[str, Any]) -> Any:
    """Equal keys mean the same training line (key order and spacing aside)."""
    parts: list[Any] = []
    for message in record["messages"]:
        if (
            isinstance(message, dict)
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
    leakage = _Leakage(evaluation_questions) if evaluation_questions else None
    issues: list[Issue] = []
    tokens: list[ExampleTokens | None] = []
    first_of_key: dict[Any, int] = {}
    first_of_text: dict[bytes, int] = {}
    texts = WordIds()  # user and assistant words of each example
    similar_candidates: list[int] = []

    for index, example in enumerate(examples):
        line = line_of[index]
        record = example.to_openai() if isinstance(example, TrainingExample) else example
        problems, roles = check_record(record)
        issues.extend(Issue(line, index, c, "error", m) for c, m in problems)
        if roles is None:
            tokens.append(None)
            texts.add(())
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
        words: list[str] = []
        leaked: int | None = None
        for message in record["messages"]:
            if not isinstance(message, dict) or message.get("role") == "system":
                continue
            message_words = normalised_words(_message_text(message))
            words.extend(message_words)
            if leakage is not None and leaked is None and message.get("role") == "user":
                leaked = leakage.match(message_words)
        text = texts.add(words)
        first = first_of_key.setdefault(_duplicate_key(record), index)
        if first != index:
            issues.append(
                Issue(
                    line,
                    index,
                    DUPLICATE,
                    "warning",
                    f"the same example as {_where(line_of[first], first)}",
                )
            )
        elif words:
            digest = hashlib.blake2b(text, digest_size=16).digest()
            first = first_of_text.setdefault(digest, index)
            if first != index:
                issues.append(
                    Issue(
                        line,
                        index,
                        NEAR_DUPLICATE,
                        "warning",
                        f"the same user and assistant text as {_where(line_of[first], first)}, "
                        "apart from case, punctuation or spacing",
                    )
                )
            else:
                similar_candidates.append(index)
        if leaked is not None and leakage is not None:
            issues.append(leakage.issue(leaked, line, index))

    if near_duplicate_threshold is not None and len(similar_candidates) > 1:
        # Exact and normalised duplicates are reported already: only the first of each.
        found = near_duplicate_pairs(texts.subset(similar_candidates), near_duplicate_threshold)
        for later, (earlier, similarity) in sorted(found.items()):
            index, first = similar_candidates[later], similar_candidates[earlier]
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
    issues.sort(key=lambda issue: issue.index)
    return ValidationReport(issues, tokens, limit, len(examples))


# ---------------------------------------------------------------------------
# Preference (DPO) data
# ---------------------------------------------------------------------------


def check_preference_record(record: Any) -> list[Problem]:
    """Format errors of one DPO line: input messages, one assistant reply per output."""
    problems: list[Problem] = []
    if not isinstance(record, dict):
        return [(DATA_TYPE, f"the line is {_kind(record)}, not a JSON object")]
    given = record.get("input")
    messages = given.get("messages") if isinstance(given, dict) else None
    if not isinstance(messages, list) or not messages:
        problems.append(
            (MISSING_MESSAGES_LIST, "input.messages must be a non-empty list of messages")
        )
    else:
        call_ids: set[str] = set()
        for position, message in enumerate(messages):
            _check_message(message, f"input.messages[{position}]", problems, call_ids)
        assert isinstance(given, dict)
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
                    line,
                    index,
                    DUPLICATE,
                    "warning",
                    f"the same example as {_where(line_of[first], first)}",
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
