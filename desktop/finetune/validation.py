"""Dataset validation: what OpenAI would reject, and what would waste a training run.

Errors follow OpenAI's documented chat format and the checks of its cookbook notebook
"Data preparation and analysis for chat model fine-tuning" (the category names are
the notebook's where it has one), extended to tool calling and ``weight``. The
notebook's crash cases (an integer ``weight``, ``content: null``) are reported, not
raised. Warnings are the notebook's (no system or user message, over the token limit)
plus what the notebook lacks: exact duplicates, near duplicates and leakage of
evaluation questions into the training data (found by ``duplicates.py``), and replies
that cite sources the example does not hold.

Every check reads the JSON object of the training line (``TrainingExample.to_openai``
gives it back exactly, including what is wrong with it), so a line that failed to
import and an example being edited are judged by the same code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from desktop.chat.citations import cited
from desktop.finetune.duplicates import (
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    Leakage,
    WordIds,
    near_duplicate_pairs,
    normalised_words,
)
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
CITATION_WITHOUT_SOURCE = "citation_without_source"

WARNING_CATEGORIES = frozenset(
    {MISSING_SYSTEM_MESSAGE, MISSING_USER_MESSAGE, TOO_MANY_TOKENS, DUPLICATE, NEAR_DUPLICATE}
    | {LEAKAGE, CITATION_WITHOUT_SOURCE}
)

ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool", "function")
"""Roles OpenAI accepts in training data ("function" is the legacy function-calling form)."""
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"}
)
_PLAIN_ROLES_TUPLE = ("system", "user", "assistant")  # a tuple: a role may be unhashable


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
        issues.extend(_citation_warnings(record, index, line))
    return issues


_SOURCE_ID = re.compile(r"<source\b[^>]*\bid=\"(\d+)\"|^\[(\d+)\]", re.M)


def _citation_warnings(record: Mapping[str, Any], index: int, line: int | None) -> list[Issue]:
    """A reply citing [n] when the example holds no source n (a chat answer saved without
    its sources): the model would learn to cite what it is never given."""
    cited_numbers: list[int] = []
    given: set[int] = set()
    for message in record["messages"]:
        if not isinstance(message, dict):
            continue
        text = message_text(message)
        if "[" not in text and "<source" not in text:
            continue
        if message.get("role") == "assistant":
            cited_numbers.extend(n for n in cited(text) if n not in cited_numbers)
        else:
            given.update(int(a or b) for a, b in _SOURCE_ID.findall(text))
    missing = [n for n in cited_numbers if n not in given]
    if not missing:
        return []
    marks = "".join(f"[{n}]" for n in missing)
    return [
        Issue(
            line,
            index,
            CITATION_WITHOUT_SOURCE,
            "warning",
            f"{_where(line, index)}: the reply cites {marks}, but the example has no such "
            "source; strip the citations or keep the sources in the user turn",
        )
    ]


def _role_warnings(roles: list[str], index: int, line: int | None) -> list[Issue]:
    issues = []
    if "system" not in roles:
        issues.append(Issue(line, index, MISSING_SYSTEM_MESSAGE, "warning", "no system message"))
    if "user" not in roles:
        issues.append(Issue(line, index, MISSING_USER_MESSAGE, "warning", "no user message"))
    return issues


# ---------------------------------------------------------------------------
# The whole dataset
# ---------------------------------------------------------------------------


def _leakage_issue(
    leakage: Leakage,
    number: int,
    line: int | None,
    index: int,
    labels: Sequence[str] | None = None,
) -> Issue:
    question = leakage.questions[number]
    shown = question if len(question) <= 80 else question[:77] + "..."
    name = labels[number] if labels else f"evaluation question {number + 1}"
    return Issue(
        line,
        index,
        LEAKAGE,
        "warning",
        f"a user message matches {name} ({shown!r}): "
        "the evaluation would measure memory, not skill",
    )


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message's content, whether a string or a list of text parts."""
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
    evaluation_labels: Sequence[str] | None = None,
    near_duplicate_threshold: float | None = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    counter: TokenCounter | None = None,
) -> ValidationReport:
    """Check a chat dataset (examples or raw JSON values of lines).

    ``model`` chooses the tokenizer and the default token limit; ``lines`` gives each
    example's line in its file, for messages. ``evaluation_questions`` (optional) are
    checked for leakage into the user messages of training (not held-out) examples;
    ``evaluation_labels`` name each in the warning. ``near_duplicate_threshold=None``
    turns the near-duplicate search off.
    """
    limit = token_limit if token_limit is not None else token_limit_for_model(model)
    counter = counter if counter is not None else TokenCounter(model)
    line_of = list(lines) if lines is not None else [None] * len(examples)
    if len(line_of) != len(examples):
        raise ValueError("lines must have one entry per example")
    leakage = Leakage(evaluation_questions) if evaluation_questions else None
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
        issues.extend(_citation_warnings(record, index, line))
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
            message_words = normalised_words(message_text(message))
            words.extend(message_words)
            if (
                leakage is not None
                and leaked is None
                and message.get("role") == "user"
                and getattr(example, "split", "train") == "train"  # held out: not trained on
            ):
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
            issues.append(_leakage_issue(leakage, leaked, line, index, evaluation_labels))

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
