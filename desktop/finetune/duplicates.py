"""Near duplicates and leakage: which examples say the same thing, and which user
messages carry an evaluation question.

Fast enough for 50,000 examples: the user and assistant text of each example is
normalised (case, punctuation, spacing) into words. Equal normalised texts are near
duplicates outright. Otherwise candidates come from one-permutation MinHash (64 bins,
densified by rotation) over word-bigram sets, banded 16 × 4, and each candidate pair is
confirmed with the exact Jaccard similarity of the bigram sets (default threshold 0.8).
Banding finds a pair at similarity 0.8 with probability > 0.999, and the exact check
means a reported pair is always truly similar. Word ids come from first occurrence and
the hash is fixed, so results do not vary between runs."""

from __future__ import annotations

import itertools
import string
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.8
LEAKAGE_CONTAINMENT = 0.9
"""Share of an evaluation question's word pairs found in a user message to call it leaked."""
LEAKAGE_MIN_WORDS = 4
"""Shorter evaluation questions only leak by exact (normalised) match."""


_PUNCTUATION = string.punctuation + "¡¿«»‹›“”„‘’‚–—…·•§¶"
_TO_SPACE = str.maketrans(dict.fromkeys(_PUNCTUATION, " "))


def normalised_words(text: str) -> list[str]:
    """Lower-case words without punctuation: what "the same text" means here."""
    return text.lower().translate(_TO_SPACE).split()


def _bigrams(words: Sequence[str]) -> set[tuple[str, ...]]:
    if len(words) < 2:
        return {tuple(words)} if words else set()
    return set(itertools.pairwise(words))


def jaccard(a: set[Any], b: set[Any]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


_BINS = 64
_BAND_ROWS = 4
_VALUE_BITS = 58
_EMPTY = np.uint64(2**64 - 1)
_MAX_GROUP_PAIRS = 64
_BAND_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)


_DONORS = np.random.default_rng(20261125).integers(0, _BINS, size=(32, _BINS))
"""Donor bins for densification: fixed, so sketches are the same on every run."""


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit hash (no per-run seed)."""
    h = values.astype(np.uint64, copy=True)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


class WordIds:
    """Normalised texts as one array of word ids plus a length per text.

    Ids are given by first occurrence (a ``defaultdict`` over a counter: all C code, no
    per-word Python), so they are the same on every run, and 50,000 texts cost a few
    megabytes instead of millions of word strings.
    """

    def __init__(self) -> None:
        self._vocabulary: defaultdict[str, int] = defaultdict(itertools.count().__next__)
        self.ids = array("q")
        self.lengths = array("q")

    def add(self, words: Iterable[str]) -> bytes:
        """Append one text; returns its ids as bytes (equal bytes: equal texts)."""
        start = len(self.ids)
        self.ids.extend(map(self._vocabulary.__getitem__, words))
        self.lengths.append(len(self.ids) - start)
        return self.ids[start:].tobytes()

    def __len__(self) -> int:
        return len(self.lengths)

    def subset(self, texts: Sequence[int]) -> WordIds:
        """The given texts only, in that order (sharing the vocabulary)."""
        lengths = np.frombuffer(self.lengths, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        chosen = np.asarray(texts, dtype=np.int64)
        out = WordIds()
        out._vocabulary = self._vocabulary
        if chosen.size:
            ids = np.frombuffer(self.ids, dtype=np.int64)
            out.ids.frombytes(ids[_ranges(starts[chosen], lengths[chosen])].tobytes())
            out.lengths.frombytes(lengths[chosen].tobytes())
        return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start, start + length)`` for many ranges, without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _shingles(texts: WordIds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word-bigram codes of every text, the text each belongs to, and where each text's
    codes start (a one-word text gets the word itself; an empty one nothing)."""
    words = np.frombuffer(texts.ids, dtype=np.int64).astype(np.uint64)
    lengths = np.frombuffer(texts.lengths, dtype=np.int64)
    counts = np.where(lengths >= 2, lengths - 1, lengths)  # shingles per text
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    codes = np.empty(int(counts.sum()), dtype=np.uint64)
    owners = np.repeat(np.arange(len(lengths), dtype=np.int64), counts)
    # Position p starts a bigram unless it is the last word of its text.
    if total >= 2:
        starts_pair = np.ones(total - 1, dtype=bool)
        last = ends[lengths > 0] - 1
        starts_pair[last[last < total - 1]] = False
        pairs = (words[:-1] << np.uint64(32)) | words[1:]
        pair_codes = pairs[starts_pair]
    else:
        pair_codes = np.zeros(0, dtype=np.uint64)
    single = lengths == 1
    if single.any():
        # Interleave: texts are in order, so place bigrams and single words by owner.
        is_single = single[owners]
        codes[~is_single] = pair_codes
        one = words[ends[single] - 1]
        codes[is_single] = (one << np.uint64(32)) | one
    else:
        codes[:] = pair_codes
    offsets = np.concatenate(([0], np.cumsum(counts)))
    return codes, owners, offsets


def _sketches(codes: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    """One-permutation MinHash sketches (n × 64) of the texts' shingle sets."""
    hashed = _mix(codes)
    bins = (hashed >> np.uint64(_VALUE_BITS)).astype(np.int64)
    values = hashed & np.uint64((1 << _VALUE_BITS) - 1)
    sketch = np.full(n * _BINS, _EMPTY, dtype=np.uint64)
    np.minimum.at(sketch, owners * _BINS + bins, values)
    sketch = sketch.reshape(n, _BINS)
    # Densify ("optimal densification", Shrivastava 2017): an empty bin takes the value
    # of a donor bin picked by a fixed pseudo-random sequence, the same for every set,
    # so two sets agree on it about as often as on a real bin, and neighbouring empty
    # bins do not copy one donor (which would make whole bands agree by accident).
    rows, columns = np.nonzero(sketch == _EMPTY)
    unique_rows = np.unique(rows)
    original = sketch[unique_rows]
    local = np.searchsorted(unique_rows, rows)  # row numbers within ``original``
    for donors in _DONORS:
        if not rows.size:
            break
        values = original[local, donors[columns]]
        found = values != _EMPTY
        sketch[rows[found], columns[found]] = values[found]
        rows, columns, local = rows[~found], columns[~found], local[~found]
    for shift in range(1, _BINS):  # sets with very few bins: the nearest one to the right
        if not rows.size:
            break
        values = original[local, (columns + shift) % _BINS]
        found = values != _EMPTY
        sketch[rows[found], columns[found]] = values[found] + np.uint64(shift << _VALUE_BITS)
        rows, columns, local = rows[~found], columns[~found], local[~found]
    return sketch


def _candidate_pairs(sketch: np.ndarray) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for start in range(0, _BINS, _BAND_ROWS):
        band = sketch[:, start : start + _BAND_ROWS]
        keys = (band * _BAND_MULTIPLIERS).sum(axis=1, dtype=np.uint64)
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        breaks = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        bounds = np.concatenate(([0], breaks, [len(ordered)]))
        sizes = np.diff(bounds)
        for group in np.flatnonzero(sizes > 1):
            members = sorted(order[bounds[group] : bounds[group + 1]].tolist())
            if len(members) <= _MAX_GROUP_PAIRS:
                pairs.update(itertools.combinations(members, 2))
            else:  # a huge group is one template: compare each with the first
                pairs.update((members[0], m) for m in members[1:])
    return pairs


def near_duplicate_pairs(
    texts: WordIds, threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD
) -> dict[int, tuple[int, float]]:
    """For each text at least ``threshold`` similar (word-bigram Jaccard) to an earlier
    one: its index -> (the most similar earlier index, similarity). Empty texts never match.
    """
    lengths = np.frombuffer(texts.lengths, dtype=np.int64)
    present = np.flatnonzero(lengths > 0)
    if present.size < 2:
        return {}
    if present.size < len(lengths):
        dense = texts.subset(present.tolist())
        found = near_duplicate_pairs(dense, threshold)
        return {
            int(present[j]): (int(present[i]), similarity) for j, (i, similarity) in found.items()
        }
    codes, owners, offsets = _shingles(texts)
    sketch = _sketches(codes, owners, len(lengths))
    sets: dict[int, set[int]] = {}
    best: dict[int, tuple[int, float]] = {}
    for i, j in sorted(_candidate_pairs(sketch)):
        for k in (i, j):
            if k not in sets:
                sets[k] = set(codes[offsets[k] : offsets[k + 1]].tolist())
        similarity = jaccard(sets[i], sets[j])
        if similarity >= threshold and (j not in best or similarity > best[j][1]):
            best[j] = (i, similarity)
    return best


def find_near_duplicates(
    word_lists: Sequence[Sequence[str]],
    threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
) -> dict[int, tuple[int, float]]:
    """``near_duplicate_pairs`` for texts given as lists of (normalised) words."""
    texts = WordIds()
    for words in word_lists:
        texts.add(words)
    return near_duplicate_pairs(texts, threshold)


class Leakage:
    """Finds evaluation questions in user messages.

    A user message leaks an evaluation question when it equals it (normalised) or
    holds at least ``LEAKAGE_CONTAINMENT`` of its word pairs (the question pasted into a
    longer message). A message that misses at most m of a question's pairs holds at
    least one of any m + 1 of them, so only those m + 1 "signature" pairs are looked
    up; the rare-looking ones (longest words) are chosen to keep candidates few.
    """

    def __init__(self, questions: Sequence[str]) -> None:
        self.questions = list(questions)
        self._exact: dict[str, int] = {}
        self._pairs: dict[int, set[tuple[str, ...]]] = {}
        self._signatures: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for number, question in enumerate(self.questions):
            words = normalised_words(question)
            if not words:
                continue
            self._exact.setdefault(" ".join(words), number)
            if len(words) < LEAKAGE_MIN_WORDS:
                continue
            pairs = _bigrams(words)
            self._pairs[number] = pairs
            misses = int(len(pairs) * (1 - LEAKAGE_CONTAINMENT))
            ranked = sorted(pairs, key=lambda pair: (-sum(map(len, pair)), pair))
            for pair in ranked[: misses + 1]:
                self._signatures[pair].append(number)

    def match(self, words: list[str]) -> int | None:
        """The first evaluation question the message leaks, or None."""
        found = self._exact.get(" ".join(words))
        if found is not None or not self._signatures:
            return found
        candidates: set[int] = set()
        for pair in itertools.pairwise(words):
            hit = self._signatures.get(pair)
            if hit is not None:
                candidates.update(hit)
        if not candidates:
            return None
        present = _bigrams(words)
        for number in sorted(candidates):
            pairs = self._pairs[number]
            if len(pairs & present) >= LEAKAGE_CONTAINMENT * len(pairs):
                return number
        return None
