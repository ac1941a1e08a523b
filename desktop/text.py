"""Words for numbers, the same way in every message, tab and command."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """1 example, 2 examples, 1,000 examples; ``many`` for irregular plurals."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
