"""BM25 over the chunks with SQLite FTS5.

One full-text index, ``chunks_fts_stem``: the chunks' words stemmed (FTS5's ``porter``,
English), so "return" finds "returns", kept in step by ``sync_stemmed`` on the search path
and after index runs. A question is searched after its question words ("how", "do", "I",
...) and the words most chunks hold are left out; a question with a quoted phrase
("\\"restocking fee\\"") finds the chunks whose words hold the phrase as written: the index
finds the phrase's stems, and each candidate's own words are checked (until schema 14 a
second index of the words as written, kept by triggers on the chunks, answered phrases;
it was ~14% of an import). The library is asked for chunk counts, texts and which chunks
a filter allows."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from desktop.library.repository import Library
from desktop.workspace import Workspace

_WORD = re.compile(r"\w+", re.UNICODE)
_PHRASE = re.compile(r'"([^"]+)"')
_SQL_BATCH = 900  # stay under SQLite's bound-parameter limit
_PHRASE_BATCH = 50  # candidates whose texts are read at once to check a quoted phrase


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


def _stems(conn: sqlite3.Connection, words: list[str]) -> dict[str, list[str]]:
    """Each word's terms as the stemmed index holds them: FTS5's own tokenizer and
    stemmer, through a small in-memory table of this connection (no second stemmer to
    drift from SQLite's)."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.question_words USING fts5("
        f"word, tokenize={_STEM_TOKENIZER!r})"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.question_word_terms "
        "USING fts5vocab(temp, question_words, 'instance')"
    )
    conn.execute("DELETE FROM temp.question_words")
    conn.executemany("INSERT INTO temp.question_words(rowid, word) VALUES (?, ?)", enumerate(words))
    stems: dict[str, list[str]] = {word: [] for word in words}
    for term, row in conn.execute(
        "SELECT term, doc FROM temp.question_word_terms ORDER BY doc, offset"
    ):
        stems[words[int(row)]].append(str(term))
    return stems


_STEM_TOKENIZER = "porter unicode61 remove_diacritics 2"  # chunks_fts_stem's (schema 11)
_TOKEN = re.compile(r"[^\W_]+")


def folded_words(text: str) -> str:
    """``text``'s words as FTS5's ``unicode61 remove_diacritics 2`` sees them (letters
    and digits, lower-cased, accents dropped), joined by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_TOKEN.findall(bare.lower()))


def holds_phrases(text: str, wanted: Iterable[str]) -> bool:
    """Whether ``text`` holds each phrase as written: its words in that order, nothing
    but spaces and punctuation between them (as FTS5 matches a phrase)."""
    words = f" {folded_words(text)} "
    return all(f" {folded_words(phrase)} " in words for phrase in wanted)


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
    # back"): a candidate counts only if its own words hold the phrase. Texts are read a
    # few candidates at a time, best first, until k hold it (not all the matches' texts).
    hits: list[LexicalHit] = []
    ranked = conn.execute(sql, params)
    while len(hits) < k:
        batch = ranked.fetchmany(_PHRASE_BATCH)
        if not batch:
            break
        marks = ",".join("?" * len(batch))
        texts = dict(
            conn.execute(
                f"SELECT rowid, text FROM chunks_fts_stem WHERE rowid IN ({marks})",
                [int(r[0]) for r in batch],
            ).fetchall()
        )
        for rowid, score in batch:
            if holds_phrases(str(texts.get(rowid, "")), wanted):
                hits.append(LexicalHit(int(rowid), float(score), len(hits) + 1))
                if len(hits) == k:
                    break
    return hits
