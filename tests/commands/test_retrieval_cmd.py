"""``ragtune search`` as a subprocess: what the chat would receive, with filters."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune

PORTS = {"ports.md": "# Network\n\nThe Hub listens on TCP port 47120."}


def import_docs(
    tmp_path: Path, data: str, texts: dict[str, str], env: dict[str, str] | None = None
) -> None:
    """Write ``texts`` as files of a docs folder and import it into ``data``."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in texts.items():
        (docs / name).write_text(text)
    assert ragtune("--data-dir", data, "import", str(docs), env=env).returncode == 0


def test_search_prints_ranked_chunks_and_filters_before_ranking(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    import_docs(
        tmp_path,
        data,
        {
            "refunds.md": "# Refunds\n\nRefunds arrive within 14 days.",
            "notes.txt": "A refund note: refunds are rare.",
        },
    )

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
    env = {"OPENAI_API_KEY": "sk-test-sticky", "OPENAI_BASE_URL": fake_openai.base_url}
    import_docs(tmp_path, data, PORTS, env)
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


def test_search_shows_the_rerank_score_and_the_place_before_it(tmp_path: Path) -> None:
    """The bundled reranker is on by default (offline); --rerank off gives the first order."""
    data = str(tmp_path / "data")
    import_docs(
        tmp_path, data, {"refunds.md": "# Refunds\n\nMoney is returned within 14 days.", **PORTS}
    )
    assert ragtune("--data-dir", data, "index", "--embedder", "local").returncode == 0

    reranked = ragtune("--data-dir", data, "search", "How long until I get my money back?")
    assert reranked.returncode == 0, reranked.stderr
    assert "rerank 0." in reranked.stdout and "before reranking #" in reranked.stdout
    assert "reranked by MaxSim (MiniLM, offline, 64-token window)" in reranked.stdout
    rows = json.loads(
        ragtune(
            "--data-dir", data, "search", "How long until I get my money back?", "--json"
        ).stdout
    )
    assert rows[0]["document"] == "Refunds"
    assert rows[0]["rerank"] > rows[1]["rerank"] and rows[0]["first_rank"] in (1, 2)
    plain = json.loads(
        ragtune("--data-dir", data, "search", "money back", "--rerank", "off", "--json").stdout
    )
    assert all(r["rerank"] is None for r in plain)
    off = ragtune("--data-dir", data, "settings", "set", "rerank", "off")
    assert off.returncode == 0, off.stderr
    assert (
        json.loads(ragtune("--data-dir", data, "search", "money", "--json").stdout)[0]["rerank"]
        is None
    )
    wrong = ragtune("--data-dir", data, "settings", "set", "rerank", "crossencoder")
    assert wrong.returncode != 0 and "rerank must be one of: off, maxsim, llm" in wrong.stderr


def test_index_with_a_chosen_bundled_model_then_search_uses_it(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    import_docs(tmp_path, data, {**PORTS, "cats.md": "# Cats\n\nCats sleep most of the day."})
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


def test_a_model_package_unpacked_under_the_data_dir_is_found(tmp_path: Path) -> None:
    """An optional model goes into ``models`` of the data folder; with ``--data-dir``
    that is the folder given, as the Settings dialog and packaging/models/README.md say."""
    import shutil

    from desktop.retrieval.local_embedder import FAST_MODEL, models_dir

    data = tmp_path / "data"
    shutil.copytree(models_dir() / FAST_MODEL, data / "models" / "my-static")
    import_docs(tmp_path, str(data), PORTS)
    chosen = ragtune("--data-dir", str(data), "settings", "set", "local_model", "my-static")
    assert chosen.returncode == 0, chosen.stderr
    indexed = ragtune("--data-dir", str(data), "index", "--embedder", "local")
    assert indexed.returncode == 0, indexed.stderr
    assert "my-static" in indexed.stderr
