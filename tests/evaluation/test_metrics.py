"""The metrics against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

from desktop.evaluation.metrics import (
    answer_in_context,
    answer_scores,
    exact_match,
    hit_at,
    latency_figures,
    mean_of,
    ndcg_at,
    normalize_answer,
    percentile_nearest_rank,
    reciprocal_rank,
    says_unknown,
    token_f1,
)

NONE: frozenset[int] = frozenset()


def test_squad_normalisation_on_the_published_examples() -> None:
    # SQuAD v1.1 dev, the first article ("Super Bowl 50"): its questions' gold answers
    # and predictions as the official script normalises them.
    assert normalize_answer("Denver Broncos") == "denver broncos"
    assert normalize_answer("The Denver Broncos.") == "denver broncos"
    assert normalize_answer("Santa Clara, California") == "santa clara california"
    assert normalize_answer("Levi's Stadium") == "levis stadium"
    assert normalize_answer("  the  Golden   anniversary ") == "golden anniversary"
    # Articles go only as whole words, after punctuation is removed.
    assert normalize_answer("An apple, a theory; THE end") == "apple theory end"
    assert normalize_answer("Anthem theatre") == "anthem theatre"


def test_exact_match_takes_the_best_reference() -> None:
    references = ["Denver Broncos", "Denver Broncos", "Broncos"]
    assert exact_match("the Denver Broncos!", references) == 1.0
    assert exact_match("Broncos", references) == 1.0
    assert exact_match("Carolina Panthers", references) == 0.0
    assert exact_match("anything", []) == 0.0


def test_token_f1_by_hand() -> None:
    # "Broncos" vs "Denver Broncos": 1 shared token; precision 1/1, recall 1/2:
    # F1 = 2 * 1 * 0.5 / 1.5 = 2/3.
    assert token_f1("Broncos", ["Denver Broncos"]) == pytest.approx(2 / 3)
    # "the cat sat on the mat" vs "a cat sat": normalised ["cat","sat","on","mat"] vs
    # ["cat","sat"]; shared 2; P = 2/4, R = 2/2: F1 = 2 * 0.5 * 1 / 1.5 = 2/3.
    assert token_f1("the cat sat on the mat", ["a cat sat"]) == pytest.approx(2 / 3)
    # Repeated tokens count as often as both have them: "a a b" → ["b"] after articles;
    # "x x y" vs "x y y": shared x1 + y1 = 2; P = 2/3, R = 2/3, F1 = 2/3.
    assert token_f1("x x y", ["x y y"]) == pytest.approx(2 / 3)
    # The best of several references.
    assert token_f1("Denver Broncos", ["Broncos", "Denver Broncos"]) == 1.0
    assert token_f1("nothing shared", ["Denver"]) == 0.0
    # Both empty after normalisation: equal, so 1; one empty: 0.
    assert token_f1("the", ["a"]) == 1.0
    assert token_f1("", ["Denver"]) == 0.0


def test_hit_mrr_and_ndcg_by_hand() -> None:
    # Ranks 1..5; expected sources 0 and 1; rank 2 covers 0, rank 4 covers 0 again,
    # rank 5 covers 1.
    covered = [NONE, frozenset({0}), NONE, frozenset({0}), frozenset({1})]
    assert hit_at(covered, 1) == 0.0
    assert hit_at(covered, 2) == 1.0
    assert reciprocal_rank(covered) == 0.5
    # DCG = 1/log2(3) (rank 2, new source 0) + 1/log2(6) (rank 5, new source 1); the
    # repeat at rank 4 gains nothing. IDCG = 1/log2(2) + 1/log2(3).
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at(covered, 2, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at(covered, 2, 10) == pytest.approx(0.6241, abs=1e-4)  # (0.6309 + 0.3869) / 1.6309
    # A perfect ranking scores 1; nothing relevant scores 0 everywhere.
    assert ndcg_at([frozenset({0}), frozenset({1})], 2) == pytest.approx(1.0)
    assert (hit_at([NONE] * 3, 3), reciprocal_rank([NONE] * 3), ndcg_at([NONE] * 3, 1)) == (
        0.0,
        0.0,
        0.0,
    )
    # Only the first 10 count for nDCG@10.
    assert ndcg_at([NONE] * 10 + [frozenset({0})], 1, 10) == 0.0


def test_said_it_does_not_know() -> None:
    for text in (
        "I don't know.",
        "The provided documents do not answer this question.",
        "This is not mentioned in the sources.",
        "I'm unable to find that in the context.",
        "There is no information about refunds for gift cards.",
        "The documents don’t contain any information on that.",
    ):
        assert says_unknown(text), text
    for text in ("Refunds take 14 days.", "", "I know the answer: port 47120."):
        assert not says_unknown(text), text


def test_answer_scores_keep_unanswerable_questions_apart() -> None:
    answered = answer_scores("Denver Broncos", ["Denver Broncos"], answerable=True)
    assert answered == {"said_unknown": 0.0, "exact_match": 1.0, "f1": 1.0}
    refused = answer_scores("The documents do not say.", ["not in the documents"], False)
    assert refused == {"said_unknown": 1.0, "refused_unanswerable": 1.0}
    guessed = answer_scores("It is 42.", ["not in the documents"], answerable=False)
    assert guessed == {"said_unknown": 0.0, "refused_unanswerable": 0.0}


def test_answer_in_context_matches_normalised_text() -> None:
    chunks = ["Money is returned within 14 days, after the device arrives."]
    assert answer_in_context(["within 14 days"], chunks) == 1.0
    assert answer_in_context(["WITHIN 14 DAYS."], chunks) == 1.0
    assert answer_in_context(["within 15 days"], chunks) == 0.0
    assert answer_in_context(["14 day"], chunks) == 0.0  # whole words only
    assert answer_in_context([""], chunks) == 0.0


def test_averages_and_latency_figures() -> None:
    rows = [{"f1": 1.0}, {"f1": 0.5}, {"hit@1": 1.0}, {"f1": None}]
    assert mean_of(rows, "f1") == (0.75, 2)
    assert mean_of(rows, "mrr") == (None, 0)
    # Nearest rank: p95 of 1..20 is the 19th value.
    assert percentile_nearest_rank(list(range(1, 21)), 95) == 19
    assert latency_figures([100.0, 300.0, 200.0]) == {
        "latency_median_ms": 200.0,
        "latency_p95_ms": 300.0,
    }
    assert latency_figures([]) == {"latency_median_ms": None, "latency_p95_ms": None}
