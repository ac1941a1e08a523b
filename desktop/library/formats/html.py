"""HTML as readable text with Markdown headings and lists (also the body of e-mails and
the chapters of e-books)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from desktop.library.formats.common import Extracted, _word_list, decode_text

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_SKIPPED_TAGS = frozenset(
    _word_list(
        "script style nav noscript template svg math head iframe object embed canvas select button"
    )
)
_BLOCK_TAGS = frozenset(
    _word_list(
        "address article aside blockquote body caption center dd details dialog div dl dt "
        "fieldset figcaption figure footer form header hgroup hr html li main menu ol p pre "
        "section summary table tbody tfoot thead tr ul"
    )
)
_HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
_SPACES = re.compile(r"\s+")


def load_html(path: Path, data: bytes, options: object = None) -> Extracted:
    found = _META_CHARSET.search(data[:4096])
    declared = found.group(1).decode("ascii").lower() if found else None
    if declared in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        declared = "cp1252"  # what browsers do, as the HTML standard says
    markup, encoding = decode_text(path, data, declared)
    text, title = html_text(markup)
    return Extracted(text, title=title, encoding=encoding)


class _HtmlText:
    """Turns an HTML tree into readable text with Markdown-style headings and lists.

    Walks the tree with an explicit stack: real pages nest deeper than Python's
    recursion limit allows.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._pending_break = 0  # line breaks owed before the next text (1 or 2)
        self._pre = 0
        self._heading: list[str] | None = None
        self._list_depth = 0
        self._cells_in_row: list[int] = []
        self.first_h1: str | None = None

    def convert(self, root: Any) -> None:
        stack: list[tuple[Any, bool]] = [(root, True)]
        while stack:
            node, entering = stack.pop()
            tag = node.tag
            if tag == "-text":
                if entering:
                    self._text(node.text_content or "")
                continue
            if tag is None or tag.startswith(("-", "!")):
                continue
            if entering:
                if tag in _SKIPPED_TAGS or "hidden" in node.attributes:
                    continue
                self._open(tag)
                stack.append((node, False))
                children = []
                child = node.child
                while child is not None:
                    children.append(child)
                    child = child.next
                stack.extend((c, True) for c in reversed(children))
            else:
                self._close(tag)

    def _break(self, count: int) -> None:
        self._pending_break = max(self._pending_break, count)

    def _emit(self, text: str) -> None:
        if self._heading is not None:
            self._heading.append(text)
            return
        if self._pending_break and self._parts:
            self._parts.append("\n" * self._pending_break)
        self._pending_break = 0
        self._parts.append(text)

    def _text(self, text: str) -> None:
        if self._pre:
            self._emit(text)
            return
        collapsed = _SPACES.sub(" ", text)
        at_line_start = (
            self._pending_break > 0 or not self._parts or self._parts[-1].endswith((" ", "\n"))
        )
        if self._heading is None and at_line_start:
            collapsed = collapsed.lstrip()
        if collapsed:
            self._emit(collapsed)

    def _open(self, tag: str) -> None:
        if tag in _HEADING_TAGS:
            self._break(2)
            self._heading = []
        elif tag == "br":
            if self._heading is not None:
                self._heading.append(" ")
            else:
                self._trim_trailing_space()
                self._parts.append("\n")
        elif tag == "pre":
            self._break(2)
            self._pre += 1
        elif tag in ("ul", "ol"):
            self._break(2 if self._list_depth == 0 else 1)
            self._list_depth += 1
        elif tag == "li":
            self._break(1)
            self._emit("  " * max(0, self._list_depth - 1) + "- ")
        elif tag == "tr":
            self._break(1)
            self._cells_in_row.append(0)
        elif tag in ("td", "th"):
            if self._cells_in_row:
                if self._cells_in_row[-1]:
                    self._trim_trailing_space()
                    self._emit(" | ")
                self._cells_in_row[-1] += 1
        elif tag in ("p", "blockquote", "table", "figure", "hr", "dl"):
            self._break(2)
        elif tag in _BLOCK_TAGS:
            self._break(1)

    def _close(self, tag: str) -> None:
        if tag in _HEADING_TAGS:
            words = "".join(self._heading or ()).split()
            self._heading = None
            if words:
                title = " ".join(words)
                if tag == "h1" and self.first_h1 is None:
                    self.first_h1 = title
                self._emit("#" * _HEADING_TAGS[tag] + " " + title)
            self._break(2)
        elif tag == "pre":
            self._pre -= 1
            self._break(2)
        elif tag in ("ul", "ol"):
            self._list_depth -= 1
            self._break(2 if self._list_depth == 0 else 1)
        elif tag == "tr":
            if self._cells_in_row:
                self._cells_in_row.pop()
            self._break(1)
        elif tag in ("p", "blockquote", "table", "figure", "hr", "dl"):
            self._break(2)
        elif tag in _BLOCK_TAGS:
            self._break(1)

    def _trim_trailing_space(self) -> None:
        if self._parts and self._parts[-1].endswith(" "):
            self._parts[-1] = self._parts[-1].rstrip(" ")

    def result(self) -> str:
        lines = "".join(self._parts).split("\n")
        text = "\n".join(line.rstrip() for line in lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def html_text(markup: str) -> tuple[str, str]:
    """(text, title) of an HTML string."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(markup)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    body = tree.body if tree.body is not None else tree.root
    converter = _HtmlText()
    if body is not None:
        converter.convert(body)
    return converter.result(), title or converter.first_h1 or ""
