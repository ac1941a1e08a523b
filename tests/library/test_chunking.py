"""Chunking strategies (desktop.library.chunking): unit cases for each strategy, and
property tests that every strategy keeps its promises on arbitrary text."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.library.chunking import (
    Chunk,
    ChunkingStrategy,
    FixedWords,
    RecursiveTokens,
    Sentences,
    Structure,
    chunk_stats,
    chunk_text,
    find_headings,
    size_histogram,
    strategy_from_params,
    strategy_params,
)
from desktop.tokens import Tokenizer, get_tokenizer

CL100K = get_tokenizer("cl100k_base")
O200K = get_tokenizer("o200k_base")


def words_of(text: str) -> list[str]:
    return text.split()


def check_invariants(text: str, chunks: Sequence[Chunk], tokenizer: Tokenizer) -> None:
    """What every strategy promises, whatever the text."""
    covered = bytearray(len(text))
    previous: Chunk | None = None
    for position, chunk in enumerate(chunks):
        assert chunk.index == position
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip(), "no whitespace at the edges"
        assert chunk.token_count == tokenizer.count(chunk.text)
        assert len(chunk.key) == 40
        if previous is not None:
            assert chunk.start > previous.start
            assert chunk.end > previous.end
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
        previous = chunk
    uncovered = [i for i, ch in enumerate(text) if not covered[i] and not ch.isspace()]
    assert not uncovered, f"characters in no chunk: {uncovered[:10]}"
    assert len({c.key for c in chunks}) == len(chunks)


def check_limit(chunks: Sequence[Chunk], limit: int) -> None:
    """Only a single code point (the indivisible unit) may exceed a token limit."""
    for chunk in chunks:
        assert chunk.token_count <= limit or len(chunk.text) == 1, chunk


# -- Edge cases shared by all strategies ------------------------------------------------

ALL_STRATEGIES: list[ChunkingStrategy] = [
    FixedWords(5, 1),
    Sentences(12, 1),
    RecursiveTokens(12, 4),
    Structure(12),
]


@pytest.mark.parametrize("strategy", ALL_STRATEGIES, ids=lambda s: s.name)
@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n", "\u3000\xa0"])
def test_empty_or_blank_text_gives_no_chunks(strategy: ChunkingStrategy, text: str) -> None:
    assert chunk_text(text, strategy, tokenizer=CL100K) == []


@pytest.mark.parametrize("strategy", ALL_STRATEGIES, ids=lambda s: s.name)
def test_a_single_word(strategy: ChunkingStrategy) -> None:
    chunks = chunk_text("  hello  ", strategy, tokenizer=CL100K)
    assert [(c.start, c.end, c.text, c.token_count) for c in chunks] == [(2, 7, "hello", 1)]


@pytest.mark.parametrize(
    "strategy", [Sentences(16, 1), RecursiveTokens(16, 4), Structure(16)], ids=lambda s: s.name
)
@pytest.mark.parametrize(
    "text",
    [
        # one huge sentence, no punctuation
        " ".join(f"word{i}" for i in range(400)),
        # CJK with no spaces and no punctuation
        "漢字仮名交じり文" * 60,
        # CJK sentences
        "これは日本語の文です。" * 30,
        # one enormous token-less "word"
        "x" * 3000,
        "a1b2c3" * 400,
        # a very long line with punctuation
        "Short one. " * 300,
        # emoji and combining marks without spaces
        "😀e\u0301" * 200,
    ],
    ids=["no-punctuation", "cjk-run", "cjk-sentences", "xxx", "alnum-run", "long-line", "emoji"],
)
def test_text_that_needs_word_or_character_splits(strategy: ChunkingStrategy, text: str) -> None:
    chunks = chunk_text(text, strategy, tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    check_limit(chunks, 16)
    assert len(chunks) > 1


def test_a_limit_below_one_code_point_lets_that_code_point_through() -> None:
    text = "😀😀 ab"  # one emoji is 3 tokens in cl100k_base
    assert CL100K.count("😀") > 1
    chunks = chunk_text(text, RecursiveTokens(1, 0), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    assert [c.text for c in chunks] == ["😀", "😀", "ab"]
    assert all(c.token_count <= 1 or len(c.text) == 1 for c in chunks)


def test_windows_line_endings_are_fine() -> None:
    text = "First line.\r\nSecond line.\r\n\r\nNew paragraph here.\r\n"
    for strategy in ALL_STRATEGIES:
        chunks = chunk_text(text, strategy, tokenizer=CL100K)
        check_invariants(text, chunks, CL100K)


def test_special_token_text_is_just_text() -> None:
    text = "Before <|endoftext|> after. <|fim_prefix|> more."
    chunks = chunk_text(text, Sentences(50, 0), tokenizer=O200K)
    check_invariants(text, chunks, O200K)


# -- FixedWords -------------------------------------------------------------------------


def test_fixed_words_windows_and_overlap() -> None:
    text = "a b c d e f g"
    chunks = chunk_text(text, FixedWords(3, 1), tokenizer=CL100K)
    assert [c.text for c in chunks] == ["a b c", "c d e", "e f g"]
    chunks = chunk_text(text, FixedWords(3, 0), tokenizer=CL100K)
    assert [c.text for c in chunks] == ["a b c", "d e f", "g"]
    chunks = chunk_text("a b c d", FixedWords(3, 2), tokenizer=CL100K)
    assert [c.text for c in chunks] == ["a b c", "b c d"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FixedWords(0), "The size must be at least 1 word."),
        (
            lambda: FixedWords(3, 3),
            "The overlap (3 words) must be smaller than the size (3 words).",
        ),
        (lambda: FixedWords(3, -1), "The overlap cannot be negative."),
    ],
)
def test_fixed_words_rejects_bad_parameters_in_the_form_s_words(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=r"^The ") as raised:
        make()  # type: ignore[operator]
    assert str(raised.value) == message


# -- Sentences --------------------------------------------------------------------------


def test_sentences_are_packed_and_the_last_one_repeated() -> None:
    sentences = [f"Sentence number {n} is here." for n in range(10)]
    text = " ".join(sentences)
    per_sentence = CL100K.count(sentences[1])
    chunks = chunk_text(text, Sentences(per_sentence * 3 + 2, 1), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    for before, after in itertools.pairwise(chunks):
        last_of_before = re.findall(r"Sentence number \d is here\.", before.text)[-1]
        assert after.text.startswith(last_of_before)
        assert sum(1 for s in sentences if s in before.text) == 3
    no_overlap = chunk_text(text, Sentences(per_sentence * 3 + 2, 0), tokenizer=CL100K)
    assert all(b.start >= a.end for a, b in itertools.pairwise(no_overlap))
    assert " ".join(c.text for c in no_overlap) == text


def test_sentence_overlap_of_two() -> None:
    text = " ".join(f"S{n} ok." for n in range(12))
    chunks = chunk_text(text, Sentences(20, 2), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    for before, after in itertools.pairwise(chunks):
        tail = re.findall(r"S\d+ ok\.", before.text)[-2:]
        assert after.text.startswith(" ".join(tail))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith arrived. He sat down! Why? Because e.g. the chair was free.",
            ["Dr. Smith arrived.", "He sat down!", "Why?", "Because e.g. the chair was free."],
        ),
        (
            "Pi is 3.14 roughly. J. R. R. Tolkien wrote it. See Fig. 2 for more.",
            ["Pi is 3.14 roughly.", "J. R. R. Tolkien wrote it.", "See Fig. 2 for more."],
        ),
        (
            "吾輩は猫である。名前はまだ無い！どこで生れたか？",
            ["吾輩は猫である。", "名前はまだ無い！", "どこで生れたか？"],
        ),
        ("1. Install it\n2. Run it.\n- a point", ["1. Install it", "2. Run it.", "- a point"]),
        (
            'He said "Stop." Then he left... and came back.',
            ['He said "Stop."', "Then he left... and came back."],
        ),
        ("no punctuation at all here", ["no punctuation at all here"]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    limit = max(CL100K.count(s) for s in expected)
    chunks = chunk_text(text, Sentences(limit, 0), tokenizer=CL100K)
    # With the limit at the largest sentence, adjacent small sentences may share a
    # chunk, but no chunk may cut a sentence.
    joined = [c.text for c in chunks]
    for sentence in expected:
        assert any(sentence in chunk for chunk in joined), (sentence, joined)
    tight = chunk_text(text, Sentences(1_000, 0), tokenizer=CL100K)
    assert [c.text for c in tight] == [text]


# -- RecursiveTokens --------------------------------------------------------------------


def test_recursive_keeps_paragraphs_whole_when_they_fit() -> None:
    paragraphs = [f"Paragraph {n} has a few words in it. And a second sentence." for n in range(6)]
    text = "\n\n".join(paragraphs)
    size = CL100K.count(paragraphs[0])
    chunks = chunk_text(text, RecursiveTokens(size * 2 + 2, 0), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[i : i + 2]) for i in (0, 2, 4)]


def test_recursive_splits_a_long_paragraph_at_sentences_then_words() -> None:
    sentence = "This sentence has exactly nine short words in it."
    text = " ".join([sentence] * 8) + " " + " ".join(["long"] * 100)
    chunks = chunk_text(text, RecursiveTokens(25, 0), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    check_limit(chunks, 25)
    assert chunks[0].text == f"{sentence} {sentence}"
    assert all(b.start > a.end for a, b in itertools.pairwise(chunks))


def test_recursive_overlap_is_at_most_the_configured_tokens() -> None:
    text = " ".join(f"Word{n} and more text here." for n in range(60))
    chunks = chunk_text(text, RecursiveTokens(40, 10), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    check_limit(chunks, 40)
    overlaps = []
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive chunks overlap"
        shared = text[after.start : before.end]
        overlaps.append(CL100K.count(shared))
        assert CL100K.count(shared) <= 10
    assert max(overlaps) >= 6, "the overlap uses most of its budget"


def test_recursive_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"The overlap \(10 tokens\) must be smaller"):
        RecursiveTokens(10, 10)
    with pytest.raises(ValueError, match="The size must be at least 1 token"):
        RecursiveTokens(0, 0)


# -- Structure --------------------------------------------------------------------------

MARKDOWN = """Preamble before any heading.

# Install

How to install.

## Linux

Run the package manager.

## Windows

Double-click the installer.

```
# not a heading: inside a code block
```

# Usage
## Basics
### First steps

Start here.
"""


def test_structure_chunks_carry_their_heading_path() -> None:
    chunks = chunk_text(MARKDOWN, Structure(200), tokenizer=CL100K)
    check_invariants(MARKDOWN, chunks, CL100K)
    summary = [(c.heading_path, c.text.split("\n")[0]) for c in chunks]
    assert summary == [
        ((), "Preamble before any heading."),
        (("Install",), "# Install"),
        (("Install", "Linux"), "## Linux"),
        (("Install", "Windows"), "## Windows"),
        (("Usage", "Basics", "First steps"), "# Usage"),
    ]
    assert "# not a heading" in chunks[3].text
    assert chunks[4].text.endswith("Start here.")


def test_structure_splits_big_sections_and_keeps_the_path() -> None:
    body = " ".join(f"Sentence {n} of the Linux section." for n in range(40))
    text = f"# Install\n\nIntro.\n\n## Linux\n\n{body}\n\n## Mac\n\nShort."
    chunks = chunk_text(text, Structure(30), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    check_limit(chunks, 30)
    linux = [c for c in chunks if c.heading_path == ("Install", "Linux")]
    assert len(linux) > 3
    assert linux[0].text.startswith("## Linux")
    assert chunks[-1].heading_path == ("Install", "Mac")
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))


def test_structure_without_headings_falls_back_to_recursive_splitting() -> None:
    text = "\n\n".join(f"Paragraph {n}. It says something." for n in range(30))
    chunks = chunk_text(text, Structure(40), tokenizer=CL100K)
    check_invariants(text, chunks, CL100K)
    check_limit(chunks, 40)
    assert {c.heading_path for c in chunks} == {()}


def test_find_headings_ignores_fences_hashtags_and_deep_levels() -> None:
    text = "#tag not heading\n####### seven\n  ## Indented ##\n```\n# code\n```\n# Real #\n"
    assert [(level, path) for _, level, path in find_headings(text)] == [
        (2, ("Indented",)),
        (1, ("Real",)),
    ]


def test_other_strategies_report_the_heading_path_too() -> None:
    chunks = chunk_text(MARKDOWN, Sentences(6, 0), tokenizer=CL100K)
    by_text = {c.text.split("\n")[0]: c.heading_path for c in chunks}
    assert by_text["Run the package manager."] == ("Install", "Linux")


# -- Pages, keys, statistics --------------------------------------------------------------


def test_pages_are_one_based_and_follow_the_chunk_start() -> None:
    pages = ["Page one text. " * 10, "Page two text. " * 10, "Page three. " * 10]
    text = "\n\n".join(p.strip() for p in pages)
    starts = [0]
    for page in pages[:-1]:
        starts.append(starts[-1] + len(page.strip()) + 2)
    chunks = chunk_text(text, Sentences(10, 0), pages=starts, tokenizer=CL100K)
    for chunk in chunks:
        expected = sum(1 for s in starts if s <= chunk.start)
        assert chunk.page == expected
    assert {c.page for c in chunks} == {1, 2, 3}
    assert all(c.page is None for c in chunk_text(text, Sentences(10, 0), tokenizer=CL100K))


def test_keys_survive_edits_elsewhere_and_tell_duplicates_apart() -> None:
    text = "# A\n\nSame text.\n\n# B\n\nOther text.\n\n# C\n\nSame text."
    first = chunk_text(text, Structure(50), tokenizer=CL100K)
    again = chunk_text(text, Structure(50), tokenizer=CL100K)
    assert [c.key for c in first] == [c.key for c in again]
    edited = chunk_text("Intro added.\n\n" + text, Structure(50), tokenizer=CL100K)
    assert {c.key for c in first} <= {c.key for c in edited}
    repeated = chunk_text("Same.\n\nSame.", RecursiveTokens(2, 0), tokenizer=CL100K)
    assert len({c.key for c in repeated}) == 2
    other_strategy = chunk_text(text, Structure(51), tokenizer=CL100K)
    assert not {c.key for c in first} & {c.key for c in other_strategy}


def test_keys_do_not_change_between_versions() -> None:
    """A chunk's key says whether its stored vector still applies: a key that changed with
    an upgrade would have every library embedded again. These were made by the version
    before the keys' common start was cached per strategy."""
    text = "# Pumps\n\nThe pump primes in ten seconds.\n\n## Valves\n\nClose the valve first.\n"
    chunks = chunk_text(text, RecursiveTokens(chunk_tokens=8, overlap_tokens=2), tokenizer=CL100K)
    assert [c.key for c in chunks] == [
        "b49e937c3a2082a0a002d670431d328d104de306",
        "3d90b7d93b5a87d47499bd0cf184494d630ef4ca",
        "1f52fa4b45cca2adbfacc08466324a43b88c49d8",
        "53a1f499d806f63a293b41117ae2e09cc9be1f31",
    ]


def test_chunk_stats_and_histogram() -> None:
    text = "one two three four five six seven eight nine ten"
    chunks = chunk_text(text, FixedWords(4, 2), tokenizer=CL100K)
    assert [c.text for c in chunks] == [
        "one two three four",
        "three four five six",
        "five six seven eight",
        "seven eight nine ten",
    ]
    stats = chunk_stats(chunks, text)
    assert stats.count == 4
    assert stats.min_tokens == stats.max_tokens == 4
    assert stats.mean_tokens == stats.median_tokens == 4.0
    assert stats.total_tokens == 16
    assert stats.coverage == 1.0
    assert stats.overlap_chars == len("three four") + len("five six") + len("seven eight")
    partial = chunk_stats(chunks[:1], text)
    assert partial.coverage == pytest.approx(15 / len(text.replace(" ", "")))
    assert chunk_stats([], text).count == 0
    assert size_histogram(chunks, 3) == [(4, 5, 4)]
    mixed = chunk_text("a\n\nb c d e f g h", RecursiveTokens(3, 0), tokenizer=CL100K)
    counts = sorted(c.token_count for c in mixed)
    histogram = size_histogram(mixed, 2)
    assert sum(n for _, _, n in histogram) == len(mixed)
    assert histogram[0][0] == counts[0] and histogram[-1][1] > counts[-1]
    assert size_histogram(mixed, [0, 2, 100]) == [
        (0, 2, sum(1 for c in counts if c < 2)),
        (2, 100, sum(1 for c in counts if c >= 2)),
    ]
    assert size_histogram([], 5) == []


def test_strategy_params_round_trip() -> None:
    for strategy in ALL_STRATEGIES:
        params = strategy_params(strategy)
        assert params["name"] == strategy.name
        assert strategy_from_params(params) == strategy
    with pytest.raises(ValueError, match="unknown chunking strategy"):
        strategy_from_params({"name": "magic"})
    with pytest.raises(ValueError, match="bad parameters"):
        strategy_from_params({"name": "sentences", "size": 3})


# -- Properties of every strategy ---------------------------------------------------------

_FRAGMENTS = [
    "word",
    "Hello",
    "the",
    "x",
    "12",
    "3.14",
    "Dr.",
    "e.g.",
    ".",
    "!",
    "?",
    ",",
    "...",
    "。",
    "漢字",
    "かな",
    "😀",
    "é",
    "naïve",
    "—",
    "\n",
    "\n\n",
    " ",
    "  ",
    "\t",
    "\r\n",
    "# ",
    "## ",
    "- ",
    "1. ",
    "```\n",
    "<|endoftext|>",
    "\u3000",
    "\xa0",
    "\x1c",
    "/",
    "'s",
    "ab" * 30,
    "長" * 30,
    "e\u0301",
]
_texts = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=60).map("".join),
    st.text(max_size=80),
)
_tokenizers = st.sampled_from([CL100K, O200K])
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(
    text=_texts,
    tokenizer=_tokenizers,
    size=st.integers(1, 12),
    overlap=st.integers(0, 11),
)
def test_fixed_words_properties(text: str, tokenizer: Tokenizer, size: int, overlap: int) -> None:
    strategy = FixedWords(size, min(overlap, size - 1))
    chunks = chunk_text(text, strategy, tokenizer=tokenizer)
    check_invariants(text, chunks, tokenizer)
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    step = strategy.size_words - strategy.overlap_words
    for number, chunk in enumerate(chunks):
        first = number * step
        last = min(first + size, len(spans)) - 1
        assert (chunk.start, chunk.end) == (spans[first][0], spans[last][1])
    if spans:
        assert chunks[-1].end == spans[-1][1]


@_SETTINGS
@given(text=_texts, tokenizer=_tokenizers, limit=st.integers(1, 40), overlap=st.integers(0, 3))
def test_sentences_properties(text: str, tokenizer: Tokenizer, limit: int, overlap: int) -> None:
    chunks = chunk_text(text, Sentences(limit, overlap), tokenizer=tokenizer)
    check_invariants(text, chunks, tokenizer)
    check_limit(chunks, limit)
    if overlap == 0:
        assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))


@_SETTINGS
@given(text=_texts, tokenizer=_tokenizers, limit=st.integers(1, 40), overlap=st.integers(0, 39))
def test_recursive_properties(text: str, tokenizer: Tokenizer, limit: int, overlap: int) -> None:
    overlap = min(overlap, limit - 1)
    chunks = chunk_text(text, RecursiveTokens(limit, overlap), tokenizer=tokenizer)
    check_invariants(text, chunks, tokenizer)
    check_limit(chunks, limit)
    for before, after in itertools.pairwise(chunks):
        if after.start < before.end:
            assert tokenizer.count(text[after.start : before.end]) <= overlap


@_SETTINGS
@given(text=_texts, tokenizer=_tokenizers, limit=st.integers(1, 40))
def test_structure_properties(text: str, tokenizer: Tokenizer, limit: int) -> None:
    chunks = chunk_text(text, Structure(limit), tokenizer=tokenizer)
    check_invariants(text, chunks, tokenizer)
    check_limit(chunks, limit)
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))
    headings = {start: path for start, _, path in find_headings(text)}
    for chunk in chunks:
        if chunk.start in headings:
            # A chunk that opens with a heading is filed under it (or a sub-heading).
            path = headings[chunk.start]
            assert chunk.heading_path[: len(path)] == path
