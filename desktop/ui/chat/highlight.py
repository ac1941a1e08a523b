"""Chunk text as safe HTML with the query's words marked. Text from documents is escaped:
nothing in a document can inject markup or load anything."""

from __future__ import annotations

import html
import re

from desktop.retrieval.lexical import content_words

_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(query: str) -> set[str]:
    """The words a search matched on: the question without its question words (the
    lexical search's own rule), one-letter words left out."""
    return {w for w in content_words(_WORD.findall(query)) if len(w) > 1}


def highlighted_html(text: str, query: str) -> str:
    terms = query_terms(query)
    if not terms:
        return f"<pre style='white-space:pre-wrap'>{html.escape(text)}</pre>"
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b",
        re.IGNORECASE,
    )
    pieces = []
    last = 0
    for match in pattern.finditer(text):
        pieces.append(html.escape(text[last : match.start()]))
        pieces.append(f"<span style='background:#fff176'>{html.escape(match.group(0))}</span>")
        last = match.end()
    pieces.append(html.escape(text[last:]))
    return f"<div style='white-space:pre-wrap'>{''.join(pieces)}</div>"
