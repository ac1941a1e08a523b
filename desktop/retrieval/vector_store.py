"""Vector files: one embedder's vectors of a workspace, on disk next to its SQLite file and
memory-mapped, so opening a million vectors costs a header read instead of a million blob
copies (and no second copy in RAM: the pages belong to the OS's file cache).

The database stays the source of truth. A file is derived from it, and trusted only when

- its header is whole (magic, format, the embedder key, sizes that match the file length),
- it is the file the database last recorded for that key (``Workspace`` meta
  ``retrieval.vectors.<slug>``: the checksum of each file), and
- its payload matches the checksum in its header (checked at open for small files, on a
  background thread for large ones: reading 1.5 GB takes seconds).

Anything else is a mismatch, and the caller rebuilds the file from the database.

Writes are crash-safe: a new file goes to a temporary name in the same folder (created
0600), is flushed and fsynced, then ``os.replace``d over the old one, and the folder is
fsynced. A process killed while writing leaves the previous file whole and a temporary
file that the next write (of any process) removes once its writer is gone.

Layout (little endian): a 4,096-byte header (a magic line, then JSON padded with spaces),
then ``ids``, ``document_ids`` and ``embedding_ids`` (int64, one per row), ``dead``
(int64 row numbers of the base file that a delta file removes), padding to 4,096, then the
vectors (float32, rows × dims). A workspace has a *base* file per embedder and, between
compactions, a small *delta* file holding rows added since and the base rows removed."""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import secrets
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from desktop.retrieval.embedders import EmbedderKey
from desktop.workspace import Workspace

log = logging.getLogger(__name__)

MAGIC = b"RAGTUNE VECTORS\n"
FORMAT = 1
HEADER_SIZE = 4096
ALIGN = 4096
#: Files up to this many payload bytes have their checksum verified when opened; larger
#: ones on a background thread (the search may start meanwhile).
VERIFY_AT_OPEN_BYTES = 64 * 1024 * 1024
_READ_BLOCK = 8 * 1024 * 1024
META_PREFIX = "retrieval.vectors."

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


class VectorFileError(Exception):
    """A vector file that cannot be trusted; the message says why (for the log)."""


class Stopped(Exception):
    """Background work given up because the process is ending."""


# Background threads (checksum checks, approximate index builds) are daemons, but a daemon
# thread still inside native code when the interpreter finalizes can abort the process.
# At exit they are told to stop and are waited for: each checks between short steps.
_SHUTDOWN = threading.Event()
_THREADS: list[threading.Thread] = []
_THREADS_LOCK = threading.Lock()


def check_running() -> None:
    """Raise ``Stopped`` when the process is ending (called between steps)."""
    if _SHUTDOWN.is_set():
        raise Stopped


def start_background(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    with _THREADS_LOCK:
        _THREADS[:] = [t for t in _THREADS if t.is_alive()]
        _THREADS.append(thread)
    thread.start()
    return thread


@atexit.register
def _stop_background() -> None:
    _SHUTDOWN.set()
    with _THREADS_LOCK:
        threads = list(_THREADS)
    for thread in threads:
        thread.join(timeout=60)


def key_slug(key: EmbedderKey) -> str:
    """A file-name-safe, unique name for an embedder key."""
    raw = f"{key.embedder}-{key.model}-{key.dimensions}"
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", raw)[:80]
    digest = zlib.crc32(raw.encode("utf-8")) & 0xFFFFFFFF
    return f"{readable}-{digest:08x}"


def vector_path(workspace: Workspace, key: EmbedderKey, kind: str) -> Path:
    """``<workspace file>.vectors.<slug>.<kind>`` next to the workspace's SQLite file."""
    return workspace.path.parent / f"{workspace.path.name}.vectors.{key_slug(key)}.{kind}"


@dataclass(frozen=True)
class SegmentHeader:
    kind: str  # base | delta | ann
    key: EmbedderKey
    rows: int
    dead: int
    generation: int
    checksum: str
    base_checksum: str | None = None  # a delta file: the base it applies to

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "embedder": self.key.embedder,
            "model": self.key.model,
            "dimensions": self.key.dimensions,
            "rows": self.rows,
            "dead": self.dead,
            "generation": self.generation,
            "checksum": self.checksum,
            "base_checksum": self.base_checksum,
        }


def _layout(rows: int, dead: int, dims: int) -> tuple[int, int, int, int, int]:
    """Offsets of ids, document ids, embedding ids, dead rows and vectors; total size."""
    ids = HEADER_SIZE
    documents = ids + 8 * rows
    embeddings = documents + 8 * rows
    dead_at = embeddings + 8 * rows
    vectors = -(-(dead_at + 8 * dead) // ALIGN) * ALIGN
    return documents, embeddings, dead_at, vectors, vectors + 4 * rows * dims


@dataclass
class Segment:
    """One vector file, opened read-only; every array is a view of the mapped file."""

    path: Path
    header: SegmentHeader
    ids: Int64Array
    document_ids: Int64Array
    embedding_ids: Int64Array
    dead: Int64Array
    vectors: FloatArray
    vectors_offset: int
    #: A descriptor of the file mapped (not of whatever now bears its name: another
    #: process may have replaced it), for ``read_rows``; closed with the segment.
    descriptor: int

    @property
    def rows(self) -> int:
        return self.header.rows

    def read_rows(self, rows: Int64Array) -> FloatArray:
        """The vectors of ``rows`` (sorted), read with plain reads instead of through the
        mapping: a page fault on the mapping makes the kernel map the neighbouring pages
        too, so rescoring a few scattered rows per search would grow the process by
        ~64 KB a row, the very memory compact storage saves."""
        dims = self.header.key.dimensions
        out = np.empty((len(rows), dims), dtype="<f4")
        width = 4 * dims
        view = memoryview(out).cast("B")
        for number, row in enumerate(rows.tolist()):
            _read_at(
                self.descriptor,
                view[number * width : (number + 1) * width],
                self.vectors_offset + row * width,
            )
        return out

    @property
    def payload_bytes(self) -> int:
        return _layout(self.header.rows, self.header.dead, self.header.key.dimensions)[4] - (
            HEADER_SIZE
        )

    def verify(self) -> None:
        """Recompute the payload's checksum; raises ``VectorFileError`` on a mismatch.
        Reads with plain file reads, so the mapped pages are not made resident."""
        if file_crc(self.path, HEADER_SIZE)[1] != self.header.checksum:
            raise VectorFileError(f"{self.path.name}: the checksum does not match its content")


_POSITIONAL_READS = hasattr(os, "preadv")


def _read_at(descriptor: int, into: memoryview, offset: int) -> None:
    done = 0
    while done < len(into):
        if _POSITIONAL_READS:
            got = os.preadv(descriptor, [into[done:]], offset + done)
        else:  # Windows: no positional reads (callers hold the index's lock)
            os.lseek(descriptor, offset + done, os.SEEK_SET)
            chunk = os.read(descriptor, len(into) - done)
            into[done : done + len(chunk)] = chunk
            got = len(chunk)
        if got <= 0:
            raise VectorFileError("a vector file ended before its header says")
        done += got


def file_crc(path: Path, start: int = 0) -> tuple[int, str]:
    """(bytes read, CRC-32 as 8 hex digits) of ``path`` from ``start`` on, block by block
    (stopping when the process ends)."""
    crc = 0
    size = 0
    with open(path, "rb") as handle:
        handle.seek(start)
        while block := handle.read(_READ_BLOCK):
            check_running()
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, f"{crc:08x}"


def _parse_header(raw: bytes, path: Path) -> dict[str, object]:
    if not raw.startswith(MAGIC):
        raise VectorFileError(f"{path.name} is not a RAGTune vector file")
    try:
        data = json.loads(raw[len(MAGIC) :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise VectorFileError(f"{path.name}: unreadable header ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise VectorFileError(f"{path.name}: unknown format")
    return data


def open_segment(path: Path, key: EmbedderKey, kind: str) -> Segment:
    """Map ``path``; raises ``FileNotFoundError`` or ``VectorFileError``."""
    with open(path, "rb") as handle:
        raw = handle.read(HEADER_SIZE)
        size = os.fstat(handle.fileno()).st_size
    data = _parse_header(raw, path)
    try:
        header = SegmentHeader(
            kind=str(data["kind"]),
            key=EmbedderKey(str(data["embedder"]), str(data["model"]), int(data["dimensions"])),  # type: ignore[call-overload]
            rows=int(data["rows"]),  # type: ignore[call-overload]
            dead=int(data["dead"]),  # type: ignore[call-overload]
            generation=int(data["generation"]),  # type: ignore[call-overload]
            checksum=str(data["checksum"]),
            base_checksum=None if data.get("base_checksum") is None else str(data["base_checksum"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise VectorFileError(f"{path.name}: incomplete header ({error})") from None
    if header.kind != kind or header.key != key:
        raise VectorFileError(f"{path.name}: holds {header.kind} vectors of {header.key.label()}")
    if header.rows < 0 or header.dead < 0:
        raise VectorFileError(f"{path.name}: negative sizes in its header")
    documents, embeddings, dead_at, vectors_at, total = _layout(
        header.rows, header.dead, key.dimensions
    )
    if size != total:
        raise VectorFileError(
            f"{path.name}: {size:,} bytes where its header promises {total:,} "
            f"({header.rows:,} rows)"
        )

    def mapped(dtype: str, offset: int, shape: tuple[int, ...]) -> npt.NDArray[np.generic]:
        if 0 in shape:
            return np.zeros(shape, dtype=dtype)
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)

    rows = header.rows
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        segment = Segment(
            path=path,
            header=header,
            ids=mapped("<i8", HEADER_SIZE, (rows,)),  # type: ignore[arg-type]
            document_ids=mapped("<i8", documents, (rows,)),  # type: ignore[arg-type]
            embedding_ids=mapped("<i8", embeddings, (rows,)),  # type: ignore[arg-type]
            dead=mapped("<i8", dead_at, (header.dead,)),  # type: ignore[arg-type]
            vectors=mapped("<f4", vectors_at, (rows, key.dimensions)),  # type: ignore[arg-type]
            vectors_offset=vectors_at,
            descriptor=descriptor,
        )
    except BaseException:
        os.close(descriptor)
        raise
    weakref.finalize(segment, os.close, descriptor)
    return segment


def write_segment(
    path: Path,
    *,
    kind: str,
    key: EmbedderKey,
    generation: int,
    ids: Int64Array,
    document_ids: Int64Array,
    embedding_ids: Int64Array,
    vector_blocks: Iterable[FloatArray],
    dead: Int64Array | None = None,
    base_checksum: str | None = None,
) -> SegmentHeader:
    """Write a vector file crash-safely (temporary file, fsync, ``os.replace``). The
    vectors come in row-order blocks so a large file is never whole in memory."""
    remove_stale_temporaries(path)
    dead = np.zeros(0, dtype=np.int64) if dead is None else dead
    rows, dims = len(ids), key.dimensions
    if not len(document_ids) == len(embedding_ids) == rows:
        raise ValueError("ids, document ids and embedding ids differ in length")
    _, _, dead_at, vectors_at, total = _layout(rows, len(dead), dims)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(b"\0" * HEADER_SIZE)
            crc = 0

            def put(data: bytes | memoryview) -> None:
                nonlocal crc
                crc = zlib.crc32(data, crc)
                handle.write(data)

            for array in (ids, document_ids, embedding_ids, dead):
                put(np.ascontiguousarray(array, dtype="<i8").tobytes())
            put(b"\0" * (vectors_at - dead_at - 8 * len(dead)))
            written = 0
            for block in vector_blocks:
                block = np.ascontiguousarray(block, dtype="<f4")
                if block.ndim != 2 or block.shape[1] != dims:
                    raise ValueError(f"vector block of shape {block.shape}, expected (n, {dims})")
                put(memoryview(block).cast("B"))
                written += block.shape[0]
            if written != rows:
                raise ValueError(f"{written:,} vectors written for {rows:,} rows")
            header = SegmentHeader(
                kind, key, rows, len(dead), generation, f"{crc:08x}", base_checksum
            )
            encoded = MAGIC + json.dumps(header.to_json()).encode("utf-8")
            if len(encoded) >= HEADER_SIZE:
                raise ValueError("vector file header too long")
            handle.seek(0)
            handle.write(encoded + b" " * (HEADER_SIZE - len(encoded) - 1) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            if handle.seek(0, os.SEEK_END) != total:
                raise OSError(f"{temporary.name}: wrote {handle.tell():,} of {total:,} bytes")
        os.replace(temporary, path)
        fsync_folder(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return header


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no folder handles to fsync)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale_temporaries(path: Path) -> None:
    """Remove temporary files of ``path`` left by writers that are gone (killed)."""
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        parts = candidate.name.rsplit(".", 3)
        try:
            pid = int(parts[-3])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _running(pid):
            continue  # ours (removed by the writer itself) or another process writing it now
        with contextlib.suppress(OSError):
            candidate.unlink()
            log.info("Removed %s, left by an interrupted write", candidate.name)


def _running(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill there terminates the process: never remove another's file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def blocks(
    array: FloatArray, rows: Int64Array | None = None, size: int = 65_536
) -> Iterator[FloatArray]:
    """``array`` (or its ``rows``, in that order) in blocks, for ``write_segment``."""
    if rows is None:
        for start in range(0, len(array), size):
            yield np.asarray(array[start : start + size])
        return
    for start in range(0, len(rows), size):
        yield np.asarray(array[rows[start : start + size]])


# -- the database's record of the files ----------------------------------------------------


@dataclass(frozen=True)
class FileRecord:
    """What the database last recorded for a key: the checksums of its files."""

    base: str | None
    delta: str | None
    generation: int


def read_record(workspace: Workspace, key: EmbedderKey) -> FileRecord | None:
    raw = workspace.get_meta(META_PREFIX + key_slug(key))
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return FileRecord(data.get("base"), data.get("delta"), int(data["generation"]))
    except (ValueError, KeyError, TypeError):
        return None


def write_record(workspace: Workspace, key: EmbedderKey, record: FileRecord) -> None:
    workspace.set_meta(
        META_PREFIX + key_slug(key),
        json.dumps({"base": record.base, "delta": record.delta, "generation": record.generation}),
    )


class BackgroundCheck:
    """Verifies large files' checksums on a daemon thread; ``failed`` says what went wrong
    (read by the next sync, which then rebuilds). It starts after ``delay`` seconds, so the
    first search after opening a workspace does not share the cores with it."""

    def __init__(self, segments: list[Segment], delay: float = 3.0) -> None:
        self.failed: str | None = None
        start_background(lambda: self._run(segments, delay), "vector-file-check")

    def _run(self, segments: list[Segment], delay: float) -> None:
        try:
            _SHUTDOWN.wait(delay)
            for segment in segments:
                segment.verify()
        except Stopped:
            pass
        except (OSError, VectorFileError) as error:
            self.failed = str(error)
            log.warning("Vector file check failed, it will be rebuilt: %s", error)
