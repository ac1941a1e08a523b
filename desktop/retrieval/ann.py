"""Approximate nearest neighbours for large libraries: a faiss inverted-file index
(``IndexIVFFlat``, inner product on unit vectors = cosine) over a base vector file.

Why faiss IVF-Flat (measured on this machine with trial builds of each library and
``tests/benchmarks/bench_scale.py``): at 1M × 384 it answers in ~1-2 ms with recall@10
≥ 0.99 against exact search, its file opens memory-mapped in a fraction of a second, it
supports a row filter inside the search (``IDSelectorBitmap``), and it is maintained and
MIT-licensed with wheels for every platform. HNSW (usearch) lost recall at 1M here and
hnswlib ships no wheels.

The index covers the rows of one base file, its faiss ids being those row numbers, and
is tied to that file's checksum: rows added since live in the delta and are searched
exactly, removed rows are masked out by the filter; the index is rebuilt (on a
background thread) only when the base file is compacted. Until it is ready, exact search
answers, so a search never waits for a build.

Compact storage (setting ``compact_vectors``, on by default): the index keeps each vector
as 8-bit codes (``IndexIVFScalarQuantizer``, one byte per dimension of the residual to its
list's centre: a quarter of IVF-Flat's file and of the memory it keeps resident), asks
for ``RESCORE_FACTOR`` × k candidates and the caller rescores those exactly against the
float32 base file, reading only their rows (``rescore``). Recall and memory of both are
printed by ``tests/benchmarks/bench_scale.py``.

The file is written crash-safely like the vector files (temporary file created 0600,
fsync, ``os.replace``), with a sidecar JSON naming the base checksum, the file's size and
its checksum; an index is used only after that checksum was verified (faiss would read a
damaged file blindly)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from desktop.retrieval.vector_store import (
    Segment,
    Stopped,
    VectorFileError,
    check_running,
    file_crc,
    fsync_folder,
    remove_stale_temporaries,
    start_background,
)

log = logging.getLogger(__name__)

#: rows × dims from which a base file gets an approximate index (200k × 384, 50k × 1536):
#: below it one exact matrix product stays under ~20 ms on two cores.
ANN_MIN_VALUES = 76_800_000
#: Allowed rows below which a filtered search scans them exactly (recall 1.0, a few ms)
#: instead of asking the approximate index to skip most of its candidates.
EXACT_FILTER_ROWS = 30_000
_ADD_BLOCK = 16_384  # rows per step of the build (well under a second each)
#: How the index stores the vectors: "float32" (IVF-Flat, exact scores) or "int8" (codes,
#: candidates rescored exactly from the base file).
STORAGES = ("float32", "int8")
#: An int8 index returns this many times k candidates (at least ``RESCORE_MIN``) for the
#: exact rescoring; the quantized order only has to put the true top k among them.
RESCORE_FACTOR = 4
RESCORE_MIN = 40


def wanted(rows: int, dims: int, minimum: int = ANN_MIN_VALUES) -> bool:
    return rows * dims >= minimum


def parameters(rows: int) -> tuple[int, int]:
    """(lists, lists probed per query): 2·√rows lists (2,000 at 1M: ~500 rows each), at
    least 16 probed. Measured at 1M × 384 here: 2,000 lists and 16 probes gave recall@10
    0.998 scanning ~8,000 rows; 1,000 lists needed 20 probes (20,000 rows) for 0.990, so
    finer lists pay for their dearer build (k-means, once, on a background thread)."""
    lists = max(16, min(65_536, int(2 * math.sqrt(rows))))
    return lists, max(16, lists // 128)


@dataclass
class AnnIndex:
    """A loaded faiss index over one base file's rows."""

    index: Any
    rows: int
    probes: int
    base_checksum: str
    storage: str = "float32"

    @property
    def rescored(self) -> bool:
        """Whether its scores are approximate: the caller rescores ``fetch(k)`` candidates."""
        return self.storage == "int8"

    def fetch(self, k: int) -> int:
        return max(k * RESCORE_FACTOR, RESCORE_MIN) if self.rescored else k

    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        bitmap: npt.NDArray[np.uint8] | None,
        share: float = 1.0,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top ``k`` (scores, base rows); ``bitmap`` (packed little-endian bits over the
        base rows) keeps only the rows whose bit is set, inside the search. ``share``, the
        part of the rows it allows, widens the probe: a list then holds fewer candidates
        (30% allowed at 300k × 1,536: recall@10 0.973 with the plain probe)."""
        import faiss

        # One query gains nothing from a second OpenMP thread, and on busy cores its idle
        # wait at the barrier cost ~10x the search (20 ms instead of 2 at load 8). The
        # setting is per thread: a build on another thread keeps its own.
        faiss.omp_set_num_threads(1)
        params = faiss.SearchParametersIVF()
        lists = int(self.index.nlist)
        params.nprobe = min(lists, math.ceil(self.probes / math.sqrt(max(share, 1e-6))))
        selector = None
        if bitmap is not None:
            selector = faiss.IDSelectorBitmap(self.rows, faiss.swig_ptr(bitmap))
            params.sel = selector
        scores, rows = self.index.search(
            np.ascontiguousarray(query, dtype=np.float32)[None, :], k, params=params
        )
        keep = rows[0] >= 0
        del selector  # the selector points into ``bitmap``: keep both alive until here
        return scores[0][keep], rows[0][keep].astype(np.int64)


def check(vectors: npt.NDArray[np.float32], query: npt.NDArray[np.float32]) -> int:
    """The best row for ``query`` through a one-list faiss index: proves faiss loads and
    searches (``ragtune --selftest``; a library reaches the approximate index only at
    ~200k chunks, too late to find a broken install)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    centre = vectors.mean(axis=0, keepdims=True)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    quantizer.add(centre)
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], 1, faiss.METRIC_INNER_PRODUCT)
    index.add(vectors)
    found = AnnIndex(index, len(vectors), 1, "").search(query, 1, None)[1]
    return int(found[0])


def _paths(path: Path) -> tuple[Path, Path]:
    return path, path.with_name(path.name + ".json")


def build(
    base: Segment, path: Path, *, threads: int | None = None, storage: str = "float32"
) -> AnnIndex:
    """Train and fill an IVF index from ``base`` (read block by block from the mapped
    file), save it crash-safely at ``path`` and return it loaded from there. Works in short
    steps (one k-means iteration, one block of rows) and stops between them when the
    process is ending (``Stopped``). ``storage``: see ``STORAGES``."""
    import faiss

    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {STORAGES}")
    rows, dims = base.rows, base.header.key.dimensions
    lists, probes = parameters(rows)
    if threads:
        faiss.omp_set_num_threads(threads)  # this thread's OpenMP setting only
    # ~30 points per list train about as well as the 256 faiss would take, at 1/8 the cost
    # (the build is compute-bound: k-means, then assigning every row to its list).
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(rows, min(rows, 30 * lists), replace=False))
    points = np.asarray(base.vectors[sample], dtype=np.float32)
    centroids = _spherical_kmeans(points, lists, rng)
    quantizer = faiss.IndexFlatIP(dims)
    quantizer.add(centroids)  # trained: the index below takes these lists as they are
    if storage == "int8":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dims, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        check_running()
        # The lists are trained already: this only learns each dimension's range of the
        # residuals (to their list's centre) that the 8-bit codes span.
        index.train(points)
    else:
        index = faiss.IndexIVFFlat(quantizer, dims, lists, faiss.METRIC_INNER_PRODUCT)
    for start in range(0, rows, _ADD_BLOCK):
        check_running()
        index.add(np.ascontiguousarray(base.vectors[start : start + _ADD_BLOCK]))
    check_running()
    save(index, path, base.header.checksum, probes, storage)
    del index, quantizer
    loaded = load(path, base.header.checksum, storage)
    if loaded is None:
        raise VectorFileError(f"{path.name}: the index just written does not read back")
    return loaded


def _spherical_kmeans(
    points: npt.NDArray[np.float32], lists: int, rng: np.random.Generator, iterations: int = 10
) -> npt.NDArray[np.float32]:
    """Unit centroids of ``points`` (unit vectors) by cosine k-means, one iteration per
    step; an emptied list is reseeded with a random point."""
    centroids = points[rng.choice(len(points), lists, replace=False)].copy()
    for _ in range(iterations):
        check_running()
        nearest = np.concatenate(
            [
                np.argmax(points[start : start + 8192] @ centroids.T, axis=1)
                for start in range(0, len(points), 8192)
            ]
        )
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, points)
        empty = np.bincount(nearest, minlength=lists) == 0
        sums[empty] = points[rng.choice(len(points), int(empty.sum()))]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(centroids, dtype=np.float32)


def save(index: Any, path: Path, base_checksum: str, probes: int, storage: str = "float32") -> None:
    import faiss

    ann_path, meta_path = _paths(path)
    remove_stale_temporaries(ann_path)
    remove_stale_temporaries(meta_path)
    token = f"{os.getpid()}.{secrets.token_hex(4)}"
    temporary = ann_path.with_name(f".{ann_path.name}.{token}.tmp")
    meta_temporary = meta_path.with_name(f".{meta_path.name}.{token}.tmp")
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        faiss.write_index(index, str(temporary))
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        size, checksum = file_crc(temporary)
        meta = {
            "format": 1,
            "base_checksum": base_checksum,
            "size": size,
            "checksum": checksum,
            "rows": int(index.ntotal),
            "probes": probes,
            "storage": storage,
        }
        descriptor = os.open(meta_temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, ann_path)
        os.replace(meta_temporary, meta_path)
        fsync_folder(path.parent)
    except BaseException:
        for leftover in (temporary, meta_temporary):
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise


def load(path: Path, base_checksum: str, storage: str = "float32") -> AnnIndex | None:
    """The index at ``path`` if it was built from the base file with ``base_checksum``
    in ``storage`` and its own checksum holds; memory-mapped, so it opens in constant
    time. None when there is no usable index (the caller builds one)."""
    import faiss

    ann_path, meta_path = _paths(path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != 1 or meta.get("base_checksum") != base_checksum:
            return None
        if meta.get("storage", "float32") != storage:
            log.info(
                "%s holds %s vectors, %s wanted: rebuilding it",
                ann_path.name,
                meta.get("storage", "float32"),
                storage,
            )
            return None
        if ann_path.stat().st_size != int(meta["size"]):
            log.info("%s: wrong size, rebuilding it", ann_path.name)
            return None
        if file_crc(ann_path)[1] != meta["checksum"]:
            log.warning("%s: checksum mismatch, rebuilding it", ann_path.name)
            return None
        index = faiss.read_index(str(ann_path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        log.warning("%s is unusable (%s); rebuilding it", ann_path.name, error)
        return None
    return AnnIndex(index, int(index.ntotal), int(meta["probes"]), base_checksum, storage)


def remove(path: Path) -> None:
    for file in _paths(path):
        with contextlib.suppress(OSError):
            file.unlink()


class Builder:
    """Loads or builds the index of one base file on a daemon thread; ``result`` is set
    when done (None if it failed: exact search goes on)."""

    def __init__(
        self, base: Segment, path: Path, threads: int | None, storage: str = "float32"
    ) -> None:
        self.base = base
        self.storage = storage
        self.result: AnnIndex | None = None
        self.done = threading.Event()
        start_background(lambda: self._run(path, threads), "ann-build")

    def serves(self, checksum: str, storage: str) -> bool:
        return self.base.header.checksum == checksum and self.storage == storage

    def _run(self, path: Path, threads: int | None) -> None:
        try:
            self.result = load(path, self.base.header.checksum, self.storage) or build(
                self.base, path, threads=threads, storage=self.storage
            )
        except Stopped:
            pass  # the process is ending; a temporary file left behind is removed later
        except Exception:  # a failed build must not take the app down: exact search stays
            log.exception("Building the approximate index %s failed", path.name)
        finally:
            self.done.set()

    def wait(self, timeout: float | None = None) -> AnnIndex | None:
        self.done.wait(timeout)
        return self.result
