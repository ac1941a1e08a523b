"""``ragtune search`` as a subprocess: what the chat would receive, with filters."""

from __future__ import annotations

import json
from pathlib import Path

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
