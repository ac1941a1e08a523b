"""``ragtune search`` as a subprocess: what the chat would receive, with filters."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune


def test_search_prints_ranked_chunks_and_filters_before_ranking(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds arrive within 14 days.")
    (docs / "notes.txt").write_text("A refund note: refunds are rare.")
    assert ragtune("--data-dir", data, "import", str(docs)).returncode == 0

    every = json.loads(
        ragtune("--data-dir", data, "search", "refunds", "--mode", "lexical", "--json").stdout
    )
    assert {r["document"] for r in every} == {"Refunds", "notes"}
    first = every[0]
    assert {
        "rank",
        "text",
        "score",
        "cosine",
        "bm25",
        "vector_rank",
        "lexical_rank",
        "document",
        "page",
        "start",
        "end",
    } <= set(first)
    assert first["rank"] == 1 and first["bm25"] > 0

    text_only = json.loads(
        ragtune(
            "--data-dir",
            data,
            "search",
            "refunds",
            "--mode",
            "lexical",
            "--format",
            "text",
            "--json",
        ).stdout
    )
    assert [r["document"] for r in text_only] == ["notes"]
    one = json.loads(
        ragtune(
            "--data-dir",
            data,
            "search",
            "refunds",
            "--mode",
            "lexical",
            "--document",
            "refunds.md",
            "--json",
        ).stdout
    )
    assert [r["document"] for r in one] == ["Refunds"]
    missing = ragtune("--data-dir", data, "search", "refunds", "--document", "nope")
    assert missing.returncode == 1 and "no document matches 'nope'" in missing.stderr


def test_the_embedder_an_index_was_built_with_is_the_one_search_uses(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """``index --embedder local`` and then a plain ``search`` with a key in the
    environment: the search uses the local vectors, not the provider's (none exist)."""
    data = str(tmp_path / "data")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ports.md").write_text("# Network\n\nThe Hub listens on TCP port 47120.")
    env = {"OPENAI_API_KEY": "sk-test-sticky", "OPENAI_BASE_URL": fake_openai.base_url}
    assert ragtune("--data-dir", data, "import", str(docs), env=env).returncode == 0
    indexed = ragtune("--data-dir", data, "index", "--embedder", "local", "--json", env=env)
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["embedder"].startswith("minilm")

    found = ragtune("--data-dir", data, "search", "which port", "--mode", "vector", env=env)
    assert found.returncode == 0, found.stderr
    assert "No chunk is embedded yet" not in found.stdout
    assert "Network" in found.stdout
    assert fake_openai.requests_to("/v1/embeddings") == []  # the provider was not asked

    told = ragtune(
        "--data-dir", data, "search", "port", "--mode", "vector", "--embedder", "openai", env=env
    )
    assert "No chunk is embedded yet" in told.stdout  # told otherwise: the provider's vectors


def test_index_with_a_chosen_bundled_model_then_search_uses_it(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ports.md").write_text("# Network\n\nThe Hub listens on TCP port 47120.")
    (docs / "cats.md").write_text("# Cats\n\nCats sleep most of the day.")
    assert ragtune("--data-dir", data, "import", str(docs)).returncode == 0
    model = "multilingual-e5-small-v80kw-int8"
    indexed = ragtune("--data-dir", data, "index", "--embedder", "local", "--model", model)
    assert indexed.returncode == 0, indexed.stderr
    assert "to embed with multilingual-e5-small-v80kw-int8" in indexed.stderr
    assert "about " in indexed.stderr  # the time estimate
    files = list((tmp_path / "data" / "workspaces").glob("*.vectors.local-multilingual*"))
    assert [f.suffix for f in files] == [".base"]

    found = ragtune("--data-dir", data, "search", "Auf welchem Port?", "--mode", "vector", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["document"] == "Network"

    wrong = ragtune("--data-dir", data, "index", "--embedder", "local", "--model", "bert-huge")
    assert wrong.returncode == 1
    assert "no bundled embedding model is named 'bert-huge'" in wrong.stderr
    assert "minilm-l6-v2-int8" in wrong.stderr
