"""The metrics, each a pure function with its definition here and in the README
("Evaluate"). The names of the keys (``hit@1``, ``mrr``, ``f1`` …) are the ones runs
store and ``ragtune eval`` prints.

Retrieval, where an expected source is known: each retrieved chunk (in rank order) is
given the set of expected sources it covers (``sources.py`` decides coverage by
character overlap), so the metrics do not depend on how the library is chunked:

- ``hit@1``, ``hit@5``, ``hit@k``: 1 when a chunk among the first 1, 5 or k covers an
  expected source, else 0;
- ``mrr``: 1 / the rank of the first covering chunk (0 when none is retrieved);
- ``ndcg@10``: each chunk in the top 10 gains 1 when it covers an expected source no
  earlier chunk covered, discounted by log2(rank + 1), over the ideal (every source
  covered at the top);
- ``recall@k``: the share of the expected passages' characters inside the top k chunks
  (for a source known only by its document: 1 when a chunk of it is in the top k).

Where only the answer is known: ``answer_in_context@k``, 1 when the reference answer
(SQuAD-normalised) appears inside one of the top k chunks.

Answers, offline and deterministic (SQuAD v1.1's official definitions, the best over
the reference and its alternatives): ``exact_match`` and ``f1`` over answerable
questions; ``said_unknown``, 1 when the answer says it does not know; on unanswerable
questions ``refused_unanswerable`` (it said so, which is right) apart from the rest."""

from __future__ import annotations

import math
import re
import statistics
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)

# Key names, as stored and printed.
HIT_1, HIT_5, HIT_K = "hit@1", "hit@5", "hit@k"
MRR, NDCG_10, RECALL_K = "mrr", "ndcg@10", "recall@k"
ANSWER_IN_CONTEXT = "answer_in_context@k"
EXACT_MATCH, F1 = "exact_match", "f1"
SAID_UNKNOWN, REFUSED_UNANSWERABLE = "said_unknown", "refused_unanswerable"
CORRECT, FAITHFUL = "correct", "faithful"
FORMAT_ADHERENCE = "format_adherence"

RETRIEVAL_KEYS = (HIT_1, HIT_5, HIT_K, MRR, NDCG_10, RECALL_K, ANSWER_IN_CONTEXT)
ANSWER_KEYS = (EXACT_MATCH, F1, SAID_UNKNOWN, REFUSED_UNANSWERABLE, CORRECT, FAITHFUL)
SHARE_KEYS = (*RETRIEVAL_KEYS, *ANSWER_KEYS, FORMAT_ADHERENCE)
"""Per-question scores averaged over a run (each between 0 and 1)."""

DESCRIPTIONS: dict[str, str] = {
    HIT_1: "Share of questions whose first retrieved chunk covers an expected source.",
    HIT_5: "Share of questions with a chunk covering an expected source in the top 5.",
    HIT_K: "Share of questions with a chunk covering an expected source in the top k "
    "(the run's k, the chunks the answer is given).",
    MRR: "Mean reciprocal rank: 1 / the rank of the first chunk covering an expected "
    "source, 0 when none is retrieved, averaged.",
    NDCG_10: "Normalised discounted cumulative gain over the top 10: a chunk gains 1 when "
    "it covers an expected source no earlier chunk covered, divided by log2(rank + 1).",
    RECALL_K: "Share of the expected passages' characters inside the top k chunks (a source "
    "known only by its document counts when any chunk of it is retrieved).",
    ANSWER_IN_CONTEXT: "Where only the answer is known: share of questions whose reference "
    "answer (normalised) appears in one of the top k chunks.",
    EXACT_MATCH: "SQuAD exact match: the answer equals a reference after normalisation "
    "(lower case, no punctuation, no a/an/the, single spaces). Answerable questions only.",
    F1: "SQuAD token F1 between the normalised answer and the best reference. Answerable "
    "questions only.",
    SAID_UNKNOWN: "Share of answers that say the model does not know or the documents do not say.",
    REFUSED_UNANSWERABLE: "On questions the documents cannot answer: share of answers that "
    "rightly say so.",
    CORRECT: "The judge model's verdict: the answer states what the reference states.",
    FAITHFUL: "The judge model's verdict (RAG modes): every claim is supported by the "
    "retrieved sources.",
    FORMAT_ADHERENCE: "Share of answers in the set's declared format (valid JSON, its JSON "
    "Schema, or the template inferred from a dataset); the first violation is kept.",
    "latency_median_ms": "Median time per answer (or per search, retrieval only).",
    "latency_p95_ms": "95th percentile (nearest rank) of the time per answer.",
    "tokens_per_answer": "Mean prompt + completion tokens per answer, as the server counted.",
    "cost_per_answer_usd": "Mean cost per answer at the model's list price (unknown models: none).",
}


# -- answers ---------------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, punctuation removed, articles (a, an, the)
    removed, whitespace collapsed (the official evaluation script's order)."""
    no_punctuation = text.lower().translate(_NO_PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punctuation)
    return " ".join(no_articles.split())


def exact_match(prediction: str, references: Iterable[str]) -> float:
    found = [normalize_answer(prediction) == normalize_answer(r) for r in references]
    return float(any(found)) if found else 0.0


def _f1(prediction: str, reference: str) -> float:
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = Counter(predicted) & Counter(expected)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: Iterable[str]) -> float:
    """The best token F1 against any reference (0 when there is none)."""
    return max((_f1(prediction, r) for r in references), default=0.0)


_UNKNOWN = re.compile(
    r"\b("
    r"(i|we) (do not|don't|dont|cannot|can't|am unable to|are unable to) (know|say|tell|find|"
    r"answer|determine)"
    r"|(i|we) (have|has) no (information|details|data)"
    r"|(do not|don't|does not|doesn't) (have|contain|include|mention|say|specify|state|"
    r"provide|cover) (any |enough |the |that |this )?(information|details|answer|data)"
    r"|(is|are) not (mentioned|stated|specified|covered|included|provided|available|given)"
    r"|not (in|covered by|found in|mentioned in) the (provided |given |retrieved )?"
    r"(documents?|sources?|context|passages?|library|text)"
    r"|(no|not enough) (information|context|details) (about|on|in|to|regarding)"
    r"|(unable|not able) to (find|answer|determine)"
    r"|(there is|there's) no (information|mention)"
    r"|the (provided |given |retrieved )?(documents?|sources?|context) (do|does) not"
    r"|cannot be (answered|determined)"
    r")\b",
    re.IGNORECASE,
)


def says_unknown(answer: str) -> bool:
    """Whether an answer says the model does not know (or that the documents do not say).
    English phrasings; an empty answer is not a statement of anything."""
    return bool(_UNKNOWN.search(" ".join(answer.replace("’", "'").split())))


def answer_scores(answer: str, references: Sequence[str], answerable: bool) -> dict[str, float]:
    """The offline answer metrics of one answer. Unanswerable questions are scored by
    whether the answer refuses, and left out of exact match and F1."""
    unknown = says_unknown(answer)
    scores = {SAID_UNKNOWN: float(unknown)}
    if answerable:
        if references:
            scores[EXACT_MATCH] = exact_match(answer, references)
            scores[F1] = token_f1(answer, references)
    else:
        scores[REFUSED_UNANSWERABLE] = float(unknown)
    return scores


# -- retrieval --------------------------------------------------------------------------

Coverage = Sequence[frozenset[int]]
"""Per retrieved chunk in rank order: the indexes of the expected sources it covers."""


def hit_at(covered: Coverage, k: int) -> float:
    return float(any(covered[:k]))


def reciprocal_rank(covered: Coverage) -> float:
    for rank, sources in enumerate(covered, start=1):
        if sources:
            return 1.0 / rank
    return 0.0


def ndcg_at(covered: Coverage, expected: int, k: int = 10) -> float:
    """Gain 1 for a chunk that covers an expected source not covered above it."""
    if expected <= 0:
        return 0.0
    seen: set[int] = set()
    dcg = 0.0
    for rank, sources in enumerate(covered[:k], start=1):
        new = sources - seen
        if new:
            dcg += 1.0 / math.log2(rank + 1)
            seen |= new
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(expected, k) + 1))
    return dcg / ideal


def answer_in_context(references: Sequence[str], chunks: Sequence[str]) -> float:
    """1 when a normalised reference appears inside a normalised chunk."""
    wanted = [normalize_answer(r) for r in references]
    wanted = [w for w in wanted if w]
    if not wanted:
        return 0.0
    texts = [f" {normalize_answer(c)} " for c in chunks]
    return float(any(f" {w} " in t for w in wanted for t in texts))


# -- over a run ---------------------------------------------------------------------------


def percentile_nearest_rank(values: Sequence[float], percent: float) -> float:
    """The smallest value with at least ``percent`` % of the values at or below it
    (nearest rank: always a value that was measured, never an interpolation)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def mean_of(rows: Iterable[Mapping[str, float | None]], key: str) -> tuple[float | None, int]:
    """The mean of ``key`` over the rows that have it, and how many did."""
    values = [float(v) for row in rows if (v := row.get(key)) is not None]
    return (statistics.fmean(values) if values else None), len(values)


def latency_figures(latencies: Sequence[float]) -> dict[str, float | None]:
    if not latencies:
        return {"latency_median_ms": None, "latency_p95_ms": None}
    return {
        "latency_median_ms": round(float(statistics.median(latencies)), 1),
        "latency_p95_ms": round(percentile_nearest_rank(latencies, 95), 1),
    }
