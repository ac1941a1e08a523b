"""BM25 over the chunks with SQLite FTS5, kept in sync by triggers on the chunks table
(schema version 3), so every import, re-chunk and delete updates it incrementally."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from desktop.workspace import Workspace

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: int
    bm25: float  # higher is better (FTS5's bm25() is negated)
    rank: int


def fts_query(text: str) -> str | None:
    """Any of the query's words, each quoted so that FTS5 syntax in a question (quotes,
    AND, NEAR, column filters) is treated as plain words."""
    words = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def lexical_search(
    workspace: Workspace, text: str, k: int, document_ids: Iterable[int] | None = None
) -> list[LexicalHit]:
    query = fts_query(text)
    if query is None or k <= 0:
        return []
    sql = (
        "SELECT chunks_fts.rowid, -bm25(chunks_fts) AS score FROM chunks_fts "
        "JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ?"
    )
    params: list[object] = [query]
    if document_ids is not None:
        ids = list(document_ids)
        if not ids:
            return []
        sql += f" AND c.document_id IN ({','.join('?' * len(ids))})"
        params.extend(ids)
    sql += " ORDER BY score DESC, chunks_fts.rowid LIMIT ?"
    params.append(k)
    rows = workspace.connection().execute(sql, params).fetchall()
    return [LexicalHit(int(r[0]), float(r[1]), rank) for rank, r in enumerate(rows, start=1)]
