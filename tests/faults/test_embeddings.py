"""Issue 15, point 4: an embeddings response is checked before anything is stored:
count, indices a permutation of 0..n-1, one dimension (the expected one), finite
numbers, no zero vector. A bad batch is rejected with a sentence naming the server and
what was wrong, nothing of it is cached, and the next run embeds it again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openai
import pytest

from desktop.progress import run_to_end
from desktop.providers.validate import BadResponse
from desktop.retrieval.embedders import OpenAIEmbedder
from desktop.retrieval.indexing import index_status, plan_index, run_index
from desktop.retrieval.search import Retriever, SearchSettings
from desktop.workspace import Workspace
from tests.helpers.fake_openai import DEFAULT_EMBEDDING_DIMS, FakeOpenAI, embed
from tests.retrieval.conftest import import_texts

MODEL = "text-embedding-3-small"
DOCS = {
    "refunds.md": "# Refunds\n\nMoney is returned within 14 days.",
    "ports.md": "# Network\n\nThe Hub listens on TCP port 47120.",
    "errors.md": "# Errors\n\nLFS-4012 means the shelf quota is exhausted.",
    "pricing.md": "# Plans\n\nThe Business plan costs 12 euros per user.",
}
WHAT_WAS_WRONG = {
    "nan": "not a finite number",
    "infinity": "not a finite number",
    "null": "not a number",
    "zero": "all zeros",
    "duplicate_index": "index 0 twice",
    "missing_index": "no index",
    "ragged": "of different lengths",
    "wrong_dimensions": "10 numbers long; text-embedding-3-small",
    "missing_item": "3 vectors for 4 texts",
}


def stored_vectors(workspace: Workspace) -> dict[str, np.ndarray]:
    rows = workspace.connection().execute("SELECT text_hash, vector FROM embeddings")
    return {str(h): np.frombuffer(v, dtype="<f4") for h, v in rows}


@pytest.mark.parametrize("defect", sorted(WHAT_WAS_WRONG))
def test_a_spoiled_batch_is_rejected_and_nothing_of_it_is_kept(
    defect: str,
    workspace: Workspace,
    tmp_path: Path,
    client: openai.OpenAI,
    fake_openai: FakeOpenAI,
) -> None:
    import_texts(workspace, tmp_path / "docs", DOCS)
    embedder = OpenAIEmbedder(client, MODEL)
    fake_openai.inject("/v1/embeddings", corrupt=defect)
    with pytest.raises(BadResponse) as caught:
        run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    message = str(caught.value)
    assert f"127.0.0.1:{fake_openai.port}" in message
    assert WHAT_WAS_WRONG[defect] in message
    assert "nothing from this batch was saved" in message.lower()
    assert index_status(workspace, embedder.key) == (4, 0, 0, 0)

    # Nothing was cached by text: the next run embeds all four again, correctly.
    plan = plan_index(workspace, embedder)
    assert len(plan.missing) == 4
    run_to_end(run_index(workspace, embedder, plan))
    assert index_status(workspace, embedder.key) == (4, 4, 0, 0)
    vectors = stored_vectors(workspace)
    assert all(np.isfinite(v).all() and np.linalg.norm(v) > 0.99 for v in vectors.values())


def test_items_out_of_order_land_on_their_own_texts(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    import_texts(workspace, tmp_path / "docs", DOCS)
    embedder = OpenAIEmbedder(client, MODEL)
    fake_openai.inject("/v1/embeddings", corrupt="shuffled")
    plan = plan_index(workspace, embedder)
    run_to_end(run_index(workspace, embedder, plan))
    stored = stored_vectors(workspace)
    native = DEFAULT_EMBEDDING_DIMS[MODEL]
    for digest, text in plan.missing:
        expected = embed(text, MODEL, native, native)
        assert np.allclose(stored[digest], expected, atol=1e-5), text


def test_a_query_vector_of_the_wrong_dimension_is_a_clear_error(
    workspace: Workspace, tmp_path: Path, client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    import_texts(workspace, tmp_path / "docs", DOCS)
    embedder = OpenAIEmbedder(client, MODEL, dimensions=64)
    run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    retriever = Retriever(workspace, embedder)
    fake_openai.inject("/v1/embeddings", corrupt="wrong_dimensions")
    with pytest.raises(BadResponse) as caught:
        retriever.search("port of the Hub", SearchSettings(mode="vector", k=2))
    message = str(caught.value)
    assert f"127.0.0.1:{fake_openai.port}" in message
    assert "10 numbers long" in message and "64" in message
    assert "matmul" not in message
    # The next question works again: nothing was kept from the bad answer.
    assert retriever.search("port of the Hub", SearchSettings(mode="vector", k=1)).results
