"""Training examples as the OpenAI fine-tuning formats define them, kept exact.

An example read from a file may be wrong (a role ``bot``, a weight of 2, a number
where text belongs): it is still imported, so the user can see and fix it, and the
validator reports it. So the classes model the documented keys with their documented
types, and keep anything else (an unknown key, or a known key with a value of the
wrong type) in ``extra``, in the order read. ``to_openai()`` then gives back the
same JSON object that ``from_openai()`` read, and a valid line round-trips exactly.

Tags, notes, split and id belong to RAGTune, not to the training line: they are
never written into the OpenAI record.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

logger = logging.getLogger(__name__)

Split = Literal["train", "validation"]
SPLITS: tuple[Split, ...] = ("train", "validation")

JsonObject = dict[str, Any]
#: A message's content: text, a list of content parts (``{"type": "text", ...}``), or None
#: when the message has no ``content`` key.
Content = str | tuple[Any, ...] | None
#: Keys kept as read, in order: unknown keys and known keys whose value has the wrong type.
Extra = tuple[tuple[str, Any], ...]

# The order keys are written in. It is fixed, so that the same example always gives the
# same bytes, and it is the order OpenAI's documentation writes them in.
MESSAGE_KEYS: tuple[str, ...] = ("role", "name", "content", "tool_calls", "tool_call_id", "weight")
EXAMPLE_KEYS: tuple[str, ...] = ("messages", "tools", "parallel_tool_calls")


class ExampleFormatError(ValueError):
    """A JSON value that cannot be an example at all (not an object, no message list).

    ``category`` is the validator's name for the problem, so an import can report it
    the same way as the checks on examples that did import.
    """

    def __init__(self, category: str, message: str) -> None:
        super().__init__(message)
        self.category = category
        self.message = message


def _copy(value: Any) -> Any:
    """Deep copy of JSON containers; strings and numbers are immutable already."""
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _as_dict(value: Any) -> dict[str, Any] | None:
    """A JSON object as a dict (JSON gives dicts; other mappings are copied), else None."""
    if isinstance(value, dict):
        return value
    return dict(value) if isinstance(value, Mapping) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _normal_extra(extra: Extra, known: Sequence[str], covered: Iterable[str]) -> Extra:
    """Extras in the order ``to_openai`` writes them, without those a set field covers.

    A known key kept as an extra (a ``content: null``) is written in its usual place,
    so it is stored there too: then reading an export back gives an equal object. An
    extra whose field has since been set (text typed into that content) is dropped.
    """
    if not extra:
        return extra
    keys = set(covered)
    kept = [(key, value) for key, value in extra if key not in keys]
    rank = {key: position for position, key in enumerate(known)}
    kept.sort(key=lambda item: rank.get(item[0], len(known)))
    return tuple(kept)


@dataclass(frozen=True)
class Message:
    """One chat message. ``role == ""`` means the line had no usable ``role`` key."""

    role: str
    content: Content = None
    name: str | None = None
    weight: int | None = None
    tool_calls: tuple[Any, ...] | None = None
    tool_call_id: str | None = None
    extra: Extra = ()

    def __post_init__(self) -> None:
        if isinstance(self.content, list):
            object.__setattr__(self, "content", tuple(self.content))
        if isinstance(self.tool_calls, list):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        if self.extra:
            extra = _normal_extra(tuple(self.extra), MESSAGE_KEYS, self._set_keys())
            object.__setattr__(self, "extra", extra)
        elif type(self.extra) is not tuple:
            object.__setattr__(self, "extra", ())

    def _field(self, key: str) -> Any:
        if key == "role":
            return self.role or None
        return getattr(self, key)

    def _set_keys(self) -> list[str]:
        return [key for key in MESSAGE_KEYS if self._field(key) is not None]

    @property
    def text(self) -> str:
        """The content as plain text (text parts joined); "" when there is none."""
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, tuple):
            return "\n".join(
                part["text"]
                for part in self.content
                if isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            )
        return ""

    @property
    def trained(self) -> bool:
        """True for an assistant message the model learns from (weight absent or 1)."""
        return self.role == "assistant" and self.weight != 0

    def extra_value(self, key: str, default: Any = None) -> Any:
        for name, value in self.extra:
            if name == key:
                return value
        return default

    @classmethod
    def from_openai(cls, obj: Mapping[str, Any]) -> Message:
        given = _as_dict(obj)
        if given is None:
            raise ExampleFormatError("data_type", f"a message is {_kind(obj)}, not an object")
        obj = given
        fields: dict[str, Any] = {"role": ""}
        extra: list[tuple[str, Any]] = []
        for key, value in obj.items():
            if key == "role" and isinstance(value, str) and value:
                fields["role"] = value
            elif key == "content" and isinstance(value, str):
                fields["content"] = value
            elif key == "content" and isinstance(value, list):
                fields["content"] = tuple(_copy(part) for part in value)
            elif key in ("name", "tool_call_id") and isinstance(value, str):
                fields[key] = value
            elif key == "weight" and _is_int(value):
                fields["weight"] = value
            elif key == "tool_calls" and isinstance(value, list):
                fields["tool_calls"] = tuple(_copy(call) for call in value)
            else:
                extra.append((key, _copy(value)))
        return cls(**fields, extra=tuple(extra))

    def to_openai(self) -> JsonObject:
        """The message as a JSON object, keys in ``MESSAGE_KEYS`` order, then extras."""
        if (
            not self.extra
            and self.role
            and type(self.content) is str
            and self.name is None
            and self.weight is None
            and self.tool_calls is None
            and self.tool_call_id is None
        ):
            return {"role": self.role, "content": self.content}  # the common case, fast
        out: JsonObject = {}
        extras = dict(self.extra)
        for key in MESSAGE_KEYS:
            value = self._field(key)
            if value is not None:
                out[key] = [_copy(item) for item in value] if isinstance(value, tuple) else value
            elif key in extras:
                out[key] = _copy(extras.pop(key))
        for key, value in extras.items():
            out[key] = _copy(value)
        return out


def _kind(value: Any) -> str:
    """Say what a JSON value is, for messages ("a string", "null", "a list")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _messages(value: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        what = "missing or null" if value is None else "empty" if value == [] else _kind(value)
        raise ExampleFormatError(
            "missing_messages_list", f"{where} must be a non-empty list of messages ({what})"
        )
    messages = []
    for position, item in enumerate(value):
        if _as_dict(item) is None:
            raise ExampleFormatError(
                "data_type", f"{where}[{position}] is {_kind(item)}, not a message object"
            )
        messages.append(Message.from_openai(item))
    return tuple(messages)


def _tools_fields(obj: Mapping[str, Any], extra: list[tuple[str, Any]], key: str) -> Any:
    value = obj[key]
    if key == "tools" and isinstance(value, list):
        return tuple(_copy(tool) for tool in value)
    if key == "parallel_tool_calls" and isinstance(value, bool):
        return value
    extra.append((key, _copy(value)))
    return None


@dataclass(frozen=True)
class TrainingExample:
    """One supervised fine-tuning example: a conversation, optionally with tools."""

    messages: tuple[Message, ...] = ()
    tools: tuple[Any, ...] | None = None
    parallel_tool_calls: bool | None = None
    extra: Extra = ()
    tags: tuple[str, ...] = ()
    notes: str = ""
    split: Split = "train"
    id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple):
            object.__setattr__(self, "messages", tuple(self.messages))
        if isinstance(self.tools, list):
            object.__setattr__(self, "tools", tuple(self.tools))
        if not isinstance(self.tags, tuple):
            object.__setattr__(self, "tags", tuple(self.tags))
        if self.split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'validation', not {self.split!r}")
        if self.extra:
            covered = [key for key in EXAMPLE_KEYS[1:] if getattr(self, key) is not None]
            extra = _normal_extra(tuple(self.extra), EXAMPLE_KEYS, covered)
            object.__setattr__(self, "extra", extra)
        elif type(self.extra) is not tuple:
            object.__setattr__(self, "extra", ())

    # -- conversion ------------------------------------------------------------------

    @classmethod
    def from_openai(
        cls,
        obj: Any,
        *,
        tags: Sequence[str] = (),
        notes: str = "",
        split: Split = "train",
        id: int | None = None,
    ) -> TrainingExample:
        """Read one line's JSON object; raises ExampleFormatError if it is not an example."""
        record = _as_dict(obj)
        if record is None:
            raise ExampleFormatError("data_type", f"the line is {_kind(obj)}, not a JSON object")
        obj = record
        messages = _messages(obj.get("messages"), "messages")
        fields: dict[str, Any] = {}
        extra: list[tuple[str, Any]] = []
        for key in obj:
            if key == "messages":
                continue
            if key in ("tools", "parallel_tool_calls"):
                fields[key] = _tools_fields(obj, extra, key)
            else:
                extra.append((key, _copy(obj[key])))
        return cls(
            messages=messages,
            **fields,
            extra=tuple(extra),
            tags=tuple(tags),
            notes=notes,
            split=split,
            id=id,
        )

    def to_openai(self) -> JsonObject:
        """The training line as OpenAI reads it (no tags, notes, split or id)."""
        return _conversation_json(self.messages, self.tools, self.parallel_tool_calls, self.extra)

    # -- reading ---------------------------------------------------------------------

    def texts(self, role: str) -> tuple[str, ...]:
        return tuple(m.text for m in self.messages if m.role == role)

    @property
    def system_prompt(self) -> str | None:
        """Text of the first system message, or None when there is none."""
        for message in self.messages:
            if message.role == "system":
                return message.text
        return None

    @property
    def question(self) -> str:
        """The first user message: what the row shows in a table."""
        users = self.texts("user")
        return users[0] if users else ""

    @property
    def answer(self) -> str:
        """The last assistant message."""
        answers = self.texts("assistant")
        return answers[-1] if answers else ""

    # -- editing (each returns a new example) ------------------------------------------

    def with_system_prompt(self, text: str | None) -> TrainingExample:
        """Set the first system message's text (adding one first if needed); None removes it."""
        messages = list(self.messages)
        for position, message in enumerate(messages):
            if message.role == "system":
                if text is None:
                    del messages[position]
                else:
                    messages[position] = replace(message, content=text)
                return replace(self, messages=tuple(messages))
        if text is None:
            return self
        return replace(self, messages=(Message("system", text), *messages))

    def replace_in_system_prompt(self, old: str, new: str) -> TrainingExample:
        """Replace text inside every system message (plain text, not a pattern)."""
        if not old:
            return self
        messages = tuple(
            replace(m, content=m.content.replace(old, new))
            if m.role == "system" and isinstance(m.content, str) and old in m.content
            else m
            for m in self.messages
        )
        return self if messages == self.messages else replace(self, messages=messages)

    def with_tag(self, tag: str) -> TrainingExample:
        return self if tag in self.tags else replace(self, tags=(*self.tags, tag))

    def without_tag(self, tag: str) -> TrainingExample:
        return replace(self, tags=tuple(t for t in self.tags if t != tag))


@dataclass(frozen=True)
class PreferenceExample:
    """One DPO example: a conversation so far, a preferred and a non-preferred reply.

    On disk: ``{"input": {"messages": [...], "tools": [...]}, "preferred_output":
    [assistant message], "non_preferred_output": [assistant message]}``.
    """

    input: tuple[Message, ...]
    preferred_output: tuple[Message, ...]
    non_preferred_output: tuple[Message, ...]
    tools: tuple[Any, ...] | None = None
    parallel_tool_calls: bool | None = None
    input_extra: Extra = ()
    extra: Extra = ()
    tags: tuple[str, ...] = ()
    notes: str = ""
    split: Split = "train"
    id: int | None = None

    def __post_init__(self) -> None:
        for name in ("input", "preferred_output", "non_preferred_output", "tags"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.tools, list):
            object.__setattr__(self, "tools", tuple(self.tools))
        if self.split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'validation', not {self.split!r}")
        covered = [key for key in EXAMPLE_KEYS[1:] if getattr(self, key) is not None]
        extra = _normal_extra(tuple(self.input_extra), EXAMPLE_KEYS, covered)
        object.__setattr__(self, "input_extra", extra)
        object.__setattr__(self, "extra", tuple(self.extra))

    @classmethod
    def from_openai(
        cls,
        obj: Any,
        *,
        tags: Sequence[str] = (),
        notes: str = "",
        split: Split = "train",
        id: int | None = None,
    ) -> PreferenceExample:
        record = _as_dict(obj)
        if record is None:
            raise ExampleFormatError("data_type", f"the line is {_kind(obj)}, not a JSON object")
        obj = record
        given = _as_dict(obj.get("input"))
        if given is None:
            raise ExampleFormatError(
                "missing_messages_list",
                f"input must be an object with a messages list ({_kind(obj.get('input'))})",
            )
        inputs = _messages(given.get("messages"), "input.messages")
        fields: dict[str, Any] = {}
        input_extra: list[tuple[str, Any]] = []
        for key in given:
            if key == "messages":
                continue
            if key in ("tools", "parallel_tool_calls"):
                fields[key] = _tools_fields(given, input_extra, key)
            else:
                input_extra.append((key, _copy(given[key])))
        outputs = {}
        for key in ("preferred_output", "non_preferred_output"):
            outputs[key] = _messages(obj.get(key), key)
        extra = tuple(
            (key, _copy(value))
            for key, value in obj.items()
            if key not in ("input", "preferred_output", "non_preferred_output")
        )
        return cls(
            input=inputs,
            **outputs,
            **fields,
            input_extra=tuple(input_extra),
            extra=extra,
            tags=tuple(tags),
            notes=notes,
            split=split,
            id=id,
        )

    def to_openai(self) -> JsonObject:
        given = _conversation_json(
            self.input, self.tools, self.parallel_tool_calls, self.input_extra
        )
        out: JsonObject = {
            "input": given,
            "preferred_output": [m.to_openai() for m in self.preferred_output],
            "non_preferred_output": [m.to_openai() for m in self.non_preferred_output],
        }
        for key, value in self.extra:
            out[key] = _copy(value)
        return out

    @property
    def question(self) -> str:
        users = [m.text for m in self.input if m.role == "user"]
        return users[-1] if users else ""

    def with_tag(self, tag: str) -> PreferenceExample:
        return self if tag in self.tags else replace(self, tags=(*self.tags, tag))

    def without_tag(self, tag: str) -> PreferenceExample:
        return replace(self, tags=tuple(t for t in self.tags if t != tag))


AnyExample = TrainingExample | PreferenceExample


def example_from_record(
    obj: Any,
    *,
    tags: Sequence[str] = (),
    notes: str = "",
    split: Split = "train",
    id: int | None = None,
) -> AnyExample:
    """A chat or a preference example, whichever shape the JSON object has."""
    if isinstance(obj, dict) and "messages" not in obj and "preferred_output" in obj:
        return PreferenceExample.from_openai(obj, tags=tags, notes=notes, split=split, id=id)
    return TrainingExample.from_openai(obj, tags=tags, notes=notes, split=split, id=id)


def _conversation_json(
    messages: Sequence[Message],
    tools: Sequence[Any] | None,
    parallel_tool_calls: Any,
    extra: Sequence[tuple[str, Any]],
) -> JsonObject:
    """``{"messages": ...}`` plus tools, parallel_tool_calls and any other keys the line
    had, in the order OpenAI writes them: shared by chat and preference examples."""
    out: JsonObject = {"messages": [m.to_openai() for m in messages]}
    extras = dict(extra)
    if tools is not None:
        out["tools"] = [_copy(tool) for tool in tools]
    elif "tools" in extras:
        out["tools"] = _copy(extras.pop("tools"))
    if parallel_tool_calls is not None:
        out["parallel_tool_calls"] = parallel_tool_calls
    elif "parallel_tool_calls" in extras:
        out["parallel_tool_calls"] = _copy(extras.pop("parallel_tool_calls"))
    for key, value in extras.items():
        out[key] = _copy(value)
    return out


def common_system_prompt(examples: Sequence[Any]) -> str | None:
    """The system prompt most of the chat examples share (what a new one starts with)."""
    from collections import Counter

    prompts = Counter(
        e.system_prompt
        for e in examples
        if isinstance(e, TrainingExample) and e.system_prompt is not None
    )
    return prompts.most_common(1)[0][0] if prompts else None
