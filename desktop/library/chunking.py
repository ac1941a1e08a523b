"""Chunking strategies: cut a document's text into the passages that get embedded.

Every chunk is a slice of the text (``text[start:end] == chunk.text``), never
starts or ends with whitespace, and carries its exact token count
(``token_count == tokenizer.count(chunk.text)``).

Token counting: the text is encoded once (``Tokenizer.index``) and span counts
are read off that encoding. They are exact between "safe cuts" (see
desktop.tokens); at other chunk ends only the first or last word is re-counted.
So no text is tokenized twice, and no chunk count is an estimate.

Size limits: a chunk of the token-limited strategies (Sentences, RecursiveTokens,
Structure) has at most its limit of tokens. Text that does not fit is split at
paragraphs, then sentences, then lines, then words, then between characters.
The only chunk that can exceed the limit is a single code point that alone
encodes to more tokens than the limit (a code point is at most 4 tokens, so
this needs a limit below 4).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import hashlib
import itertools
import logging
import math
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from desktop.tokens import (
    CHAR_SPACE,
    DEFAULT_ENCODING,
    TokenIndex,
    Tokenizer,
    char_classes,
    get_tokenizer,
)

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]


# ---------------------------------------------------------------------------
# Public values
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of a document, located by character offsets into its text."""

    index: int
    start: int
    end: int
    text: str
    token_count: int
    page: int | None
    heading_path: tuple[str, ...]
    key: str


PARAMETER_LABELS = {
    "size_words": "Size (words)",
    "overlap_words": "Overlap (words)",
    "max_tokens": "Max size (tokens)",
    "overlap_sentences": "Overlap (sentences)",
    "chunk_tokens": "Size (tokens)",
    "overlap_tokens": "Overlap (tokens)",
}
"""What each strategy parameter is called wherever a user sees it."""


def _at_least_one(value: int, what: str, unit: str) -> None:
    if value < 1:
        raise ValueError(f"The {what} must be at least 1 {unit[:-1]}.")


def _overlap_below(overlap: int, size: int, unit: str) -> None:
    """Messages in the words of the form, never the field names."""
    if overlap < 0:
        raise ValueError("The overlap cannot be negative.")
    if overlap >= size:
        raise ValueError(
            f"The overlap ({overlap} {unit}) must be smaller than the size ({size} {unit})."
        )


@dataclass(frozen=True)
class FixedWords:
    """A fixed window of words: the naive baseline the other strategies are judged by."""

    name: ClassVar[str] = "fixed_words"
    size_words: int = 200
    overlap_words: int = 0

    def __post_init__(self) -> None:
        _at_least_one(self.size_words, "size", "words")
        _overlap_below(self.overlap_words, self.size_words, "words")


@dataclass(frozen=True)
class Sentences:
    """Whole sentences packed up to a size; the last N repeated at the next start."""

    name: ClassVar[str] = "sentences"
    max_tokens: int = 256
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        _at_least_one(self.max_tokens, "maximum size", "tokens")
        if self.overlap_sentences < 0:
            raise ValueError("The overlap cannot be negative.")


@dataclass(frozen=True)
class RecursiveTokens:
    """Split at the largest unit that fits (paragraph, sentence, line, word, character)."""

    name: ClassVar[str] = "recursive_tokens"
    chunk_tokens: int = 256
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        _at_least_one(self.chunk_tokens, "size", "tokens")
        _overlap_below(self.overlap_tokens, self.chunk_tokens, "tokens")


@dataclass(frozen=True)
class Structure:
    """One chunk per Markdown section (``#`` to ``######``), split further if too big."""

    name: ClassVar[str] = "structure"
    max_tokens: int = 512

    def __post_init__(self) -> None:
        _at_least_one(self.max_tokens, "maximum size", "tokens")


ChunkingStrategy = FixedWords | Sentences | RecursiveTokens | Structure
STRATEGIES: dict[str, type[ChunkingStrategy]] = {
    cls.name: cls for cls in (FixedWords, Sentences, RecursiveTokens, Structure)
}


def strategy_params(strategy: ChunkingStrategy) -> dict[str, Any]:
    """The strategy as plain data, for storing next to the chunks it made."""
    return {"name": strategy.name, **dataclasses.asdict(strategy)}


def strategy_from_params(params: dict[str, Any]) -> ChunkingStrategy:
    """Inverse of ``strategy_params``; raises ValueError for an unknown name or field."""
    values = dict(params)
    name = values.pop("name", None)
    cls = STRATEGIES.get(str(name))
    if cls is None:
        raise ValueError(f"unknown chunking strategy {name!r}")
    try:
        return cls(**values)
    except TypeError as error:
        raise ValueError(f"bad parameters for {name}: {error}") from None


@dataclass(frozen=True)
class ChunkStats:
    """What the chunk table summarises: sizes, how much text is covered, how much repeated."""

    count: int
    total_tokens: int
    mean_tokens: float
    min_tokens: int
    max_tokens: int
    median_tokens: float
    coverage: float  # share of the text's non-whitespace characters inside some chunk
    overlap_chars: int  # characters repeated because chunks overlap


# ---------------------------------------------------------------------------
# Text units
# ---------------------------------------------------------------------------


def _word_list(words: str) -> list[str]:
    """A list written as one string of space-separated words, to keep tables short."""
    return words.split()


_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")
_LINE_BREAK = re.compile(r"\n")

# Lower-case letters that, after a ".", mean the sentence goes on ("e.g. the").
_LOWER = "a-zß-öø-ÿа-яёα-ω"
_CLOSERS = "\"'”’»)\\]}"
# Words that end in "." without ending the sentence. Python's look-behind needs a
# fixed width, hence one group per length.
_ABBREVIATIONS = {
    2: _word_list("mr ms dr sr jr st mt lt vs cf ca al ed pp ch eq nr"),
    3: _word_list(
        "mrs rev hon gen col sgt gov sen rep fig eqs nos vol sec art est inc ltd jan feb "
        "mar apr jun jul aug sep oct nov dec vgl bzw usw ggf eds"
    ),
    4: _word_list("prof capt figs vols para dept corp sept pres"),
    6: ["approx"],
}
_NOT_ABBREVIATION = "".join(
    rf"(?<!\b(?i:{'|'.join(words)})\.)" for words in _ABBREVIATIONS.values()
)
_LATIN_STOPS = "!?‽⁇⁈⁉"
_CJK_STOPS = "。！？｡︒﹒﹖﹗．"
_CJK_CLOSERS = "」』）〕】〉》"
_GOES_ON = rf"(?=\s(?!\s*[{_LOWER}]))"  # a space, then no lower-case letter
# Every alternative starts with one character of the same class, which lets the
# regex engine skip ahead quickly; the look-behinds then tell the cases apart.
_SENTENCE_END = re.compile(
    rf"""
    [.…{_LATIN_STOPS}{_CJK_STOPS}\n]
    (?:
        (?<=[{_LATIN_STOPS}])[.{_LATIN_STOPS}]*[{_CLOSERS}]*(?=\s)    # "!" and "?" always
      | (?<=…)[.…]*[{_CLOSERS}]*{_GOES_ON}                            # an ellipsis, unless
      | (?<=\.)\.+[{_CLOSERS}]*{_GOES_ON}                             # lower case follows
      | (?<=\.)(?<!\b[A-Zp]\.)(?<!\b\w\.\w\.)(?<!^\d\.)(?<!^\d\d\.){_NOT_ABBREVIATION}
        [{_CLOSERS}]*{_GOES_ON}              # a full stop, except after an initial, "e.g",
                                             # a list number ("1.") or an abbreviation
      | (?<=[{_CJK_STOPS}])[{_CJK_STOPS}]*[{_CJK_CLOSERS}{_CLOSERS}]*   # CJK: no space needed
      | (?<=\n)(?=[ \t]*(?:[-*+•‣◦▪–][ \t]|\d{{1,3}}[.)][ \t]|\#{{1,6}}[ \t]))  # a list item
    )
    """,
    re.X | re.M,
)

# Found from their first "#" (a fast literal scan); a match counts as a heading
# only when it starts its line (after at most three spaces).
_HEADING = re.compile(r"(#{1,6})[ \t]+([^\n]*)")
_CLOSING_HASHES = re.compile(r"(?:[ \t]+#+)?[ \t]*$")


def _starts_line(text: str, position: int) -> bool:
    line_start = text.rfind("\n", max(0, position - 4), position) + 1
    if line_start == 0 and position > 3:
        return False
    return text[line_start:position] == " " * (position - line_start)


@dataclass(frozen=True)
class _Heading:
    start: int
    line_end: int
    level: int
    path: tuple[str, ...]


def find_headings(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """Markdown ATX headings outside code fences: (start, level, heading path)."""
    return [(h.start, h.level, h.path) for h in _headings(text)]


def _line_starts_with(text: str, marker: str) -> Iterator[int]:
    """Positions of ``marker`` where it begins a line (after at most three spaces).

    str.find is much faster than a regex scan, and these markers are rare.
    """
    position = text.find(marker)
    while position >= 0:
        if _starts_line(text, position):
            yield position
        position = text.find(marker, position + 1)


def _headings(text: str) -> list[_Heading]:
    fences = sorted([*_line_starts_with(text, "```"), *_line_starts_with(text, "~~~")])
    result: list[_Heading] = []
    stack: list[tuple[int, str]] = []
    for position in _line_starts_with(text, "#"):
        if result and position < result[-1].line_end:
            continue
        match = _HEADING.match(text, position)
        if match is None:
            continue
        # Inside a code block when an odd number of fence lines come before it.
        if fences and bisect.bisect_right(fences, position) % 2 == 1:
            continue
        title = _CLOSING_HASHES.sub("", match.group(2)).strip()
        if not title:
            continue
        level = len(match.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = tuple(t for _, t in stack)
        result.append(_Heading(position, match.end(), level, path))
    return result


class _Document:
    """One text prepared for chunking: its encoding, words and headings, found once."""

    def __init__(self, text: str, tokenizer: Tokenizer) -> None:
        self.text = text
        self.n = len(text)
        self.tokens: TokenIndex = tokenizer.index(text)
        solid = self.tokens.char_classes < CHAR_SPACE  # not str.isspace()
        self.solid = solid
        # Words are the runs of solid characters: their starts and ends alternate among
        # the positions where solidity changes, found in one pass (a table look-up per
        # position for each took twice as long: 20 MB of text, 0.15 s instead of 0.07 s).
        changes = np.flatnonzero(solid[1:] != solid[:-1]) + 1
        first, last = bool(solid[0]), bool(solid[-1])
        starts, ends = (changes[1::2], changes[0::2]) if first else (changes[0::2], changes[1::2])
        # Each with a sentinel (n after the starts, 0 before the ends), the words as views.
        self._starts_ext = np.empty(first + len(starts) + 1, dtype=np.int64)
        self._starts_ext[first:-1] = starts
        self._starts_ext[-1] = self.n
        self._ends_ext = np.empty(1 + len(ends) + last, dtype=np.int64)
        self._ends_ext[1 : 1 + len(ends)] = ends
        self._ends_ext[0] = 0
        if first:
            self._starts_ext[0] = 0
        if last:
            self._ends_ext[-1] = self.n
        self.word_starts: IntArray = self._starts_ext[:-1]
        self.word_ends: IntArray = self._ends_ext[1:]
        self._headings: list[_Heading] | None = None
        self._heading_starts: list[int] = []

    # -- trimming and unit splitting (all return trimmed, non-empty spans) --

    def trim(self, starts: IntArray, ends: IntArray) -> tuple[IntArray, IntArray]:
        """Shrink spans to their first and last non-space character; drop empty ones."""
        if len(starts) == 0:
            return starts, ends
        n = self.n
        first = np.minimum(starts, n - 1)
        a = np.where(
            (starts < n) & self.solid[first],
            starts,
            self._starts_ext[np.searchsorted(self.word_starts, starts, "left")],
        )
        last = np.maximum(ends - 1, 0)
        b = np.where(
            (ends > 0) & self.solid[last],
            ends,
            self._ends_ext[np.searchsorted(self.word_ends, ends, "right")],
        )
        keep = a < b
        return a[keep], b[keep]

    def _between(self, a: int, b: int, cuts: Iterable[int]) -> tuple[IntArray, IntArray]:
        points = np.fromiter(cuts, dtype=np.int64)
        starts = np.concatenate(([a], points))
        ends = np.concatenate((points, [b]))
        return self.trim(starts, ends)

    def paragraphs(self, a: int, b: int) -> tuple[IntArray, IntArray]:
        return self._between(a, b, (m.start() for m in _PARAGRAPH_BREAK.finditer(self.text, a, b)))

    def lines(self, a: int, b: int) -> tuple[IntArray, IntArray]:
        return self._between(a, b, (m.start() for m in _LINE_BREAK.finditer(self.text, a, b)))

    def sentences(self, a: int, b: int) -> tuple[IntArray, IntArray]:
        cuts = [m.end() for m in _SENTENCE_END.finditer(self.text, a, b)]
        # A heading line is a sentence of its own.
        cuts.extend(h.line_end for h in self.headings if a < h.line_end < b)
        cuts.sort()
        return self._between(a, b, cuts)

    def words(self, a: int, b: int) -> tuple[IntArray, IntArray]:
        i = int(np.searchsorted(self.word_ends, a, "right"))
        j = int(np.searchsorted(self.word_starts, b, "left"))
        starts = np.maximum(self.word_starts[i:j], a)
        ends = np.minimum(self.word_ends[i:j], b)
        return starts, ends

    def characters(self, a: int, b: int, limit: int) -> tuple[IntArray, IntArray]:
        """Pieces of at most ``limit`` tokens, cut between code points (never spaces here)."""
        tokens = self.tokens
        token_starts = tokens.token_starts
        text = self.text
        starts: list[int] = []
        ends: list[int] = []
        s = a
        while s < b:
            if tokens.count(s, b) <= limit:
                starts.append(s)
                ends.append(b)
                break
            k = tokens.prefix(s) + limit
            c = int(token_starts[k]) if k < len(token_starts) else b
            c = min(max(c, s + 1), b)
            while c > s + 1 and tokens.count(s, c) > limit:
                previous = int(token_starts[int(np.searchsorted(token_starts, c, "left")) - 1])
                c = previous if s < previous < c else c - 1
            # Keep a base character with its combining marks when that still fits.
            back = c
            while back > s + 1 and back < b and unicodedata.category(text[back])[0] == "M":
                back -= 1
            if back > s + 1:
                c = back
            starts.append(s)
            ends.append(c)
            s = c
        return self.trim(np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64))

    # -- fitting units to a token limit --

    def atoms(
        self, a: int, b: int, limit: int, levels: Sequence[_Splitter]
    ) -> tuple[IntArray, IntArray]:
        """Spans covering [a, b) in order, each within ``limit`` tokens, as large as
        the levels allow (a unit that fits is kept whole; one that does not is split
        at the next level)."""
        out: list[tuple[IntArray, IntArray]] = []
        self._decompose(a, b, limit, levels, out)
        if not out:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate([s for s, _ in out]), np.concatenate([e for _, e in out])

    def _decompose(
        self,
        a: int,
        b: int,
        limit: int,
        levels: Sequence[_Splitter],
        out: list[tuple[IntArray, IntArray]],
    ) -> None:
        depth = 0
        while depth < len(levels):
            starts, ends = levels[depth](self, a, b)
            depth += 1
            if len(starts) > 1 or (len(starts) == 1 and (starts[0] != a or ends[0] != b)):
                break
        else:
            out.append(self.characters(a, b, limit))
            return
        fits = self.tokens.upper_bounds(starts, ends) <= limit
        if fits.all():
            out.append((starts, ends))
            return
        done = 0
        for k in np.flatnonzero(~fits).tolist():
            if k > done:
                out.append((starts[done:k], ends[done:k]))
            s, e = int(starts[k]), int(ends[k])
            if self.tokens.count(s, e) <= limit:
                out.append((starts[k : k + 1], ends[k : k + 1]))
            else:
                self._decompose(s, e, limit, levels[depth:], out)
            done = k + 1
        if done < len(starts):
            out.append((starts[done:], ends[done:]))

    def pack(
        self,
        starts: IntArray,
        ends: IntArray,
        limit: int,
        *,
        overlap_tokens: int = 0,
        overlap_units: int = 0,
    ) -> list[tuple[int, int, int]]:
        """Greedily join consecutive units into chunks of at most ``limit`` tokens.

        The next chunk repeats either the last ``overlap_units`` units, or up to
        ``overlap_tokens`` tokens (at word granularity) of the previous chunk,
        shrunk when the repetition would leave no room for new text.
        Counts are exact: end keys minus start key (see TokenIndex.end_keys), or
        a direct count where those do not apply.
        """
        tokens = self.tokens
        n = len(starts)
        out: list[tuple[int, int, int]] = []
        if n == 0:
            return out
        end_key, end_cut, exact = tokens.end_keys(ends)
        reach = np.maximum.accumulate(np.array(end_key, dtype=np.int64)).tolist()
        start_list: list[int] = starts.tolist()
        end_list: list[int] = ends.tolist()
        unit_bound: list[int] = tokens.upper_bounds(starts, ends).tolist() if overlap_tokens else []

        def count_to(k: int, s: int, key: int, cut: int) -> int:
            if exact[k] and cut <= end_cut[k]:
                return end_key[k] - key
            return tokens.count(s, end_list[k])

        chunk_first = 0  # the unit the current chunk starts with (for unit overlap)
        i = 0  # the first unit the current chunk must add
        s = start_list[0]
        key, cut = tokens.start_key(s)
        while True:
            j = max(i, bisect.bisect_right(reach, key + limit) - 1)
            c = count_to(j, s, key, cut)
            while c > limit and j > i:
                j -= 1
                c = count_to(j, s, key, cut)
            while j + 1 < n:
                wider = count_to(j + 1, s, key, cut)
                if wider > limit:
                    break
                j += 1
                c = wider
            e = end_list[j]
            out.append((s, e, c))
            nxt = j + 1
            if nxt >= n:
                return out
            overlap: tuple[int, int, int] | None = None
            next_first = nxt
            if overlap_units:
                for k in range(max(chunk_first + 1, nxt - overlap_units), nxt):
                    k_key, k_cut = tokens.start_key(start_list[k])
                    if count_to(nxt, start_list[k], k_key, k_cut) <= limit:
                        overlap = (start_list[k], k_key, k_cut)
                        next_first = k
                        break
            elif overlap_tokens:
                budget = min(overlap_tokens, limit - unit_bound[nxt])
                if budget > 0:
                    overlap = self._overlap_start(s, j, e, budget, starts, count_to)
                    if overlap is not None and count_to(nxt, *overlap) > limit:
                        overlap = None
            if overlap is None:
                s = start_list[nxt]
                key, cut = tokens.start_key(s)
            else:
                s, key, cut = overlap
            chunk_first, i = next_first, nxt

    def _overlap_start(
        self,
        s: int,
        j: int,
        e: int,
        budget: int,
        unit_starts: IntArray,
        count_to: Callable[[int, int, int, int], int],
    ) -> tuple[int, int, int] | None:
        """The earliest word or unit start w in (s, e) with at most ``budget`` tokens
        from w to e (the end of unit j), with its start key."""
        tokens = self.tokens
        k = tokens.prefix(e) - budget
        x = tokens.token_starts.item(k) if 0 <= k < tokens.token_total else 0
        w = max(x, s + 1)
        while True:
            w = self._next_start(w, unit_starts)
            if w >= e:
                return None
            w_key, w_cut = tokens.start_key(w)
            if count_to(j, w, w_key, w_cut) <= budget:
                return w, w_key, w_cut
            w += 1

    def _next_start(self, x: int, unit_starts: IntArray) -> int:
        """The first word or unit start at or after x (units may start inside a word)."""
        word: int = self._starts_ext.item(int(self.word_starts.searchsorted(x, "left")))
        k = int(unit_starts.searchsorted(x, "left"))
        unit: int = unit_starts.item(k) if k < len(unit_starts) else self.n
        return min(word, unit)

    # -- headings --

    @property
    def headings(self) -> list[_Heading]:
        if self._headings is None:
            self._headings = _headings(self.text)
            self._heading_starts = [h.start for h in self._headings]
        return self._headings

    def heading_path(self, start: int, end: int) -> tuple[str, ...]:
        """Headings in effect at the chunk's first line of content.

        A chunk that begins with heading lines ("# Install\\n## Linux\\n...") gets
        the path of the last of them, so its own headings are part of its path.
        """
        headings = self.headings
        if not headings:
            return ()
        k = bisect.bisect_right(self._heading_starts, start) - 1
        if k < 0:
            return ()
        if headings[k].start == start:
            while (
                k + 1 < len(headings)
                and headings[k + 1].start < end
                and not self.text[headings[k].line_end : headings[k + 1].start].strip()
            ):
                k += 1
        return headings[k].path


_Splitter = Callable[[_Document, int, int], tuple[IntArray, IntArray]]

_RECURSIVE_LEVELS: tuple[_Splitter, ...] = (
    _Document.paragraphs,
    _Document.sentences,
    _Document.lines,
    _Document.words,
)
_SENTENCE_LEVELS: tuple[_Splitter, ...] = (
    _Document.sentences,
    _Document.lines,
    _Document.words,
)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------


def _fixed_words(doc: _Document, strategy: FixedWords) -> list[tuple[int, int, int]]:
    starts, ends = doc.word_starts, doc.word_ends
    n = len(starts)
    step = strategy.size_words - strategy.overlap_words
    out: list[tuple[int, int, int]] = []
    k = 0
    while k < n:
        last = min(k + strategy.size_words, n) - 1
        s, e = int(starts[k]), int(ends[last])
        out.append((s, e, doc.tokens.count(s, e)))
        if last == n - 1:
            break
        k += step
    return out


def _sentences(doc: _Document, strategy: Sentences) -> list[tuple[int, int, int]]:
    starts, ends = doc.atoms(0, doc.n, strategy.max_tokens, _SENTENCE_LEVELS)
    return doc.pack(starts, ends, strategy.max_tokens, overlap_units=strategy.overlap_sentences)


def _recursive(doc: _Document, strategy: RecursiveTokens) -> list[tuple[int, int, int]]:
    starts, ends = doc.atoms(0, doc.n, strategy.chunk_tokens, _RECURSIVE_LEVELS)
    return doc.pack(starts, ends, strategy.chunk_tokens, overlap_tokens=strategy.overlap_tokens)


def _structure(doc: _Document, strategy: Structure) -> list[tuple[int, int, int]]:
    limit = strategy.max_tokens
    headings = doc.headings
    bounds = [0, *(h.start for h in headings), doc.n]
    starts, ends = doc.trim(np.array(bounds[:-1], dtype=np.int64), np.array(bounds[1:]))
    # A heading with nothing under it but a deeper heading joins that section, so
    # "# Install" is not a chunk on its own but the start of "## Linux"'s chunk.
    line_end = {h.start: (h.line_end, h.level) for h in headings}
    level_at = {h.start: h.level for h in headings}
    sections: list[tuple[int, int]] = []
    pending: int | None = None
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        section_start = a if pending is None else pending
        pending = None
        heading = line_end.get(a)
        if heading is not None and heading[0] >= b:
            following = level_at.get(int(doc._starts_ext[np.searchsorted(doc.word_starts, b)]))
            if following is not None and following > heading[1]:
                pending = section_start
                continue
        sections.append((section_start, b))
    if pending is not None:
        sections.append((pending, int(ends[-1])))
    out: list[tuple[int, int, int]] = []
    for a, b in sections:
        count = doc.tokens.count(a, b)
        if count <= limit:
            out.append((a, b, count))
        else:
            unit_starts, unit_ends = doc.atoms(a, b, limit, _RECURSIVE_LEVELS)
            out.extend(doc.pack(unit_starts, unit_ends, limit))
    return out


@functools.lru_cache(maxsize=64)
def _key_base(strategy: ChunkingStrategy, tokenizer: str) -> Any:
    """The chunk keys' common start: the strategy and the tokenizer (once, not per file)."""
    base = hashlib.sha1(usedforsecurity=False)
    base.update(f"{strategy_params(strategy)}|{tokenizer}".encode("utf-8", "surrogatepass"))
    base.update(b"\x00")
    return base


def chunk_text(
    text: str,
    strategy: ChunkingStrategy,
    *,
    pages: Sequence[int] = (),
    tokenizer: Tokenizer | None = None,
) -> list[Chunk]:
    """Cut ``text`` into chunks with ``strategy``.

    ``pages`` are the page start offsets from the loader (one per page); a chunk's
    page is the one containing its start. ``tokenizer`` defaults to
    ``DEFAULT_ENCODING``; pass the embedding model's tokenizer so that limits are
    in the tokens that matter.
    """
    if tokenizer is None:
        tokenizer = get_tokenizer(DEFAULT_ENCODING)
    if not text or text.isspace():
        return []
    doc = _Document(text, tokenizer)
    if isinstance(strategy, FixedWords):
        spans = _fixed_words(doc, strategy)
    elif isinstance(strategy, Sentences):
        spans = _sentences(doc, strategy)
    elif isinstance(strategy, RecursiveTokens):
        spans = _recursive(doc, strategy)
    elif isinstance(strategy, Structure):
        spans = _structure(doc, strategy)
    else:
        raise TypeError(f"not a chunking strategy: {strategy!r}")
    # A chunk's key: same strategy, tokenizer, section and text give the same key wherever
    # the chunk moves in the document (an edit elsewhere forces no re-embedding); repeated
    # identical chunks are told apart by their occurrence number.
    base = _key_base(strategy, tokenizer.name)
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    chunks: list[Chunk] = []
    page_starts = list(pages)
    has_headings = bool(doc.headings)
    for index, (start, end, count) in enumerate(spans):
        body = text[start:end]
        path = doc.heading_path(start, end) if has_headings else ()
        occurrence = seen.get((body, path), 0)
        seen[(body, path)] = occurrence + 1
        digest = base.copy()
        if path:
            digest.update("\x1f".join(path).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00%d\x00" % occurrence)
        digest.update(body.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
        chunks.append(
            Chunk(
                index=index,
                start=start,
                end=end,
                text=body,
                token_count=count,
                page=max(1, bisect.bisect_right(page_starts, start)) if page_starts else None,
                heading_path=path,
                key=digest.hexdigest(),
            )
        )
    return chunks


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


def chunk_stats(chunks: Sequence[Chunk], text: str) -> ChunkStats:
    """Summary figures for a chunking of ``text``."""
    if not chunks:
        return ChunkStats(0, 0, 0.0, 0, 0, 0.0, 0.0 if text.strip() else 1.0, 0)
    counts = [c.token_count for c in chunks]
    solid = char_classes(text) < CHAR_SPACE
    total_solid = int(np.count_nonzero(solid))
    covered_solid = 0
    covered_chars = 0
    merged_start, merged_end = -1, -1
    for start, end in sorted((c.start, c.end) for c in chunks):
        if start > merged_end:
            if merged_end > merged_start:
                covered_solid += int(np.count_nonzero(solid[merged_start:merged_end]))
                covered_chars += merged_end - merged_start
            merged_start, merged_end = start, end
        else:
            merged_end = max(merged_end, end)
    covered_solid += int(np.count_nonzero(solid[merged_start:merged_end]))
    covered_chars += merged_end - merged_start
    return ChunkStats(
        count=len(chunks),
        total_tokens=sum(counts),
        mean_tokens=sum(counts) / len(counts),
        min_tokens=min(counts),
        max_tokens=max(counts),
        median_tokens=float(statistics.median(counts)),
        coverage=covered_solid / total_solid if total_solid else 1.0,
        overlap_chars=sum(c.end - c.start for c in chunks) - covered_chars,
    )


def size_histogram(
    chunks: Sequence[Chunk], bins: int | Sequence[int] = 10
) -> list[tuple[int, int, int]]:
    """Chunk token counts per bin as (low, high, count), low inclusive, high exclusive.

    ``bins`` is a number of equal-width bins spanning the counts, or the bin edges
    themselves (counts outside the edges are left out).
    """
    counts = sorted(c.token_count for c in chunks)
    if isinstance(bins, int):
        if bins < 1:
            raise ValueError("bins must be at least 1")
        if not counts:
            return []
        low, high = counts[0], counts[-1] + 1
        width = max(1, math.ceil((high - low) / bins))
        edges = [low + width * k for k in range(bins + 1)]
        while len(edges) > 2 and edges[-2] >= high:
            edges.pop()
    else:
        edges = sorted(int(x) for x in bins)
        if len(edges) < 2:
            raise ValueError("give at least two bin edges")
    return [
        (lo, hi, bisect.bisect_left(counts, hi) - bisect.bisect_left(counts, lo))
        for lo, hi in itertools.pairwise(edges)
    ]
