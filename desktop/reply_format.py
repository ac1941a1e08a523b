"""What shape a model's replies have: JSON, or a template of labelled lines and Markdown
markers, and which template a set of training replies follows.

Shared by the Decide tab's evidence (how rigid a dataset's format is) and the evaluation
(whether an answer keeps the format the fine-tuning data taught), so both read a reply
the same way."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from desktop.finetune.validation import message_text

_FENCE = re.compile(r"^```[\w+-]*\s*\n(.*)\n```$", re.DOTALL)
_MARKER = re.compile(r"^(#{1,6}\s|[-*+•]\s|\d{1,3}[.)]\s|>\s?|\|)")
_LABEL = re.compile(r"^(\w[\w'/&()-]*(?: [\w'/&()-]+){0,3})\s*:(?:\s|$)")
MAX_LABEL_CHARS = 40
PROSE = "¶"
TOOL_CALL = ("tool call",)

Skeleton = tuple[str, ...]


def _record(example: Any) -> Any:
    to_openai = getattr(example, "to_openai", None)
    return to_openai() if callable(to_openai) else example


def assistant_turns(example: Any) -> list[Mapping[str, Any]]:
    """The trained assistant turns of an example (weight absent or 1); for a preference
    example, its preferred reply."""
    record = _record(example)
    if not isinstance(record, Mapping):
        return []
    if "messages" not in record and "preferred_output" in record:
        messages = record.get("preferred_output")
    else:
        messages = record.get("messages")
    if not isinstance(messages, list):
        return []
    return [
        m
        for m in messages
        if isinstance(m, Mapping) and m.get("role") == "assistant" and m.get("weight") != 0
    ]


def json_reply(text: str) -> Any | None:
    """The JSON object or array a reply consists of (optionally inside one Markdown code
    fence), or None. Bare scalars ("42", "true") are not a structured format."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def line_frame(line: str) -> str:
    """The fixed part of one line of a reply: its Markdown marker and its label.

    Marker: heading "#", bullet "-", numbered "1.", quote ">", table "|". Label: one to
    four words of at most ``MAX_LABEL_CHARS`` characters in all, followed by ":" and a
    space or the line's end, right after the marker ("Severity:", "- Next step:"). A
    heading keeps its text, lower-cased: in a template the headings are the fixed part.
    A line with neither is prose, "¶"."""
    marker = ""
    found = _MARKER.match(line)
    rest = line
    if found:
        token = found.group(1).strip()
        marker = (
            "#"
            if token.startswith("#")
            else "1."
            if token[0].isdigit()
            else token
            if token in (">", "|")
            else "-"
        )
        rest = line[found.end() :].strip()
    if marker == "#":
        return "# " + " ".join(rest.lower().split())
    if marker == "|":
        return "|"
    label = _LABEL.match(rest)
    if label and len(label.group(1)) <= MAX_LABEL_CHARS:
        name = " ".join(label.group(1).lower().split())
        return f"{marker} {name}:".strip()
    return marker or PROSE


def reply_skeleton(text: str) -> Skeleton:
    """The frames of a reply's non-empty lines, each run of equal frames collapsed to
    one (lists and paragraphs vary in length inside one template)."""
    frames: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        frame = line_frame(line)
        if not frames or frames[-1] != frame:
            frames.append(frame)
    return tuple(frames)


def structured(skeleton: Skeleton) -> bool:
    """A template needs at least two fixed parts: one label, or a plain list, is not one."""
    return sum(1 for frame in skeleton if frame != PROSE) >= 2


@dataclass(frozen=True)
class ReplyFormats:
    """How the trained replies of a set of examples are shaped (``reply_formats``)."""

    examples: int
    """Examples with at least one trained assistant turn."""
    json_flags: tuple[bool, ...]
    """Per such example: every trained turn is JSON (or a tool call)."""
    template_flags: tuple[bool, ...]
    """Per such example: its turns follow the dominant template."""
    dominant: tuple[Skeleton, ...] | None
    """The dominant skeleton, one per trained turn; None when no template repeats."""
    json_keys: tuple[str, ...]
    """The most common key set of JSON-object replies (sorted), or ()."""
    json_objects: int = 0
    """Replies (turns) that are JSON objects."""
    key_counts: tuple[tuple[tuple[str, ...], int], ...] = ()

    @property
    def template_text(self) -> str:
        """The dominant template, readable ("answer: / sources: / - list")."""
        if not self.dominant:
            return ""
        return " ‖ ".join(" / ".join(turn) for turn in self.dominant)


def reply_formats(examples: Iterable[Any]) -> ReplyFormats:
    """JSON: ``json_reply`` finds an object or array (tool-call turns without text count as
    JSON: their arguments are). Template: the example's skeleton (``reply_skeleton`` of
    each trained assistant turn, in order) is ``structured`` and equals the most common
    structured skeleton in the set, which must occur at least twice (a template repeats).
    Examples without a trained assistant turn are left out."""
    counted = 0
    json_flags: list[bool] = []
    skeletons: list[tuple[Skeleton, ...] | None] = []
    key_sets: Counter[tuple[str, ...]] = Counter()
    for example in examples:
        turns = assistant_turns(example)
        if not turns:
            continue
        counted += 1
        all_json = True
        shapes: list[Skeleton] = []
        for turn in turns:
            text = message_text(turn)
            if not text.strip() and turn.get("tool_calls"):
                shapes.append(TOOL_CALL)
                continue
            value = json_reply(text)
            if value is None:
                all_json = False
            elif isinstance(value, dict):
                key_sets[tuple(sorted(value))] += 1
            shapes.append(reply_skeleton(text))
        json_flags.append(all_json)
        is_structured = all(structured(s) for s in shapes if s != TOOL_CALL) and any(
            s != TOOL_CALL for s in shapes
        )
        skeletons.append(tuple(shapes) if is_structured else None)
    template_counts = Counter(s for s in skeletons if s is not None)
    dominant: tuple[Skeleton, ...] | None = None
    if template_counts:
        best, best_count = max(template_counts.items(), key=lambda item: (item[1], item[0]))
        if best_count >= 2:
            dominant = best
    keys: tuple[str, ...] = ()
    if key_sets:
        keys, _count = max(key_sets.items(), key=lambda item: (item[1], item[0]))
    return ReplyFormats(
        examples=counted,
        json_flags=tuple(json_flags),
        template_flags=tuple(dominant is not None and s == dominant for s in skeletons),
        dominant=dominant,
        json_keys=keys,
        json_objects=sum(key_sets.values()),
        key_counts=tuple(key_sets.most_common()),
    )
