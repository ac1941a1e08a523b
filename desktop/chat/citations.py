"""Which numbered sources an answer cited."""

from __future__ import annotations

import re

_CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def cited(text: str) -> list[int]:
    """Every number cited as [n], [n, m] or [n][m], in order of first citation."""
    seen: dict[int, None] = {}
    for match in _CITATION.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)


def cited_numbers(answer: str, source_count: int) -> list[int]:
    """Source numbers cited, in order of first citation; numbers that do not name a
    source are ignored."""
    return [number for number in cited(answer) if 1 <= number <= source_count]


def strip_citations(text: str) -> str:
    """The text without its [n] markers (and the space before each): for an answer kept
    without the sources it cited."""
    return re.sub(r"[ \t]*" + _CITATION.pattern, "", text)
