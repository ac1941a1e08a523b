"""BM25 over the chunks with SQLite FTS5, kept in sync by triggers on the library's chunks
(schema version 3), so every import, re-chunk and delete updates it incrementally. The
library is asked for chunk counts and which chunks a filter allows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from desktop.library.repository import Library
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


# A term in more than this share of the chunks adds almost nothing to BM25 (its IDF is
# near zero) but makes FTS5 score nearly every chunk: at 100k chunks a question with
# common words took ~150 ms of BM25 alone.
COMMON_TERM_SHARE = 0.2


def informative_words(workspace: Workspace, text: str) -> str:
    """The question without the words that appear in most chunks; keeps the rarest one
    when all of them are common."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))
    if len(words) <= 1:
        return " ".join(words)
    conn = workspace.connection()
    total = Library(workspace).chunk_count()
    if total < 1000:
        return " ".join(words)  # small libraries: every word, nothing to save
    marks = ",".join("?" * len(words))
    frequency = dict(
        conn.execute(
            f"SELECT term, doc FROM chunks_fts_terms WHERE term IN ({marks})", words
        ).fetchall()
    )
    kept = [w for w in words if frequency.get(w, 0) <= COMMON_TERM_SHARE * total]
    if not kept:
        kept = [min(words, key=lambda w: frequency.get(w, 0))]
    return " ".join(kept)


def lexical_search(
    workspace: Workspace, text: str, k: int, document_ids: Iterable[int] | None = None
) -> list[LexicalHit]:
    query = fts_query(informative_words(workspace, text))
    if query is None or k <= 0:
        return []
    sql = (
        "SELECT chunks_fts.rowid, -bm25(chunks_fts) AS score FROM chunks_fts "
        "WHERE chunks_fts MATCH ?"
    )
    params: list[object] = [query]
    if document_ids is not None:
        allowed = Library(workspace).chunk_ids_in(document_ids)
        if not allowed:
            return []
        sql += " AND chunks_fts.rowid IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(allowed))
    sql += " ORDER BY score DESC, chunks_fts.rowid LIMIT ?"
    params.append(k)
    rows = workspace.connection().execute(sql, params).fetchall()
    return [LexicalHit(int(r[0]), float(r[1]), rank) for rank, r in enumerate(rows, start=1)]
