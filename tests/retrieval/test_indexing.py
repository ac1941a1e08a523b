"""Embedding the library against the fake OpenAI server: batching, retries, resume,
and the cache by text hash."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from desktop.library.chunking import FixedWords
from desktop.library.rechunk import apply_rechunk, plan_rechunk
from desktop.progress import run_to_end
from desktop.retrieval.embedders import OpenAIEmbedder
from desktop.retrieval.indexing import index_status, plan_index, run_index
from desktop.tokens import get_tokenizer
from desktop.workspace import Workspace
from tests.helpers.fake_openai import FakeOpenAI
from tests.retrieval.conftest import import_texts


def many_chunks(workspace: Workspace, tmp_path: Path, count: int) -> None:
    """One document cut into ``count`` chunks of ten distinct words each."""
    text = " ".join(f"shelf{i}" for i in range(count * 10))
    service = import_texts(workspace, tmp_path / "docs", {"many.txt": text})
    tokenizer = get_tokenizer("cl100k_base")
    apply_rechunk(
        service.library, run_to_end(plan_rechunk(service.library, FixedWords(10), tokenizer))
    )
    assert service.library.totals()[1] == count


def test_requests_respect_the_input_and_token_limits(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    many_chunks(workspace, tmp_path, 2100)
    embedder = OpenAIEmbedder(client, "text-embedding-3-small", dimensions=64)
    plan = plan_index(workspace, embedder, {"text-embedding-3-small": 0.02})
    assert len(plan.missing) == 2100
    assert plan.cost_usd == pytest.approx(plan.tokens / 1e6 * 0.02)
    result = run_to_end(run_index(workspace, embedder, plan))
    requests = fake_openai.requests_to("/v1/embeddings")
    assert result.requests == len(requests) == 2  # ceil(2100 / 2048)
    assert all(len(r.json["input"]) <= 2048 for r in requests)
    assert index_status(workspace, embedder.key) == (2100, 2100, 0, 0)

    # A tighter token budget per request splits further, and no request exceeds it.
    fake_openai.clear_requests()
    small = OpenAIEmbedder(client, "text-embedding-3-large", dimensions=64, max_request_tokens=3000)
    run_to_end(run_index(workspace, small, plan_index(workspace, small)))
    tokenizer = get_tokenizer("cl100k_base")
    sizes = [
        sum(tokenizer.count(t) for t in r.json["input"])
        for r in fake_openai.requests_to("/v1/embeddings")
    ]
    assert max(sizes) <= 3000
    assert len(sizes) > 3


def test_retry_after_is_honoured(
    workspace: Workspace, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    many_chunks(workspace, tmp_path, 10)
    fake_openai.inject("/v1/embeddings", 429, retry_after=1)
    with openai.OpenAI(
        base_url=fake_openai.base_url, api_key="sk-test", max_retries=2, timeout=10
    ) as patient:
        embedder = OpenAIEmbedder(patient, "text-embedding-3-small")
        run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    first, second = fake_openai.requests_to("/v1/embeddings")
    assert second.timestamp - first.timestamp >= 0.95
    assert index_status(workspace, embedder.key)[1] == 10


def test_a_500_mid_run_loses_nothing_and_the_next_run_resumes(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    many_chunks(workspace, tmp_path, 300)
    embedder = OpenAIEmbedder(client, "text-embedding-3-small", max_inputs=100)
    operation = run_index(workspace, embedder, plan_index(workspace, embedder))
    next(operation)  # started
    next(operation)  # first batch of 100 saved
    fake_openai.inject("/v1/embeddings", 500)
    with pytest.raises(openai.InternalServerError):
        next(operation)
    assert index_status(workspace, embedder.key)[1] == 100
    plan = plan_index(workspace, embedder)
    assert len(plan.missing) == 200
    result = run_to_end(run_index(workspace, embedder, plan))
    assert result.embedded == 200 and result.requests == 2
    assert index_status(workspace, embedder.key)[1] == 300


def test_only_changed_chunks_are_embedded_again_and_switching_models_back_is_free(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    words = " ".join(f"word{i}" for i in range(600))
    service = import_texts(workspace, tmp_path / "docs", {"a.txt": words, "b.txt": "Short."})
    tokenizer = get_tokenizer("cl100k_base")
    apply_rechunk(
        service.library, run_to_end(plan_rechunk(service.library, FixedWords(100), tokenizer))
    )
    small = OpenAIEmbedder(client, "text-embedding-3-small")
    run_to_end(run_index(workspace, small, plan_index(workspace, small)))
    assert index_status(workspace, small.key) == (7, 7, 0, 0)

    (tmp_path / "docs" / "a.txt").write_text(words.replace("word550", "CHANGED"))
    run_to_end(service.rescan())
    plan = plan_index(workspace, small)
    assert [text for _, text in plan.missing] == [
        c.text for c in service.library.chunks() if "CHANGED" in c.text
    ]

    large = OpenAIEmbedder(client, "text-embedding-3-large")
    run_to_end(run_index(workspace, large, plan_index(workspace, large)))
    fake_openai.clear_requests()
    run_to_end(run_index(workspace, small, plan_index(workspace, small)))
    assert len(fake_openai.requests_to("/v1/embeddings")) == 1  # just the changed chunk
    assert plan_index(workspace, large).missing == ()
    assert plan_index(workspace, small).missing == ()


def test_an_input_over_the_limit_is_cut_and_marked(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    service = import_texts(workspace, tmp_path / "docs", {"long.txt": "lorem ipsum " * 3000})
    tokenizer = get_tokenizer("cl100k_base")
    apply_rechunk(
        service.library, run_to_end(plan_rechunk(service.library, FixedWords(6000), tokenizer))
    )
    embedder = OpenAIEmbedder(client, "text-embedding-3-small", max_input_tokens=1000)
    result = run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    assert result.truncated == 1
    sent = fake_openai.requests_to("/v1/embeddings")[0].json["input"][0]
    assert tokenizer.count(sent) == 1000
    assert index_status(workspace, embedder.key)[2] == 1


def test_progress_reports_rate_and_eta(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI
) -> None:
    many_chunks(workspace, tmp_path, 50)
    embedder = OpenAIEmbedder(client, "text-embedding-3-small", max_inputs=10)
    steps = list(run_index(workspace, embedder, plan_index(workspace, embedder)))
    assert steps[-1].done == 50 and steps[-1].total == 50
    assert "/s" in steps[-1].message and "ETA" in steps[-1].message
    time.sleep(0)


def test_a_chunk_changed_while_the_plan_is_made_is_not_embedded_under_its_old_hash(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan reads the chunks' hashes, then their texts by id; a document imported
    again in between frees its chunks' ids and the new ones reuse them. A text fetched
    for an id must still have the hash the plan wants it for."""
    from desktop.library.repository import Library

    service = import_texts(workspace, tmp_path / "docs", {"a.md": "# A\n\nThe first text."})
    (chunk,) = service.chunks()
    fetch = Library.chunk_texts

    def replaced_meanwhile(self: Library, chunk_ids: object) -> object:
        # The same row, another text: what a re-import reusing the id leaves.
        workspace.connection().execute(
            "UPDATE chunks SET text = 'Another text.', text_hash = 'other' WHERE id = ?",
            (chunk.id,),
        )
        return fetch(self, chunk_ids)  # type: ignore[arg-type]

    monkeypatch.setattr(Library, "chunk_texts", replaced_meanwhile)
    embedder = OpenAIEmbedder(client, "text-embedding-3-small", dimensions=64)
    plan = plan_index(workspace, embedder)
    assert plan.missing == ()  # not ("<hash of the first text>", "Another text.")
    monkeypatch.undo()
    assert [h for h, _ in plan_index(workspace, embedder).missing] == ["other"]
