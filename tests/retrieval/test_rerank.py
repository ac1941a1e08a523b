"""The reranking stage: it reorders the first search's candidates, its score is one more
column of the breakdown, and the similarity threshold means the same with or without it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from desktop.retrieval.rerank import (
    LLMReranker,
    MaxSimReranker,
    RerankError,
    parse_ranking,
    rerank_order,
)
from desktop.retrieval.search import RetrievedChunk, Retriever, SearchSettings
from desktop.retrieval.service import RetrievalService
from tests.helpers.fake_openai import FakeOpenAI


class Prefers:
    """A reranker that puts the passages holding ``word`` first (and counts its calls)."""

    name = "prefers"

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[int] = []

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        self.calls.append(len(passages))
        return [1.0 if self.word in p else 0.1 / (i + 1) for i, p in enumerate(passages)]


class Fails:
    name = "fails"

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        raise RerankError("the provider answered APITimeoutError")


def test_the_reranker_reorders_the_candidates_and_its_score_is_a_column(
    indexed: Retriever,
) -> None:
    settings = SearchSettings(k=2, rerank_candidates=4)
    plain = indexed.search("what does error LFS-4012 mean", settings)
    assert plain.results[0].document == "Errors"
    assert plain.reranker is None and all(r.rerank is None for r in plain.results)

    reranker = Prefers("12 euros")
    result = indexed.search("what does error LFS-4012 mean", settings, reranker=reranker)
    assert reranker.calls == [4]  # it read the candidates, not only the top k
    top = result.results[0]
    assert top.document == "Plans" and top.rank == 1
    assert top.rerank == 1.0 and top.score == 1.0
    assert top.first_rank is not None and top.first_rank > 1
    assert len(result.results) == 2 and len(result.candidates) == 4
    assert [c.rank for c in result.candidates] == [1, 2, 3, 4]
    assert result.reranker == "prefers"
    # The other stages' figures stay as the first search gave them.
    first = {
        r.chunk_id: r
        for r in indexed.search("what does error LFS-4012 mean", SearchSettings(k=4)).results
    }
    for chunk in result.candidates:
        assert chunk.first_rank == first[chunk.chunk_id].rank
        assert chunk.fused == first[chunk.chunk_id].fused
        assert chunk.cosine == first[chunk.chunk_id].cosine
    data = top.to_json()
    assert data["rerank"] == 1.0 and data["first_rank"] == top.first_rank
    assert RetrievedChunk.from_json(data) == top


def test_the_threshold_is_on_the_cosine_with_or_without_reranking(indexed: Retriever) -> None:
    settings = SearchSettings(k=4, threshold=0.3, rerank_candidates=4)
    plain = indexed.search("refund money returned warehouse", settings)
    reranked = indexed.search(
        "refund money returned warehouse", settings, reranker=Prefers("LFS-4012")
    )
    marks = {r.chunk_id: r.below_threshold for r in plain.results}
    assert True in marks.values()
    for chunk in reranked.results:
        assert chunk.below_threshold is marks[chunk.chunk_id]
        assert chunk.below_threshold is ((chunk.cosine or 0) < 0.3)
    assert {r.chunk_id for r in reranked.usable} == {r.chunk_id for r in plain.usable}
    # A chunk under the threshold ranked first by the reranker is still not sent.
    assert reranked.results[0].document == "Errors"
    assert reranked.results[0].below_threshold
    assert reranked.results[0] not in reranked.usable


def test_a_failed_reranker_leaves_the_first_order_and_says_so(indexed: Retriever) -> None:
    settings = SearchSettings(k=3)
    plain = indexed.search("port for Agents", settings)
    result = indexed.search("port for Agents", settings, reranker=Fails())
    assert [r.chunk_id for r in result.results] == [r.chunk_id for r in plain.results]
    assert result.reranker is None and all(r.rerank is None for r in result.results)
    assert any("Reranking with fails failed" in note for note in result.notes)


def test_rerank_order_keeps_the_first_order_on_ties() -> None:
    assert rerank_order([0.2, 0.9, 0.2, 0.5]) == [1, 3, 0, 2]


def test_the_bundled_late_interaction_model_prefers_the_passage_that_answers() -> None:
    reranker = MaxSimReranker()
    passages = [
        "The Hub listens on TCP port 47120 for Agents on the LAN.",
        "Money is returned within 14 days after the device arrives back at our warehouse.",
        "The Business plan costs 12 euros per user per month.",
    ]
    scores = reranker.scores("How long until I get my money back?", passages)
    assert rerank_order(scores)[0] == 1
    assert all(0.0 < s <= 1.0 for s in scores)
    # The same scores whether the token vectors come from the cache or not.
    assert reranker.scores("How long until I get my money back?", passages) == scores
    assert (
        MaxSimReranker(cache_bytes=0).scores("How long until I get my money back?", passages)
        == scores
    )


def test_a_long_candidate_is_read_through_the_window_with_the_question_words() -> None:
    reranker = MaxSimReranker(window=16)
    reranker.load()
    filler = "The appliance ships in a cardboard box with a printed manual. " * 6
    text = filler + "Refunds are paid within 14 days of the parcel arriving."
    model = reranker._model()
    ids = model.token_ids([text])[0]
    content = model.content_ids(model.token_ids(["When are refunds paid?"])[0])
    window = reranker._window(ids, content)
    assert len(window) == 16
    assert "refunds" in model.tokenizer.decode(list(window))
    assert MaxSimReranker(window=0)._window(ids, content) == tuple(ids)


def test_the_llm_reranker_orders_by_the_reply_and_tolerates_loose_replies() -> None:
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return 'Sure: {"ranking": [3, 1]}'

    reranker = LLMReranker(ask, "gpt-4.1-mini")
    scores = reranker.scores("q?", ["alpha", "beta", "gamma"])
    assert rerank_order(scores) == [2, 0, 1]  # passage 2 was left out: it comes last
    assert "[1] alpha" in prompts[0] and "Question: q?" in prompts[0]
    assert parse_ranking("3, 2, 2, 9, 1", 3) == [3, 2, 1]
    with pytest.raises(RerankError):
        parse_ranking("I cannot tell.", 3)


def test_the_chat_model_reranks_only_when_asked_and_a_failure_is_a_note(
    retrieval: RetrievalService, fake_openai: FakeOpenAI
) -> None:
    """Opt-in: the settings' default is the offline reranker; "llm" asks the provider."""
    assert retrieval.settings.rerank == "maxsim"
    settings = dataclasses.replace(retrieval.search_settings(), k=3)
    fake_openai.chat_reply = lambda body: '{"ranking": [3, 2, 1]}'
    first = retrieval.search("port 47120", settings, rerank="off")
    reranked = retrieval.search("port 47120", settings, rerank="llm")
    assert [r.chunk_id for r in reranked.results] == [r.chunk_id for r in reversed(first.results)]
    assert reranked.reranker == "gpt-4.1-mini (listwise, your provider)"
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1
    fake_openai.inject("/v1/chat/completions", 400)  # not retried
    failed = retrieval.search("port 47120", settings, rerank="llm")
    assert [r.chunk_id for r in failed.results] == [r.chunk_id for r in first.results]
    assert any("the first search's order" in note for note in failed.notes)


def test_the_bundled_reranker_loads_once_when_started_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A one-shot search starts loading the reranker while the SDK imports; the scores
    asked for meanwhile wait for that load instead of starting a second one."""
    from desktop.retrieval import rerank

    created: list[int] = []
    real = rerank._MaxSimModel

    def counting(*args: object) -> rerank._MaxSimModel:
        created.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rerank, "_MaxSimModel", counting)
    reranker = MaxSimReranker()
    reranker.load_in_background()
    reranker.load_in_background()  # a second search before it finished: no second thread
    scores = reranker.scores("how long may I return it", ["Returns within 30 days.", "Cats."])
    assert scores[0] > scores[1] and created == [1]


def test_a_process_that_ends_while_the_model_loads_exits_cleanly() -> None:
    """``ragtune search`` on an empty library ends while the reranker's model is still
    loading on its thread; onnxruntime then aborted the process at exit (rc 134) or
    crashed it (rc 139) in one run of ten or thirty."""
    import subprocess
    import sys

    code = (
        "import time\n"
        "from desktop.retrieval.rerank import MaxSimReranker\n"
        "MaxSimReranker().load_in_background()\n"
        "time.sleep(0.1)  # the session is being built in native code now\n"
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
