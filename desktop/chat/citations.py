"""Which numbered sources an answer cited."""

from __future__ import annotations

import re

_CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")


def cited_numbers(answer: str, source_count: int) -> list[int]:
    """Source numbers cited as [n], [n, m] or [n][m], in order of first citation; numbers
    that do not name a source are ignored."""
    seen: dict[int, None] = {}
    for match in _CITATION.finditer(answer):
        for part in re.split(r"[,;]", match.group(1)):
            number = int(part)
            if 1 <= number <= source_count:
                seen.setdefault(number, None)
    return list(seen)
