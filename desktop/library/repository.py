"""The library's tables in the workspace: documents with their extracted text, their
chunks, and the history of imports and rescans (the Decide tab reads it).

Every change to a document and its chunks is one transaction, so an import killed half
way leaves each file either fully imported or untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from desktop.workspace import Workspace

ROOTS_META_KEY = "library.roots"
_SQL_BATCH = 900  # stay under SQLite's bound-parameter limit

_INSERT_CHUNKS = (
    "INSERT INTO chunks(document_id, idx, char_start, char_end, text, token_count, page, "
    "heading_path, text_hash) VALUES "
)
_CHUNK_COLUMNS = 9
_CHUNK_ROW = "(" + ", ".join("?" * _CHUNK_COLUMNS) + ")"
_INSERT_ROWS = 1000  # per statement, within the connection's bound-parameter limit


class LoadedDocumentLike(Protocol):
    title: str
    format: str
    text: str
    pages: tuple[int, ...]
    page_count: int | None
    encoding: str | None
    size_bytes: int
    modified_time: float
    content_hash: str
    metadata: Mapping[str, Any]


class ChunkLike(Protocol):
    start: int
    end: int
    text: str
    token_count: int
    page: int | None
    heading_path: tuple[str, ...]


@dataclass(frozen=True)
class DocumentRecord:
    id: int
    source_path: str
    title: str
    format: str
    size_bytes: int
    page_count: int | None
    modified_time: float
    content_hash: str
    imported_at: float
    updated_at: float
    status: str
    chunk_count: int
    token_count: int
    parent_id: int | None = None  # the document this one is attached to (an e-mail)
    metadata_json: str = "{}"

    @property
    def metadata(self) -> dict[str, Any]:
        """What the format knew beyond the text: e-mail headers, the language of source
        code, hidden sheets, the pages read by OCR with their confidence."""
        value = json.loads(self.metadata_json or "{}")
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class StoredChunk:
    id: int
    document_id: int
    index: int
    start: int
    end: int
    text: str
    token_count: int
    page: int | None
    heading_path: tuple[str, ...]
    text_hash: str


@dataclass(frozen=True)
class ChunkSource:
    """A chunk with where it comes from: what a search result shows and cites."""

    chunk_id: int
    document_id: int
    document: str
    source_path: str
    page: int | None
    heading_path: tuple[str, ...]
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ChunkKeys:
    """Every chunk's id, document and text hash, in id order (what an index of the chunks
    is kept in step with)."""

    ids: list[int]
    document_ids: list[int]
    text_hashes: list[str]


@dataclass(frozen=True)
class ChunkDiff:
    """What re-chunking a document changed: chunks are the same when their offsets and
    text are, and those keep their ids."""

    kept: int
    added: int
    removed: int

    @property
    def changed(self) -> int:
        return self.added + self.removed


@dataclass(frozen=True)
class ImportRun:
    id: int
    started_at: float
    kind: str


@dataclass(frozen=True)
class LibraryEvent:
    source_path: str
    kind: str  # added | updated | unchanged | skipped | missing | removed
    detail: str
    at: float
    document_id: int | None


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def chunk_identity(start: int, end: int, digest: str) -> tuple[int, int, str]:
    """Two chunks are the same chunk when their offsets and their text are."""
    return (start, end, digest)


def diff_chunks(existing: Sequence[StoredChunk], new: Sequence[ChunkLike]) -> ChunkDiff:
    old = {chunk_identity(c.start, c.end, c.text_hash) for c in existing}
    fresh = {chunk_identity(c.start, c.end, text_hash(c.text)) for c in new}
    return ChunkDiff(kept=len(old & fresh), added=len(fresh - old), removed=len(old - fresh))


_DOCUMENT_COLUMNS = (
    "d.id, d.source_path, d.title, d.format, d.size_bytes, d.page_count, d.modified_time, "
    "d.content_hash, d.imported_at, d.updated_at, d.status, "
    "COUNT(c.id) AS chunk_count, COALESCE(SUM(c.token_count), 0) AS token_count, "
    "d.parent_id, d.metadata AS metadata_json"
)


def _document(row: sqlite3.Row) -> DocumentRecord:
    return DocumentRecord(**{key: row[key] for key in row.keys()})  # noqa: SIM118


def _chunk(row: sqlite3.Row) -> StoredChunk:
    return StoredChunk(
        id=row["id"],
        document_id=row["document_id"],
        index=row["idx"],
        start=row["char_start"],
        end=row["char_end"],
        text=row["text"],
        token_count=row["token_count"],
        page=row["page"],
        heading_path=tuple(json.loads(row["heading_path"])),
        text_hash=row["text_hash"],
    )


class Library:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._batches = threading.local()

    # -- batched writing ---------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[WriteBatch]:
        """Writes of this thread go into one transaction until ``WriteBatch.commit``
        (an import commits every few hundred milliseconds instead of once per file).
        Each document is still written whole or not at all (a savepoint each): a kill
        loses at most the files since the last commit, never part of one. Leaving the
        block commits what was written."""
        conn = self.workspace.connection()
        batch = WriteBatch(conn)
        self._batches.current = batch
        try:
            yield batch
        finally:
            self._batches.current = None
            batch.close()

    @contextmanager
    def _writing(self, documents: int = 1) -> Iterator[sqlite3.Connection]:
        batch: WriteBatch | None = getattr(self._batches, "current", None)
        if batch is None:
            with self.workspace.transaction() as tx:
                yield tx
            return
        conn = batch.begin()
        conn.execute("SAVEPOINT library_write")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO library_write")
            conn.execute("RELEASE library_write")
            raise
        conn.execute("RELEASE library_write")
        batch.writes += documents

    # -- reading ------------------------------------------------------------------------

    def documents(self) -> list[DocumentRecord]:
        rows = self.workspace.connection().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d "
            "LEFT JOIN chunks c ON c.document_id = d.id GROUP BY d.id ORDER BY d.title, d.id"
        )
        return [_document(row) for row in rows]

    def document(self, document_id: int) -> DocumentRecord | None:
        row = (
            self.workspace.connection()
            .execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents d "
                "LEFT JOIN chunks c ON c.document_id = d.id WHERE d.id = ? GROUP BY d.id",
                (document_id,),
            )
            .fetchone()
        )
        return _document(row) if row else None

    def document_by_path(self, source_path: str) -> DocumentRecord | None:
        row = (
            self.workspace.connection()
            .execute("SELECT id FROM documents WHERE source_path = ?", (source_path,))
            .fetchone()
        )
        return self.document(row[0]) if row else None

    def find_document(self, reference: str) -> DocumentRecord | None:
        """A document by id, exact path, or (unique) title or file name."""
        if reference.isdigit():
            found = self.document(int(reference))
            if found:
                return found
        by_path = self.document_by_path(reference)
        if by_path:
            return by_path
        matches = [
            d
            for d in self.documents()
            if d.title == reference or d.source_path.rsplit("/", 1)[-1] == reference
        ]
        return matches[0] if len(matches) == 1 else None

    def text(self, document_id: int) -> tuple[str, tuple[int, ...]]:
        row = (
            self.workspace.connection()
            .execute("SELECT text, pages FROM documents WHERE id = ?", (document_id,))
            .fetchone()
        )
        if row is None:
            raise KeyError(document_id)
        return row["text"], tuple(json.loads(row["pages"]))

    def children(self, document_id: int) -> list[tuple[int, str]]:
        """(id, source path) of the documents attached to this one."""
        rows = self.workspace.connection().execute(
            "SELECT id, source_path FROM documents WHERE parent_id = ? ORDER BY id", (document_id,)
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    def known_files(self) -> dict[str, str]:
        """Source path → content hash of every top-level document: an import compares a
        file's hash with it before reading the file any further."""
        rows = self.workspace.connection().execute(
            "SELECT source_path, content_hash FROM documents WHERE parent_id IS NULL"
        )
        return {str(row[0]): str(row[1]) for row in rows}

    def chunks(self, document_id: int | None = None) -> list[StoredChunk]:
        conn = self.workspace.connection()
        if document_id is None:
            rows = conn.execute("SELECT * FROM chunks ORDER BY document_id, idx")
        else:
            rows = conn.execute(
                "SELECT * FROM chunks WHERE document_id = ? ORDER BY idx", (document_id,)
            )
        return [_chunk(row) for row in rows]

    def chunk_count(self) -> int:
        return int(self.workspace.connection().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_keys(self) -> ChunkKeys:
        ids: list[int] = []
        document_ids: list[int] = []
        hashes: list[str] = []
        for chunk_id, document_id, digest in self.workspace.connection().execute(
            "SELECT id, document_id, text_hash FROM chunks ORDER BY id"
        ):
            ids.append(chunk_id)
            document_ids.append(document_id)
            hashes.append(digest)
        return ChunkKeys(ids, document_ids, hashes)

    def chunk_texts(self, chunk_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """``(text hash, text)`` of the chunks that still exist among ``chunk_ids``. With
        the hash: an id read earlier may have been freed and reused since (a document
        imported again), and a caller must not take another text for the one it meant."""
        wanted = list(chunk_ids)
        found: dict[int, tuple[str, str]] = {}
        conn = self.workspace.connection()
        for start in range(0, len(wanted), _SQL_BATCH):
            part = wanted[start : start + _SQL_BATCH]
            marks = ",".join("?" * len(part))
            for chunk_id, digest, text in conn.execute(
                f"SELECT id, text_hash, text FROM chunks WHERE id IN ({marks})", part
            ):
                found[int(chunk_id)] = (str(digest), str(text))
        return found

    def chunk_sources(self, chunk_ids: Sequence[int]) -> dict[int, ChunkSource]:
        """The chunks that still exist among ``chunk_ids``, with their documents."""
        found: dict[int, ChunkSource] = {}
        conn = self.workspace.connection()
        ids = list(chunk_ids)
        for start in range(0, len(ids), _SQL_BATCH):
            part = ids[start : start + _SQL_BATCH]
            for row in conn.execute(
                "SELECT c.id, c.document_id, d.title, d.source_path, c.page, c.heading_path, "
                "c.char_start, c.char_end, c.text FROM chunks c JOIN documents d "
                f"ON d.id = c.document_id WHERE c.id IN ({','.join('?' * len(part))})",
                part,
            ):
                found[int(row[0])] = ChunkSource(
                    int(row[0]),
                    int(row[1]),
                    row[2],
                    row[3],
                    row[4],
                    tuple(json.loads(row[5])),
                    int(row[6]),
                    int(row[7]),
                    row[8],
                )
        return found

    def documents_matching(
        self,
        document_ids: Iterable[int] | None = None,
        formats: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
    ) -> list[int]:
        """Ids of the documents that pass every given filter (None: no filter); a
        document passes the tags filter with any one of the tags."""
        wanted_ids = None if document_ids is None else set(document_ids)
        wanted_formats = None if formats is None else set(formats)
        wanted_tags = None if tags is None else set(tags)
        allowed = []
        for document_id, fmt, raw_tags in self.workspace.connection().execute(
            "SELECT id, format, tags FROM documents ORDER BY id"
        ):
            if wanted_ids is not None and document_id not in wanted_ids:
                continue
            if wanted_formats is not None and fmt not in wanted_formats:
                continue
            if wanted_tags is not None and not wanted_tags & set(json.loads(raw_tags)):
                continue
            allowed.append(int(document_id))
        return allowed

    def chunk_ids_in(self, document_ids: Iterable[int]) -> list[int]:
        wanted = list(document_ids)
        if not wanted:
            return []
        rows = self.workspace.connection().execute(
            "SELECT id FROM chunks WHERE document_id IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        )
        return [int(row[0]) for row in rows]

    def document_texts(self) -> Iterator[str]:
        """Every document's text, in id order, one at a time (a large library's text is
        never all in memory)."""
        for row in self.workspace.connection().execute("SELECT text FROM documents ORDER BY id"):
            yield str(row[0])

    def chunk_ids(self, document_id: int) -> list[int]:
        rows = self.workspace.connection().execute(
            "SELECT id FROM chunks WHERE document_id = ? ORDER BY idx", (document_id,)
        )
        return [row[0] for row in rows]

    def totals(self) -> tuple[int, int, int]:
        """(documents, chunks, tokens) in the library."""
        row = (
            self.workspace.connection()
            .execute(
                "SELECT (SELECT COUNT(*) FROM documents), COUNT(*), COALESCE(SUM(token_count), 0) "
                "FROM chunks"
            )
            .fetchone()
        )
        return int(row[0]), int(row[1]), int(row[2])

    # -- writing ------------------------------------------------------------------------

    def save_document(
        self,
        source_path: str,
        loaded: LoadedDocumentLike,
        chunks: Sequence[ChunkLike],
        *,
        run_id: int | None = None,
        parent_id: int | None = None,
    ) -> tuple[int, str]:
        """Insert or update a document and its chunks in one transaction. Returns the
        document id and what happened: 'added', 'updated' or 'unchanged'."""
        now = time.time()
        with self._writing() as tx:
            row = tx.execute(
                "SELECT id, content_hash FROM documents WHERE source_path = ?", (source_path,)
            ).fetchone()
            values = _document_values(loaded, parent_id)
            if row is None:
                document_id = self._insert_document(tx, source_path, values, now)
                outcome = "added"
            elif row["content_hash"] == loaded.content_hash:
                document_id = int(row["id"])
                tx.execute(
                    "UPDATE documents SET status = 'ok', modified_time = ? WHERE id = ?",
                    (loaded.modified_time, document_id),
                )
                outcome = "unchanged"
            else:
                document_id = int(row["id"])
                tx.execute(
                    "UPDATE documents SET title = ?, format = ?, size_bytes = ?, "
                    "page_count = ?, modified_time = ?, content_hash = ?, encoding = ?, "
                    "text = ?, pages = ?, metadata = ?, parent_id = ?, updated_at = ?, "
                    "status = 'ok' WHERE id = ?",
                    (*values, now, document_id),
                )
                outcome = "updated"
            if outcome != "unchanged":
                self._replace_chunks(tx, document_id, chunks)
            self._event(tx, run_id, document_id, source_path, outcome, "", now)
        return document_id, outcome

    def save_new_documents(
        self,
        documents: Sequence[tuple[str, LoadedDocumentLike, Sequence[ChunkLike]]],
        *,
        run_id: int | None = None,
    ) -> list[int]:
        """Insert documents not in the library yet (source path, document, chunks), in
        one savepoint, their chunks in as few statements as SQLite allows: the full-text
        index's trigger makes FTS5 write its terms out at every savepoint and statement,
        once per document when saved one by one. All or none: if one cannot be inserted
        (its path is in the library after all), nothing is, and the caller saves them one
        by one. Returns their ids, in order."""
        now = time.time()
        with self._writing(len(documents)) as tx:
            ids = []
            rows: list[object] = []
            for source_path, loaded, chunks in documents:
                document_id = self._insert_document(
                    tx, source_path, _document_values(loaded, None), now
                )
                self._event(tx, run_id, document_id, source_path, "added", "", now)
                rows += _chunk_values(
                    document_id,
                    ((index, chunk, text_hash(chunk.text)) for index, chunk in enumerate(chunks)),
                )
                ids.append(document_id)
            _insert_chunks(tx, rows)
        return ids

    @staticmethod
    def _insert_document(
        tx: sqlite3.Connection, source_path: str, values: tuple[object, ...], now: float
    ) -> int:
        cursor = tx.execute(
            "INSERT INTO documents(title, format, size_bytes, page_count, "
            "modified_time, content_hash, encoding, text, pages, metadata, parent_id, "
            "source_path, imported_at, updated_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
            (*values, source_path, now, now),
        )
        return int(cursor.lastrowid or 0)

    def replace_chunks(self, document_id: int, chunks: Sequence[ChunkLike]) -> ChunkDiff:
        with self._writing() as tx:
            return self._replace_chunks(tx, document_id, chunks)

    def replace_all_chunks(
        self, new_chunks: Iterable[tuple[int, Sequence[ChunkLike]]]
    ) -> ChunkDiff:
        """Re-chunk many documents in one transaction (Apply to library)."""
        kept = added = removed = 0
        with self._writing() as tx:
            for document_id, chunks in new_chunks:
                diff = self._replace_chunks(tx, document_id, chunks)
                kept, added, removed = (
                    kept + diff.kept,
                    added + diff.added,
                    removed + diff.removed,
                )
        return ChunkDiff(kept, added, removed)

    @staticmethod
    def _replace_chunks(
        tx: sqlite3.Connection, document_id: int, chunks: Sequence[ChunkLike]
    ) -> ChunkDiff:
        existing = {
            chunk_identity(row["char_start"], row["char_end"], row["text_hash"]): row["id"]
            for row in tx.execute(
                "SELECT id, char_start, char_end, text_hash FROM chunks WHERE document_id = ?",
                (document_id,),
            )
        }
        keep: dict[int, int] = {}
        fresh = []
        for index, chunk in enumerate(chunks):
            digest = text_hash(chunk.text)
            chunk_id = existing.pop(chunk_identity(chunk.start, chunk.end, digest), None)
            if chunk_id is None:
                fresh.append((index, chunk, digest))
            else:
                keep[chunk_id] = index
        if existing:
            tx.executemany("DELETE FROM chunks WHERE id = ?", ((i,) for i in existing.values()))
        tx.executemany(
            "UPDATE chunks SET idx = ? WHERE id = ?", ((idx, cid) for cid, idx in keep.items())
        )
        _insert_chunks(tx, _chunk_values(document_id, fresh))
        return ChunkDiff(kept=len(keep), added=len(fresh), removed=len(existing))

    def delete_document(self, document_id: int, *, run_id: int | None = None) -> None:
        """Removes the document, its chunks and (through foreign keys) all derived rows."""
        with self._writing() as tx:
            row = tx.execute(
                "SELECT source_path FROM documents WHERE id = ?", (document_id,)
            ).fetchone()
            if row is None:
                return
            tx.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            self._event(tx, run_id, None, row["source_path"], "removed", "", time.time())

    def set_status(self, document_id: int, status: str, *, run_id: int | None = None) -> None:
        with self._writing() as tx:
            row = tx.execute(
                "SELECT source_path, status FROM documents WHERE id = ?", (document_id,)
            ).fetchone()
            if row is None or row["status"] == status:
                return
            tx.execute("UPDATE documents SET status = ? WHERE id = ?", (status, document_id))
            if status == "missing":
                self._event(tx, run_id, document_id, row["source_path"], "missing", "", time.time())

    def save_document_unchanged(
        self, document_id: int, modified_time: float, *, run_id: int | None = None
    ) -> None:
        """Record that a file was seen again with the same content (a touched file keeps
        its chunks and their ids)."""
        with self._writing() as tx:
            row = tx.execute(
                "SELECT source_path FROM documents WHERE id = ?", (document_id,)
            ).fetchone()
            tx.execute(
                "UPDATE documents SET status = 'ok', modified_time = ? WHERE id = ?",
                (modified_time, document_id),
            )
            self._event(tx, run_id, document_id, row["source_path"], "unchanged", "", time.time())

    def roots(self) -> list[str]:
        """Folders the user imported: rescan looks there for new files."""
        raw = self.workspace.get_meta(ROOTS_META_KEY)
        return list(json.loads(raw)) if raw else []

    def add_roots(self, folders: Iterable[str]) -> None:
        roots = self.roots()
        roots.extend(f for f in folders if f not in roots)
        self.workspace.set_meta(ROOTS_META_KEY, json.dumps(roots))

    # -- history -------------------------------------------------------------------------

    def start_run(self, kind: str) -> int:
        with self._writing() as tx:
            cursor = tx.execute(
                "INSERT INTO import_runs(started_at, kind) VALUES (?, ?)", (time.time(), kind)
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, *, cancelled: bool) -> None:
        with self._writing() as tx:
            tx.execute(
                "UPDATE import_runs SET finished_at = ?, cancelled = ? WHERE id = ?",
                (time.time(), int(cancelled), run_id),
            )

    def record(
        self,
        run_id: int | None,
        source_path: str,
        kind: str,
        detail: str = "",
        document_id: int | None = None,
    ) -> None:
        with self._writing() as tx:
            self._event(tx, run_id, document_id, source_path, kind, detail, time.time())

    @staticmethod
    def _event(
        tx: sqlite3.Connection,
        run_id: int | None,
        document_id: int | None,
        source_path: str,
        kind: str,
        detail: str,
        at: float,
    ) -> None:
        tx.execute(
            "INSERT INTO library_events(run_id, document_id, source_path, kind, detail, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, document_id, source_path, kind, detail, at),
        )

    def events(
        self, run_id: int | None = None, *, since: float | None = None
    ) -> list[LibraryEvent]:
        query = "SELECT source_path, kind, detail, at, document_id FROM library_events"
        clauses, params = [], []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        rows = self.workspace.connection().execute(query + " ORDER BY id", params)
        return [LibraryEvent(*row) for row in rows]

    def first_import(self) -> ImportRun | None:
        """The library's first import run: where its history starts."""
        row = (
            self.workspace.connection()
            .execute(
                "SELECT id, started_at, kind FROM import_runs WHERE kind = 'import' "
                "ORDER BY started_at, id LIMIT 1"
            )
            .fetchone()
        )
        return None if row is None else ImportRun(int(row[0]), float(row[1]), str(row[2]))

    def changed_sources(
        self, kinds: Sequence[str], since: float, until: float, *, except_run: int | None = None
    ) -> int:
        """Distinct source paths with an event of ``kinds`` in [since, until], leaving out
        the events of ``except_run``."""
        marks = ",".join("?" * len(kinds))
        row = (
            self.workspace.connection()
            .execute(
                "SELECT count(DISTINCT source_path) FROM library_events "
                f"WHERE kind IN ({marks}) AND at >= ? AND at <= ? "
                "AND (run_id IS NULL OR run_id != ?)",
                (*kinds, since, until, -1 if except_run is None else except_run),
            )
            .fetchone()
        )
        return int(row[0])

    def event_counts(
        self, kinds: Sequence[str], until: float, *, except_run: int | None = None
    ) -> dict[str, int]:
        """Events of each of ``kinds`` up to ``until``, leaving out ``except_run``'s."""
        marks = ",".join("?" * len(kinds))
        counts = dict.fromkeys(kinds, 0)
        for kind, n in self.workspace.connection().execute(
            f"SELECT kind, count(*) FROM library_events WHERE kind IN ({marks}) "
            "AND at <= ? AND (run_id IS NULL OR run_id != ?) GROUP BY kind",
            (*kinds, until, -1 if except_run is None else except_run),
        ):
            counts[str(kind)] = int(n)
        return counts

    def runs_started(self, since: float, until: float, *, except_run: int | None = None) -> int:
        """Imports and rescans started in [since, until], leaving out ``except_run``."""
        row = (
            self.workspace.connection()
            .execute(
                "SELECT count(*) FROM import_runs WHERE id != ? AND started_at >= ? "
                "AND started_at <= ?",
                (-1 if except_run is None else except_run, since, until),
            )
            .fetchone()
        )
        return int(row[0])

    def last_run_id(self) -> int | None:
        row = self.workspace.connection().execute("SELECT MAX(id) FROM import_runs").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    # -- chunking settings -----------------------------------------------------------------

    def chunking_config(self) -> dict[str, object] | None:
        raw = self.workspace.get_meta("library.chunking")
        return json.loads(raw) if raw else None

    def set_chunking_config(self, config: dict[str, object]) -> None:
        self.workspace.set_meta("library.chunking", json.dumps(config, sort_keys=True))


def _document_values(loaded: LoadedDocumentLike, parent_id: int | None) -> tuple[object, ...]:
    return (
        loaded.title,
        loaded.format,
        loaded.size_bytes,
        loaded.page_count,
        loaded.modified_time,
        loaded.content_hash,
        loaded.encoding,
        loaded.text,
        json.dumps(list(loaded.pages)),
        json.dumps(dict(loaded.metadata), ensure_ascii=False, default=str),
        parent_id,
    )


def _chunk_values(document_id: int, chunks: Iterable[tuple[int, ChunkLike, str]]) -> list[object]:
    """The INSERT parameters of (index, chunk, text hash), row after row."""
    headings: dict[tuple[str, ...], str] = {}  # a document's chunks share a few

    def heading_json(path: Sequence[str]) -> str:
        key = tuple(path)
        found = headings.get(key)
        if found is None:
            found = headings[key] = json.dumps(list(key), ensure_ascii=False)
        return found

    return [
        value
        for index, chunk, digest in chunks
        for value in (
            document_id,
            index,
            chunk.start,
            chunk.end,
            chunk.text,
            chunk.token_count,
            chunk.page,
            heading_json(chunk.heading_path),
            digest,
        )
    ]


def _insert_chunks(tx: sqlite3.Connection, values: Sequence[object]) -> None:
    """Many rows per statement, not one statement per row: the full-text index's trigger
    makes every statement a savepoint, and SQLite FTS5 writes its pending terms out at each
    one (per row, that was a third of an import's time)."""
    limit = tx.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _CHUNK_COLUMNS
    step = max(1, min(_INSERT_ROWS, limit)) * _CHUNK_COLUMNS
    for at in range(0, len(values), step):
        part = values[at : at + step]
        rows = len(part) // _CHUNK_COLUMNS
        tx.execute(_INSERT_CHUNKS + ",".join([_CHUNK_ROW] * rows), part)


class WriteBatch:
    """An open write transaction shared by many small writes (see ``Library.batch``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._open = False
        self.writes = 0
        self.started = 0.0

    def begin(self) -> sqlite3.Connection:
        if not self._open:
            self._conn.execute("BEGIN IMMEDIATE")
            self._open = True
            self.started = time.monotonic()
        return self._conn

    def due(self, *, files: int, seconds: float) -> bool:
        return self._open and (self.writes >= files or time.monotonic() - self.started >= seconds)

    def commit(self) -> None:
        if self._open:
            self._conn.execute("COMMIT")
            self._open = False
            self.writes = 0

    def close(self) -> None:
        """Commit what was written: every write in the batch is a whole document."""
        if self._open and self._conn.in_transaction:
            self.commit()
        self._open = False
