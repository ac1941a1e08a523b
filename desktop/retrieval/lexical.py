"""BM25 over the chunks with SQLite FTS5.

Two full-text indexes: ``chunks_fts`` holds the words as written (``unicode61``), kept in
sync by triggers on the library's chunks (schema version 3); ``chunks_fts_stem`` holds them
stemmed (FTS5's ``porter``, English), so "return" finds "returns", kept in step by
``sync_stemmed`` on the search path. A question is searched in the stemmed index after its
question words ("how", "do", "I", ...) are left out; a question with a quoted phrase
("\\"restocking fee\\"") is searched in the exact index, the phrase as written. The library is
asked for chunk counts, texts and which chunks a filter allows."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from desktop.library.repository import Library
from desktop.workspace import Workspace

_WORD = re.compile(r"\w+", re.UNICODE)
_PHRASE = re.compile(r'"([^"]+)"')
_SQL_BATCH = 900  # stay under SQLite's bound-parameter limit


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: int
    bm25: float  # higher is better (FTS5's bm25() is negated)
    rank: int


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def fts_query(text: str) -> str | None:
    """Any of the query's words, each quoted so that FTS5 syntax in a question (quotes,
    AND, NEAR, column filters) is treated as plain words."""
    words = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    if not words:
        return None
    return " OR ".join(_quoted(w) for w in words)


def phrases(text: str) -> list[str]:
    """The quoted phrases of a query, each as its words joined by single spaces."""
    found = [" ".join(_WORD.findall(p)).lower() for p in _PHRASE.findall(text)]
    return [p for p in dict.fromkeys(found) if p]


def phrase_query(text: str) -> str | None:
    """Every quoted phrase must occur as written; the query's other words only add to the
    score (``(w1 OR w2 OR "p")`` always holds when ``"p"`` does)."""
    wanted = phrases(text)
    if not wanted:
        return None
    required = " AND ".join(_quoted(p) for p in wanted)
    rest = _WORD.findall(_PHRASE.sub(" ", text))
    optional = fts_query(" ".join(content_words(rest)))
    if optional is None:
        return required
    return f"({required}) AND ({optional} OR {_quoted(wanted[0])})"


# Words that ask rather than tell: as a user types a question ("How long do I have to
# return it?") they match nearly every chunk and push the rare words' matches down.
# English only; a language without such a list keeps all its words (the common-word rule
# below still applies to it).
_QUESTION_WORDS = """
    a an the and or but if then than so of to in on at by for from with about into onto
    over under after before between as is are was were be been being am do does did done
    doing have has had having can could shall should will would may might must need
    what which who whom whose when where why how whether
    i me my mine we us our ours you your yours he him his she her hers it its they them
    their theirs this that these those there here any some
    please tell know want get got anything something someone anyone
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())


def content_words(words: Iterable[str]) -> list[str]:
    """``words`` (lower-cased, once each) without question words; all of them when every
    one is a question word (a query such as "to be or not to be" stays searchable)."""
    unique = list(dict.fromkeys(w.lower() for w in words))
    kept = [w for w in unique if w not in QUESTION_WORDS]
    return kept or unique


# A term in more than this share of the chunks adds almost nothing to BM25 (its IDF is
# near zero) but makes FTS5 score nearly every chunk: at 100k chunks a question with
# common words took ~150 ms of BM25 alone.
COMMON_TERM_SHARE = 0.2


def informative_words(workspace: Workspace, text: str) -> str:
    """The question without its question words and without the words that appear in most
    chunks; keeps the rarest one when all of them are common."""
    words = content_words(_WORD.findall(text))
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


_sync_lock = threading.Lock()


def sync_stemmed(workspace: Workspace) -> tuple[int, int]:
    """Bring the stemmed index in step with the library's chunks; returns (added,
    removed). One read when nothing changed since the last sync (the index generation of
    schema 8 moves with every chunk insert, delete or text change)."""
    conn = workspace.connection()

    def current_generation() -> int | None:
        """The generation to sync to, or None when the index is there already."""
        wanted = int(conn.execute("SELECT value FROM index_generation WHERE id = 1").fetchone()[0])
        synced = conn.execute("SELECT generation FROM chunks_fts_stem_state WHERE id = 1")
        row = synced.fetchone()
        return None if row is not None and int(row[0]) == wanted else wanted

    if current_generation() is None:
        return 0, 0
    with _sync_lock:
        generation = current_generation()  # another thread may have synced meanwhile
        if generation is None:
            return 0, 0
        library = Library(workspace)
        keys = library.chunk_keys()
        current = dict(zip(keys.ids, keys.text_hashes, strict=True))
        indexed = {
            int(rowid): str(digest)
            for rowid, digest in conn.execute("SELECT rowid, text_hash FROM chunks_fts_stem")
        }
        removed = [i for i, digest in indexed.items() if current.get(i) != digest]
        added = [i for i, digest in current.items() if indexed.get(i) != digest]
        texts = library.chunk_texts(added)
        with workspace.transaction() as tx:
            for start in range(0, len(removed), _SQL_BATCH):
                part = removed[start : start + _SQL_BATCH]
                tx.execute(
                    f"DELETE FROM chunks_fts_stem WHERE rowid IN ({','.join('?' * len(part))})",
                    part,
                )
            tx.executemany(
                "INSERT INTO chunks_fts_stem(rowid, text, text_hash) VALUES (?, ?, ?)",
                # Each row as the chunk is now, with its hash (it may have changed since
                # ``keys`` were read: the next sync compares the hashes again).
                ((i, text, digest) for i, (digest, text) in texts.items()),
            )
            tx.execute(
                "UPDATE chunks_fts_stem_state SET generation = ? WHERE id = 1", (generation,)
            )
    return len(added), len(removed)


def lexical_search(
    workspace: Workspace,
    text: str,
    k: int,
    document_ids: Iterable[int] | None = None,
    *,
    stemmed: bool = True,
) -> list[LexicalHit]:
    """The ``k`` best chunks by BM25. A query with a quoted phrase is matched as written
    (the exact index); otherwise its content words are matched by stem, unless
    ``stemmed`` is False (the words as written, as before issue 14)."""
    exact = phrase_query(text)
    if exact is not None:
        table, query = "chunks_fts", exact
    else:
        table = "chunks_fts_stem" if stemmed else "chunks_fts"
        query = fts_query(informative_words(workspace, text))
    if query is None or k <= 0:
        return []
    if table == "chunks_fts_stem":
        sync_stemmed(workspace)
    sql = f"SELECT rowid, -bm25({table}) AS score FROM {table} WHERE {table} MATCH ?"
    params: list[object] = [query]
    if document_ids is not None:
        allowed = Library(workspace).chunk_ids_in(document_ids)
        if not allowed:
            return []
        sql += " AND rowid IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(allowed))
    sql += " ORDER BY score DESC, rowid LIMIT ?"
    params.append(k)
    rows = workspace.connection().execute(sql, params).fetchall()
    return [LexicalHit(int(r[0]), float(r[1]), rank) for rank, r in enumerate(rows, start=1)]
