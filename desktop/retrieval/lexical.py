"""BM25 over the chunks with SQLite FTS5.

One full-text index, ``chunks_fts_stem``: the chunks' words stemmed (FTS5's ``porter``,
English), so "return" finds "returns", kept in step by ``sync_stemmed`` on the search path
and after index runs. A question is searched after its question words ("how", "do", "I",
...) and the words most chunks hold are left out; a question with a quoted phrase
("\\"restocking fee\\"") finds the chunks whose words hold the phrase as written: the index
finds the phrase's stems, and FTS5 checks each candidate's words as written (until schema 14 a
second index of the words as written, kept by triggers on the chunks, answered phrases;
it was ~14% of an import). The library is asked for chunk counts, texts and which chunks
a filter allows."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from desktop.library.repository import Library
from desktop.retrieval.schema import STEM_TOKENIZER
from desktop.workspace import Workspace

_WORD = re.compile(r"\w+", re.UNICODE)
_PHRASE = re.compile(r'"([^"]+)"')
_SQL_BATCH = 900  # stay under SQLite's bound-parameter limit
_PHRASE_BATCH = 50  # candidates checked at once for a quoted phrase, doubling up to
_PHRASE_BATCH_MAX = 800


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
    chunks (in any form: "hubs" is as common as "hub"); keeps the rarest one when all of
    them are common."""
    words = content_words(_WORD.findall(text))
    if len(words) <= 1:
        return " ".join(words)
    conn = workspace.connection()
    total = Library(workspace).chunk_count()
    if total < 1000:
        return " ".join(words)  # small libraries: every word, nothing to save
    sync_stemmed(workspace)
    stems = _stems(conn, words)
    wanted = sorted({stem for parts in stems.values() for stem in parts})
    marks = ",".join("?" * len(wanted))
    chunks_with = dict(
        conn.execute(
            f"SELECT term, doc FROM chunks_fts_stem_terms WHERE term IN ({marks})", wanted
        ).fetchall()
    )
    # A word FTS5 splits ("e_mail": "e", "mail") is as common as its rarest part.
    frequency = {
        word: min((chunks_with.get(stem, 0) for stem in parts), default=0)
        for word, parts in stems.items()
    }
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


@contextlib.contextmanager
def _scratch_index(
    conn: sqlite3.Connection, tokenizer: str, texts: Iterable[tuple[int, str]]
) -> Iterator[None]:
    """``temp.scratch``, a full-text index of ``texts`` (rowid, text) tokenized by FTS5
    itself, with ``temp.scratch_terms`` its terms where they occur, in this connection's
    in-memory schema for one savepoint (written in one go, not row by row: ~8 µs a chunk
    instead of ~80), then dropped."""
    conn.execute("SAVEPOINT scratch_index")
    try:
        conn.execute(
            f"CREATE VIRTUAL TABLE temp.scratch USING fts5(text, tokenize={tokenizer!r}, "
            "content='')"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE temp.scratch_terms USING fts5vocab(temp, scratch, 'instance')"
        )
        conn.executemany("INSERT INTO temp.scratch(rowid, text) VALUES (?, ?)", texts)
        yield
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.scratch_terms")
        conn.execute("DROP TABLE IF EXISTS temp.scratch")
        conn.execute("RELEASE scratch_index")


def _stems(conn: sqlite3.Connection, words: list[str]) -> dict[str, list[str]]:
    """Each word's terms as the stemmed index holds them: FTS5's own tokenizer and
    stemmer (no second stemmer to drift from SQLite's)."""
    stems: dict[str, list[str]] = {word: [] for word in words}
    with _scratch_index(conn, STEM_TOKENIZER, enumerate(words)):
        for term, row in conn.execute(
            "SELECT term, doc FROM temp.scratch_terms ORDER BY doc, offset"
        ).fetchall():
            stems[words[int(row)]].append(str(term))
    return stems


# The words as written, as the index of them (chunks_fts) held them until schema 14.
_EXACT_TOKENIZER = "unicode61 remove_diacritics 2"


def holding_phrases(conn: sqlite3.Connection, texts: dict[int, str], wanted: list[str]) -> set[int]:
    """Which of ``texts`` (by chunk id) hold every phrase of ``wanted`` as written: FTS5
    itself reads them, with the tokenizer the index of the words as written had (letters
    and digits of every script, case and accents ignored, punctuation between words)."""
    query = " AND ".join(_quoted(phrase) for phrase in wanted)
    with _scratch_index(conn, _EXACT_TOKENIZER, texts.items()):
        rows = conn.execute("SELECT rowid FROM temp.scratch WHERE scratch MATCH ?", (query,))
        return {int(row[0]) for row in rows.fetchall()}


def lexical_search(
    workspace: Workspace,
    text: str,
    k: int,
    document_ids: Iterable[int] | None = None,
) -> list[LexicalHit]:
    """The ``k`` best chunks by BM25. A query with a quoted phrase finds the chunks that
    hold the phrase as written; otherwise its content words are matched by stem."""
    if k <= 0:
        return []
    sync_stemmed(workspace)
    wanted = phrases(text)
    query = phrase_query(text) if wanted else fts_query(informative_words(workspace, text))
    if query is None:
        return []
    sql = (
        "SELECT rowid, -bm25(chunks_fts_stem) AS score FROM chunks_fts_stem "
        "WHERE chunks_fts_stem MATCH ?"
    )
    params: list[object] = [query]
    if document_ids is not None:
        allowed = Library(workspace).chunk_ids_in(document_ids)
        if not allowed:
            return []
        sql += " AND rowid IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(allowed))
    sql += " ORDER BY score DESC, rowid"
    conn = workspace.connection()
    if not wanted:
        rows = conn.execute(sql + " LIMIT ?", [*params, k]).fetchall()
        return [LexicalHit(int(r[0]), float(r[1]), n) for n, r in enumerate(rows, start=1)]
    # The stems of a phrase match other forms of its words too ("arrive back" for "arrives
    # back"): a candidate counts only if it holds the phrase itself. The candidates are
    # checked best first, in growing batches, until k hold it.
    hits: list[LexicalHit] = []
    ranked = conn.execute(sql, params).fetchall()  # ids and scores: cheap
    at, size = 0, _PHRASE_BATCH
    while len(hits) < k and at < len(ranked):
        batch = ranked[at : at + size]
        at, size = at + size, min(size * 2, _PHRASE_BATCH_MAX)
        marks = ",".join("?" * len(batch))
        texts = dict(
            conn.execute(
                f"SELECT rowid, text FROM chunks_fts_stem WHERE rowid IN ({marks})",
                [int(r[0]) for r in batch],
            ).fetchall()
        )
        held = holding_phrases(conn, texts, wanted)
        for rowid, score in batch:
            if rowid in held:
                hits.append(LexicalHit(int(rowid), float(score), len(hits) + 1))
                if len(hits) == k:
                    break
    return hits
