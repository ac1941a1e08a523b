"""Vector search over one embedder's vectors of a workspace.

The vectors live in a memory-mapped *base* file next to the workspace (``vector_store``),
sorted by chunk id, plus a small in-memory *delta*: rows added since the base was written
and a mask of base rows that are gone. Opening an unchanged workspace maps the files and
reads nothing else (constant time, no second copy in RAM); a sync after an import, a
delete or an index run compares the library's chunks with the index, fetches only the
new vectors and saves the delta (small) or, once it exceeds a share of the base, writes a
new base (compaction). The database stays the source of truth: a file that does not match
it (header, size, recorded checksum, payload checksum) is rebuilt from it.

Search is exact (one matrix product over the mapped file, ~20 ms at 100k × 1536) until
the base reaches ``ann.ANN_MIN_VALUES``; from there an approximate faiss index over the
base rows answers (built on a background thread, saved next to the base, exact search
meanwhile), the delta being searched exactly and merged. Filters apply before the top k
in every path: excluded and removed rows are never candidates."""

from __future__ import annotations

import contextlib
import logging
import mmap
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from desktop.library.repository import Library
from desktop.retrieval import ann
from desktop.retrieval.embedders import EmbedderKey
from desktop.retrieval.vector_store import (
    VERIFY_AT_OPEN_BYTES,
    BackgroundCheck,
    FileRecord,
    Segment,
    VectorFileError,
    open_segment,
    read_record,
    vector_path,
    write_record,
    write_segment,
)
from desktop.workspace import Workspace

log = logging.getLogger(__name__)

APPROXIMATE_MODES = ("background", "now", "never")
_SQL_BATCH = 900  # stay under SQLite's bound-parameter limit
_BLOCK = 65_536  # rows per block when a base file is written

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class VectorHit:
    chunk_id: int
    cosine: float
    rank: int


@dataclass(frozen=True)
class DocumentFilter:
    """The documents a search may return chunks of (``VectorIndex.allowed``)."""

    document_ids: Int64Array


@dataclass
class _Rows:
    """Rows of vectors with their chunk, document and embedding ids (mapped or in RAM)."""

    ids: Int64Array
    document_ids: Int64Array
    embedding_ids: Int64Array
    vectors: FloatArray

    @classmethod
    def empty(cls, dims: int) -> _Rows:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none.copy(), none.copy(), np.zeros((0, dims), dtype=np.float32))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def take(self, keep: BoolArray) -> _Rows:
        return _Rows(
            self.ids[keep], self.document_ids[keep], self.embedding_ids[keep], self.vectors[keep]
        )


class VectorIndex:
    """The public surface search.py uses: ``sync``, ``allowed``, ``search``, ``cosines``,
    ``len``. Thread-safe: one lock guards the rows; background threads (checksum check,
    approximate index build) only hand results over."""

    def __init__(
        self,
        key: EmbedderKey,
        *,
        ann_min_values: int = ann.ANN_MIN_VALUES,
        approximate: str = "background",
        storage: str = "float32",
    ) -> None:
        if approximate not in APPROXIMATE_MODES:
            raise ValueError(f"approximate must be one of {APPROXIMATE_MODES}")
        if storage not in ann.STORAGES:
            raise ValueError(f"storage must be one of {ann.STORAGES}")
        self.key = key
        #: How the approximate index stores the vectors (``ann.STORAGES``): changing it
        #: rebuilds the index in the background, the current one answering meanwhile.
        self.storage = storage
        self.ann_min_values = ann_min_values
        #: How a large base gets its approximate index: "background" (the app: loaded or
        #: built on a thread, exact search meanwhile), "now" (in the sync: ``ragtune
        #: index``, benchmarks) or "never" (one-shot commands: the process ends before a
        #: build would, and one exact pass over the mapped file beats loading the index).
        self.approximate_mode = approximate
        #: The delta is folded into a new base when it exceeds this share of the base.
        self.compact_share = 0.05
        #: Bases up to this many floats (16 MB) are simply rewritten on every change.
        self.small_values = 4_000_000
        self._base = _Rows.empty(key.dimensions)
        self._segment: Segment | None = None  # the file the base is mapped from
        self._dead = np.zeros(0, dtype=bool)  # base rows removed since the base was written
        self._dead_count = 0
        self._delta = _Rows.empty(key.dimensions)
        self._generation: int | None = None
        self._opened = False
        self._writable = True
        self._check: BackgroundCheck | None = None
        self._ann: ann.AnnIndex | None = None
        self._builder: ann.Builder | None = None
        self._live_bits: npt.NDArray[np.uint8] | None = None
        self._lock = threading.RLock()

    @classmethod
    def from_arrays(
        cls,
        key: EmbedderKey,
        ids: Int64Array,
        document_ids: Int64Array,
        matrix: FloatArray,
    ) -> VectorIndex:
        """An index held in memory only (no workspace, no files): for tests and benchmarks."""
        index = cls(key)
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        ids = np.asarray(ids, dtype=np.int64)[order]
        index._base = _Rows(
            ids,
            np.asarray(document_ids, dtype=np.int64)[order],
            np.full(len(ids), -1, dtype=np.int64),
            np.ascontiguousarray(matrix[order], dtype=np.float32),
        )
        index._dead = np.zeros(len(ids), dtype=bool)
        index._writable = False
        return index

    # -- size ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._base) - self._dead_count + len(self._delta)

    @property
    def nbytes(self) -> int:
        """Bytes of vectors and ids (a mapped base counts although the OS may not hold it)."""
        return sum(
            int(a.nbytes)
            for rows in (self._base, self._delta)
            for a in (rows.ids, rows.document_ids, rows.embedding_ids, rows.vectors)
        )

    @property
    def approximate(self) -> bool:
        """Whether searches of the base go through the approximate index now."""
        return self._current_ann() is not None

    # -- keeping in step with the workspace ----------------------------------------------------

    def sync(self, workspace: Workspace) -> tuple[int, int]:
        """Bring the index in step with the workspace; returns (added, removed) rows."""
        generation = int(
            workspace.connection()
            .execute("SELECT value FROM index_generation WHERE id = 1")
            .fetchone()[0]
        )
        with self._lock:
            if self._check is not None and self._check.failed:
                self._forget(workspace, self._check.failed)
            if generation == self._generation:
                self._start_ann(workspace)
                return 0, 0
            added = removed = 0
            if not self._opened:
                self._opened = True
                if self._open_files(workspace):
                    added = len(self)
                    if self._generation == generation:
                        self._start_ann(workspace)
                        return added, 0
            more, removed = self._apply_changes(workspace, generation)
            self._generation = generation
            self._start_ann(workspace)
            return added + more, removed

    def _forget(self, workspace: Workspace, reason: str) -> None:
        """Drop a base that failed its check; the sync that follows rebuilds from the DB."""
        log.warning("Rebuilding the %s vectors from the workspace: %s", self.key.label(), reason)
        self._check = None
        self._base, self._segment = _Rows.empty(self.key.dimensions), None
        self._dead, self._dead_count = np.zeros(0, dtype=bool), 0
        self._delta = _Rows.empty(self.key.dimensions)
        self._generation, self._ann, self._builder, self._live_bits = None, None, None, None
        for kind in ("base", "delta"):
            with contextlib.suppress(OSError):
                vector_path(workspace, self.key, kind).unlink()
        ann.remove(vector_path(workspace, self.key, "ann"))

    def _open_files(self, workspace: Workspace) -> bool:
        """Map the files the workspace recorded for this key; False (and a log line) when
        there are none or they do not match."""
        record = read_record(workspace, self.key)
        if record is None or record.base is None:
            return False
        try:
            base = open_segment(vector_path(workspace, self.key, "base"), self.key, "base")
            if base.header.checksum != record.base:
                raise VectorFileError(f"{base.path.name} is not the file the workspace recorded")
            delta: Segment | None = None
            if record.delta is not None:
                delta = open_segment(vector_path(workspace, self.key, "delta"), self.key, "delta")
                if delta.header.checksum != record.delta:
                    raise VectorFileError(f"{delta.path.name} is not the recorded delta")
                if delta.header.base_checksum != base.header.checksum:
                    raise VectorFileError(f"{delta.path.name} belongs to another base file")
            newest = delta or base
            if newest.header.generation != record.generation:
                raise VectorFileError(f"{newest.path.name} is of another generation")
            segments = [s for s in (base, delta) if s is not None]
            if sum(s.payload_bytes for s in segments) <= VERIFY_AT_OPEN_BYTES:
                for segment in segments:
                    segment.verify()
            else:
                self._check = BackgroundCheck(segments)
        except FileNotFoundError as error:
            log.info("No vector file for %s (%s): building it", self.key.label(), error.filename)
            return False
        except (OSError, VectorFileError) as error:
            log.warning("Rebuilding the %s vectors from the workspace: %s", self.key.label(), error)
            return False
        self._segment = base
        self._base = _Rows(base.ids, base.document_ids, base.embedding_ids, base.vectors)
        self._dead = np.zeros(base.rows, dtype=bool)
        if delta is not None:
            self._dead[np.asarray(delta.dead)] = True
            self._delta = _Rows(
                np.array(delta.ids),
                np.array(delta.document_ids),
                np.array(delta.embedding_ids),
                np.array(delta.vectors),
            )
        self._dead_count = int(self._dead.sum())
        self._live_bits = None
        self._generation = newest.header.generation
        return True

    def _apply_changes(self, workspace: Workspace, generation: int) -> tuple[int, int]:
        """Compare the index with the library's chunks and their vectors for this key: a
        row stays when its chunk still exists with the same document and vector."""
        keys = Library(workspace).chunk_keys()
        embedded = self._embedding_rows(workspace)
        ids = np.asarray(keys.ids, dtype=np.int64)
        documents = np.asarray(keys.document_ids, dtype=np.int64)
        embeddings = np.fromiter(
            (embedded.get(h, -1) for h in keys.text_hashes), dtype=np.int64, count=len(ids)
        )
        have = embeddings >= 0
        ids, documents, embeddings = ids[have], documents[have], embeddings[have]
        covered = np.zeros(len(ids), dtype=bool)

        def still(rows: _Rows) -> tuple[BoolArray, Int64Array]:
            position = np.searchsorted(ids, rows.ids)
            inside = position < len(ids)
            position = np.where(inside, position, 0)
            same = (
                inside
                & (ids[position] == rows.ids)
                & (documents[position] == rows.document_ids)
                & (embeddings[position] == rows.embedding_ids)
            )
            return same, position

        base_same, base_position = still(self._base)
        newly_dead = ~base_same & ~self._dead
        covered[base_position[base_same & ~self._dead]] = True
        delta_same, delta_position = still(self._delta)
        covered[delta_position[delta_same]] = True
        removed = int(newly_dead.sum()) + int((~delta_same).sum())
        new = np.flatnonzero(~covered)

        dead = self._dead | newly_dead
        base_live = len(self._base) - int(dead.sum())
        delta_rows = int(delta_same.sum()) + len(new)
        changes = delta_rows + int(dead.sum())
        compact = (
            self._segment is None
            or len(self._base) * self.key.dimensions <= self.small_values
            or changes > self.compact_share * base_live
            or not self._segment_is_current(workspace)
        )
        if not self._writable:
            compact = False
        if compact:
            try:
                self._compact(
                    workspace,
                    generation,
                    dead,
                    delta_same,
                    (ids[new], documents[new], embeddings[new]),
                )
                return len(new), removed
            except OSError as error:
                log.warning(
                    "Cannot write the vector file for %s (%s): keeping the vectors in memory",
                    self.key.label(),
                    error,
                )
                self._writable = False
        delta = self._delta.take(delta_same)
        fresh = _Rows(
            ids[new], documents[new], embeddings[new], self._fetch(workspace, embeddings[new])
        )
        self._delta = _Rows(
            np.concatenate([delta.ids, fresh.ids]),
            np.concatenate([delta.document_ids, fresh.document_ids]),
            np.concatenate([delta.embedding_ids, fresh.embedding_ids]),
            np.concatenate([delta.vectors, fresh.vectors]),
        )
        self._dead, self._dead_count, self._live_bits = dead, int(dead.sum()), None
        if self._writable and self._segment is not None:
            self._save_delta(workspace, generation)
        return len(new), removed

    def _segment_is_current(self, workspace: Workspace) -> bool:
        """Whether the base file on disk is still the one mapped here (another process
        may have compacted it): a delta is only ever written against the file on disk."""
        if self._segment is None:
            return False
        try:
            on_disk = open_segment(vector_path(workspace, self.key, "base"), self.key, "base")
        except (OSError, VectorFileError):
            return False
        return on_disk.header.checksum == self._segment.header.checksum

    def _compact(
        self,
        workspace: Workspace,
        generation: int,
        dead: BoolArray,
        delta_same: BoolArray,
        new: tuple[Int64Array, Int64Array, Int64Array],
    ) -> None:
        """Write one base file of every live row, sorted by chunk id, streaming the vectors
        from the old base, the delta and the database block by block."""
        live = np.flatnonzero(~dead)
        kept = np.flatnonzero(delta_same)
        sources = np.concatenate(
            [
                np.zeros(len(live), np.int8),
                np.ones(len(kept), np.int8),
                np.full(len(new[0]), 2, np.int8),
            ]
        )
        positions = np.concatenate([live, kept, np.arange(len(new[0]))]).astype(np.int64)
        ids = np.concatenate([self._base.ids[live], self._delta.ids[kept], new[0]])
        documents = np.concatenate(
            [self._base.document_ids[live], self._delta.document_ids[kept], new[1]]
        )
        embeddings = np.concatenate(
            [self._base.embedding_ids[live], self._delta.embedding_ids[kept], new[2]]
        )
        order = np.argsort(ids, kind="stable")
        ids, documents, embeddings = ids[order], documents[order], embeddings[order]
        sources, positions = sources[order], positions[order]
        base, delta = self._base, self._delta

        def vector_blocks() -> Iterator[FloatArray]:
            for start in range(0, len(ids), _BLOCK):
                part = slice(start, start + _BLOCK)
                kinds, where = sources[part], positions[part]
                block = np.empty((len(kinds), self.key.dimensions), dtype=np.float32)
                for kind, rows in ((0, base.vectors), (1, delta.vectors)):
                    mask = kinds == kind
                    if mask.any():
                        block[mask] = rows[where[mask]]
                mask = kinds == 2
                if mask.any():
                    block[mask] = self._fetch(workspace, embeddings[part][mask])
                yield block

        path = vector_path(workspace, self.key, "base")
        header = write_segment(
            path,
            kind="base",
            key=self.key,
            generation=generation,
            ids=ids,
            document_ids=documents,
            embedding_ids=embeddings,
            vector_blocks=vector_blocks(),
        )
        write_record(workspace, self.key, FileRecord(header.checksum, None, generation))
        with contextlib.suppress(OSError):
            vector_path(workspace, self.key, "delta").unlink()
        segment = open_segment(path, self.key, "base")
        self._segment = segment
        self._base = _Rows(
            segment.ids, segment.document_ids, segment.embedding_ids, segment.vectors
        )
        self._dead, self._dead_count, self._live_bits = np.zeros(segment.rows, bool), 0, None
        self._delta = _Rows.empty(self.key.dimensions)
        self._check = None
        if self._ann is not None and self._ann.base_checksum != header.checksum:
            self._ann = None  # its rows are the old base's; rebuilt for the new one

    def _save_delta(self, workspace: Workspace, generation: int) -> None:
        assert self._segment is not None
        delta = self._delta
        try:
            header = write_segment(
                vector_path(workspace, self.key, "delta"),
                kind="delta",
                key=self.key,
                generation=generation,
                ids=delta.ids,
                document_ids=delta.document_ids,
                embedding_ids=delta.embedding_ids,
                vector_blocks=[delta.vectors],
                dead=np.flatnonzero(self._dead).astype(np.int64),
                base_checksum=self._segment.header.checksum,
            )
        except OSError as error:
            log.warning("Cannot save the vector delta for %s: %s", self.key.label(), error)
            return
        write_record(
            workspace,
            self.key,
            FileRecord(self._segment.header.checksum, header.checksum, generation),
        )

    def _embedding_rows(self, workspace: Workspace) -> dict[str, int]:
        """Text hash → the row of its vector for this index's embedder."""
        rows = workspace.connection().execute(
            "SELECT text_hash, id FROM embeddings WHERE embedder = ? AND model = ? "
            "AND dimensions = ?",
            (self.key.embedder, self.key.model, self.key.dimensions),
        )
        return {str(digest): int(row_id) for digest, row_id in rows}

    def _fetch(self, workspace: Workspace, rows: Int64Array) -> FloatArray:
        """The vectors of embedding ``rows``, in that order (one row may repeat: chunks
        with the same text share a vector); fetched in batches straight into the result."""
        dims = self.key.dimensions
        out = np.empty((len(rows), dims), dtype=np.float32)
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        unique = np.unique(ordered)
        conn = workspace.connection()
        for start in range(0, len(unique), _SQL_BATCH):
            part = [int(i) for i in unique[start : start + _SQL_BATCH]]
            found, blobs = [], []
            for row_id, blob in conn.execute(
                f"SELECT id, vector FROM embeddings WHERE id IN ({','.join('?' * len(part))})",
                part,
            ):
                if len(blob) != 4 * dims:
                    raise VectorFileError(
                        f"embedding {row_id} holds {len(blob)} bytes, not {4 * dims}"
                    )
                found.append(int(row_id))
                blobs.append(blob)
            if len(found) != len(part):
                raise VectorFileError("an embedding disappeared while the index was read")
            vectors = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, dims)
            key = np.asarray(found, dtype=np.int64)
            low = np.searchsorted(ordered, key, "left")
            high = np.searchsorted(ordered, key, "right")
            if np.all(high - low == 1):
                out[order[low]] = vectors
            else:
                for vector, lo, hi in zip(vectors, low, high, strict=True):
                    out[order[lo:hi]] = vector
        return out

    # -- the approximate index -------------------------------------------------------------

    def _start_ann(self, workspace: Workspace) -> None:
        """Load or build the approximate index of the current base when it is large
        enough (see ``approximate_mode``)."""
        segment = self._segment
        if self.approximate_mode == "never":
            return
        if segment is None or not ann.wanted(
            segment.rows, self.key.dimensions, self.ann_min_values
        ):
            return
        checksum, storage = segment.header.checksum, self.storage
        if self._ann is not None and (self._ann.base_checksum, self._ann.storage) == (
            checksum,
            storage,
        ):
            return
        if self._builder is None or not self._builder.serves(checksum, storage):
            self._builder = ann.Builder(
                segment,
                vector_path(workspace, self.key, "ann"),
                threads=1 if self.approximate_mode == "background" else None,
                storage=storage,
            )
        if self.approximate_mode == "now":
            self._builder.wait()
            self._current_ann()

    def _current_ann(self) -> ann.AnnIndex | None:
        with self._lock:
            segment = self._segment
            if segment is None:
                return None
            builder = self._builder
            if (
                builder is not None
                and builder.done.is_set()
                and builder.base.header.checksum == segment.header.checksum
            ):
                self._builder = None
                if builder.result is not None:  # a failed rebuild keeps the one answering
                    self._ann = builder.result
                if self._ann is not None:
                    _release_pages(self._base.vectors)
            if self._ann is not None and self._ann.base_checksum == segment.header.checksum:
                return self._ann
            return None

    def wait_for_approximate(self, timeout: float | None = None) -> bool:
        """Wait until a pending approximate index is ready (benchmarks, tests)."""
        builder = self._builder
        if builder is not None:
            builder.wait(timeout)
        return self.approximate

    # -- search ----------------------------------------------------------------------------

    def allowed(self, document_ids: Iterable[int] | None) -> DocumentFilter | None:
        """A filter to the chunks of ``document_ids`` for ``search``; None: no filter. It
        is resolved to rows inside the search, under the lock, so a sync on another thread
        in between (an index run while the user searches) cannot misalign it."""
        if document_ids is None:
            return None
        return DocumentFilter(np.fromiter(document_ids, dtype=np.int64))

    def _rows_allowed(self, allowed: DocumentFilter | BoolArray) -> BoolArray:
        if isinstance(allowed, DocumentFilter):
            return np.concatenate(
                [
                    _member(self._base.document_ids, allowed.document_ids),
                    _member(self._delta.document_ids, allowed.document_ids),
                ]
            )
        if len(allowed) != len(self._base) + len(self._delta):
            raise ValueError("a row mask must cover every row (base, then delta)")
        return allowed

    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        allowed: DocumentFilter | BoolArray | None = None,
    ) -> list[VectorHit]:
        """Top ``k`` by cosine (vectors are unit length, so a dot product). Filters apply
        before ranking: excluded rows can never take a place in the top k."""
        query = np.ascontiguousarray(query, dtype=np.float32)
        with self._lock:
            if len(self) == 0 or k <= 0:
                return []
            base, delta = self._base, self._delta
            if allowed is not None:
                allowed = self._rows_allowed(allowed)
            base_allowed = None if allowed is None else allowed[: len(base)]
            candidates = [self._search_base(query, k, base_allowed)]
            if len(delta):
                scores = delta.vectors @ query
                if allowed is not None:
                    scores = np.where(allowed[len(base) :], scores, -np.inf)
                rows = _top(scores, k)
                candidates.append((scores[rows], delta.ids[rows]))
            scores = np.concatenate([c[0] for c in candidates])
            ids = np.concatenate([c[1] for c in candidates])
            keep = np.isfinite(scores)
            scores, ids = scores[keep], ids[keep]
            order = np.lexsort((ids, -scores))[:k]
            return [
                VectorHit(int(ids[i]), float(scores[i]), rank)
                for rank, i in enumerate(order, start=1)
            ]

    def _search_base(
        self, query: FloatArray, k: int, allowed: BoolArray | None
    ) -> tuple[FloatArray, Int64Array]:
        base = self._base
        if not len(base):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        live = ~self._dead if self._dead_count else None
        mask = live if allowed is None else (allowed if live is None else allowed & live)
        wanted = len(base) - self._dead_count if mask is None else int(mask.sum())
        if wanted == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        index = self._current_ann()
        if index is not None and (allowed is None or wanted > ann.EXACT_FILTER_ROWS):
            if mask is None:
                bits = None
            elif allowed is None:
                bits = self._live_packed()
            else:
                bits = np.packbits(mask, bitorder="little")
            share = 1.0 if allowed is None else wanted / len(base)
            scores, rows = index.search(query, index.fetch(k), bits, share)
            if len(rows) >= min(k, wanted):
                if index.rescored and self._segment is not None:
                    scores, rows = _rescore(self._segment, rows, query, k)
                return scores, base.ids[rows]
        if mask is not None and wanted <= ann.EXACT_FILTER_ROWS:
            return _scan_rows(base, mask, query, k)
        scores = base.vectors @ query
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        top = _top(scores, k)
        return scores[top], base.ids[top]

    def _live_packed(self) -> npt.NDArray[np.uint8]:
        """The live base rows as faiss filter bits, cached until rows die or are added."""
        if self._live_bits is None:
            self._live_bits = np.packbits(~self._dead, bitorder="little")
        return self._live_bits

    def cosines(self, query: npt.NDArray[np.float32], chunk_ids: Iterable[int]) -> dict[int, float]:
        """Cosine of specific chunks (lexical hits get one too, for the threshold)."""
        wanted = np.fromiter(chunk_ids, dtype=np.int64)
        if not len(wanted):
            return {}
        query = np.asarray(query, dtype=np.float32)
        found: dict[int, float] = {}
        with self._lock:
            base, delta = self._base, self._delta
            if len(delta):
                rows = {int(c): r for r, c in enumerate(delta.ids)}
                for chunk_id in wanted:
                    row = rows.get(int(chunk_id))
                    if row is not None:
                        found[int(chunk_id)] = float(delta.vectors[row] @ query)
            if len(base):
                position = np.minimum(np.searchsorted(base.ids, wanted), len(base) - 1)
                hit = base.ids[position] == wanted
                if self._dead_count:
                    hit &= ~self._dead[position]
                for chunk_id, row in zip(wanted[hit], position[hit], strict=True):
                    found.setdefault(int(chunk_id), float(base.vectors[row] @ query))
        return found


def _member(values: Int64Array, wanted: Int64Array) -> BoolArray:
    """``np.isin`` for ids: a lookup table when the ids are small (document ids are), a
    gather instead of a sort: ~3 ms instead of ~30 at 1M rows."""
    if not len(values) or not len(wanted):
        return np.zeros(len(values), dtype=bool)
    top = max(int(values.max()), int(wanted.max()))
    if top >= 50_000_000 or min(int(values.min()), int(wanted.min())) < 0:
        return np.isin(values, wanted)
    table = np.zeros(top + 1, dtype=bool)
    table[wanted] = True
    return table[values]


def _release_pages(vectors: FloatArray) -> None:
    """Once the approximate index answers, the base vectors are only read a few rows at a
    time (cosines, narrow filters): let the process drop the pages an exact search mapped,
    so its memory is the index's pages, not both copies. They stay in the OS's file cache
    and come back on the next touch."""
    mapping = getattr(vectors, "_mmap", None)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if mapping is None or advice is None:
        return
    with contextlib.suppress(OSError, ValueError):
        mapping.madvise(advice)


def _rescore(
    segment: Segment, rows: Int64Array, query: FloatArray, k: int
) -> tuple[FloatArray, Int64Array]:
    """The top ``k`` of candidate ``rows`` by their exact cosine, read from the float32
    base file (those rows only, in file order)."""
    rows = np.unique(rows)
    scores = segment.read_rows(rows) @ query
    top = _top(scores, k)
    return scores[top], rows[top]


def _scan_rows(
    base: _Rows, mask: BoolArray, query: FloatArray, k: int
) -> tuple[FloatArray, Int64Array]:
    """Exact scores of the rows ``mask`` allows. Rows are sorted by chunk id, so a
    document's chunks sit together: each run of allowed rows is one product over the mapped
    file (no copy); scattered rows are gathered instead."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
    starts, stops = edges[::2], edges[1::2]
    if len(starts) > 2_000:
        rows = np.flatnonzero(mask)
        scores = np.asarray(base.vectors[rows]) @ query
    else:
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
        scores = np.concatenate(
            [base.vectors[a:b] @ query for a, b in zip(starts, stops, strict=True)]
        )
    top = _top(scores, k)
    return scores[top], base.ids[rows[top]]


def _top(scores: FloatArray, k: int) -> Int64Array:
    """Positions of the ``k`` highest finite scores (unordered)."""
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= len(scores):
        return np.flatnonzero(np.isfinite(scores))
    return np.argpartition(-scores, k - 1)[:k]
