"""Importing files and folders into the library, and rescanning them.

Both are progress generators (see ``desktop.progress``): the caller reports progress and
may stop between files (and between the OCR'd pages of a scan). A file is read and
chunked on a worker thread while the files before it are written, so loading, chunking
(tiktoken releases the GIL) and SQLite overlap. Writes are batched: one commit every
few hundred files or 250 ms, each document written whole inside it (a savepoint), so a
cancel keeps every finished file, and a crash loses at most the files since the last
commit, never part of one; importing again picks them up. A file that fails is skipped
with a reason; the others import normally.

Every file that is not imported is named in the report with the reason: unreadable or
unsupported ones, files passed over in folders (an unknown format, a link leaving the
folder), and what could not be looked at (an unreadable folder, a path too long)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import multiprocessing.queues
import os
import queue
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import (
    Executor,
    Future,
    InvalidStateError,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from desktop.library.chunking import Chunk, ChunkingStrategy, RecursiveTokens, chunk_text
from desktop.library.loaders import (
    LoadedDocument,
    LoadError,
    LoadOptions,
    display_path,
    load_document,
    name_is_text,
    walk_folder,
)
from desktop.library.repository import Library, WriteBatch
from desktop.progress import Cancelled, Progress
from desktop.text import plural
from desktop.tokens import Tokenizer, get_tokenizer

log = logging.getLogger(__name__)

# 192 tokens: the bundled embedding model (the offline default) reads at most ~254 of its
# own tokens, and OpenAI tokens run ~1.03 of them on English prose, so chunks of this size
# are embedded whole, and fast enough (shared NOTES, issue 4's figures).
DEFAULT_STRATEGY: ChunkingStrategy = RecursiveTokens(chunk_tokens=192, overlap_tokens=32)
PART_SEPARATOR = " › "  # "mail.eml › report.pdf": an attachment's source path
_WAKE = ""  # put on a pipeline's messages when a file is ready (not a message to show)
READING_PROCESSES = min(4, os.cpu_count() or 1)
FELL_BACK_PATH = "(import)"
FELL_BACK = (
    "a reading process stopped unexpectedly; the files after it were read in the app "
    "itself, and none was lost"
)
FELL_BACK_AT_START = (
    "the reading processes could not be started ({}); the files were read in the app "
    "itself, and none was lost"
)
_GROUP_FILES = 16  # files per round trip to a reading process...
_GROUP_BYTES = 1 << 20  # ...unless they are larger than this together
_AHEAD_BYTES = 64 << 20  # files read ahead of the writes: at most this much of them
_NEW_GROUP = 64  # new files written together (see _NewFiles)
_READING_SERVER = "desktop.library.reading_server"
_READER_NICENESS = 5


@dataclass(frozen=True)
class ImportOptions:
    max_bytes: int = 50 * 1024 * 1024
    strategy: ChunkingStrategy = DEFAULT_STRATEGY
    encoding: str = "cl100k_base"  # the embedding model's tokenizer
    max_unzipped_bytes: int = 500 * 1024 * 1024
    max_text_chars: int = 20_000_000
    ocr: bool = True  # read pages without a text layer, and images, with OCR
    batch_files: int = 200  # commit after this many files...
    batch_seconds: float = 0.25  # ...or this long, whichever comes first
    # Files read and chunked at once, ahead of the writes, on threads (0: on the writing
    # thread). One, so that a slow file (OCR) reports its pages and can be cancelled
    # while it is read. It costs throughput: from the command line 2,000 files take
    # 3.9 s with it and 3.0 s without, the same reading taking ~35% more CPU time on the
    # reading thread (handed one file at a time while the writer thread runs; tiktoken's
    # own share of that is handled in desktop.tokens). A large import reads in processes
    # instead (below).
    workers: int = 1
    # A large import reads and chunks in this many processes instead (their own GILs,
    # cores and caches; ~0.5 s to start, so only from ``process_min_files`` files on).
    processes: int = READING_PROCESSES
    process_min_files: int = 100

    def tokenizer(self) -> Tokenizer:
        return get_tokenizer(self.encoding)

    def load_options(self) -> LoadOptions:
        return LoadOptions(
            max_bytes=self.max_bytes,
            max_unzipped_bytes=self.max_unzipped_bytes,
            max_text_chars=self.max_text_chars,
            ocr=self.ocr,
        )


@dataclass(frozen=True)
class FileOutcome:
    path: str
    outcome: str  # added | updated | unchanged | skipped | missing | ignored
    reason: str = ""
    document_id: int | None = None
    chunks: int = 0


@dataclass
class ImportReport:
    run_id: int
    outcomes: list[FileOutcome] = field(default_factory=list)
    ignored: int = 0  # files in imported folders passed over (named in ``passed_over``)
    cancelled: bool = False
    total_files: int = 0
    passed_over: list[FileOutcome] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, what happened)

    def counts(self) -> Counter[str]:
        return Counter(o.outcome for o in self.outcomes)

    @property
    def skipped(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.outcome == "skipped"]

    @property
    def not_imported(self) -> list[FileOutcome]:
        """Every file that is not in the library after this run, with the reason."""
        return [*self.skipped, *self.passed_over]

    def summary(self) -> str:
        counts = self.counts()
        parts = [
            f"{counts[k]} {k}"
            for k in ("added", "updated", "unchanged", "missing", "skipped")
            if counts[k]
        ]
        if self.ignored:
            other = plural(self.ignored, "other file")
            parts.append(f"{other} not imported (named in the report)")
        if self.warnings:
            parts.append(plural(len(self.warnings), "warning"))
        text = ", ".join(parts) or "nothing to import"
        if self.cancelled:
            done = len(self.outcomes)
            text += f" (cancelled after {done} of {self.total_files} files)"
        return text


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class CollectedFiles:
    files: list[Path] = field(default_factory=list)
    passed_over: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def collect(paths: Iterable[Path]) -> CollectedFiles:
    """The files to import (sorted, de-duplicated), the files passed over inside folders
    and the warnings of the folder walk. Files named explicitly are always tried (a link
    the user picked is followed), so an unsupported one gets a reason in the report."""
    chosen: dict[str, Path] = {}
    found = CollectedFiles()
    for path in paths:
        path = Path(os.path.abspath(path.expanduser()))
        if path.is_dir():
            scan = walk_folder(path)
            found.passed_over += scan.passed_over
            found.warnings += scan.warnings
            for candidate in scan.files:
                chosen.setdefault(os.fsdecode(candidate), candidate)
        else:
            chosen.setdefault(os.fsdecode(path), path)
    found.files = sorted(chosen.values())
    return found


# ---------------------------------------------------------------------------
# Reading and chunking, on worker threads
# ---------------------------------------------------------------------------


@dataclass
class _Prepared:
    """A file made ready on a worker: unchanged, failed, or loaded and chunked."""

    path: Path
    unchanged: bool = False
    modified_time: float = 0.0
    reason: str = ""
    document: LoadedDocument | None = None
    chunks: list[Chunk] = field(default_factory=list)
    children: list[tuple[LoadedDocument, list[Chunk]]] = field(default_factory=list)

    def __reduce__(self) -> tuple[object, ...]:
        """Sent back by a reading process without its chunks' texts: each is a slice of
        its document's text, rebuilt on arrival (half the bytes, and plain tuples instead
        of objects to pickle)."""
        return (
            _arrived,
            (
                self.path,
                self.unchanged,
                self.modified_time,
                self.reason,
                self.document,
                _spans(self.chunks),
                [(child, _spans(chunks)) for child, chunks in self.children],
            ),
        )


_Span = tuple[int, int, int, int, "int | None", tuple[str, ...], str]


def _spans(chunks: list[Chunk]) -> list[_Span]:
    return [(c.index, c.start, c.end, c.token_count, c.page, c.heading_path, c.key) for c in chunks]


def _chunks_of(text: str, spans: list[_Span]) -> list[Chunk]:
    return [
        Chunk(index, start, end, text[start:end], count, page, path, key)
        for index, start, end, count, page, path, key in spans
    ]


def _arrived(
    path: Path,
    unchanged: bool,
    modified_time: float,
    reason: str,
    document: LoadedDocument | None,
    spans: list[_Span],
    children: list[tuple[LoadedDocument, list[_Span]]],
) -> _Prepared:
    return _Prepared(
        path,
        unchanged,
        modified_time,
        reason,
        document,
        _chunks_of(document.text, spans) if document is not None else [],
        [(child, _chunks_of(child.text, child_spans)) for child, child_spans in children],
    )


def _prepare(
    path: Path,
    known_hash: str | None,
    options: ImportOptions,
    load_options: LoadOptions,
    tokenizer: Tokenizer,
) -> _Prepared:
    try:
        if known_hash is not None and path.is_file() and file_hash(path) == known_hash:
            return _Prepared(path, unchanged=True, modified_time=path.stat().st_mtime)
        document = load_document(path, options=load_options)
    except LoadError as error:
        return _Prepared(path, reason=error.reason)
    except OSError as error:
        return _Prepared(path, reason=f"cannot read the file ({error.strerror or error})")
    prepared = _Prepared(path, document=document)
    prepared.chunks = _chunk(document, options, tokenizer)
    for child in document.children:
        prepared.children.append((child, _chunk(child, options, tokenizer)))
    return prepared


def _chunk(document: LoadedDocument, options: ImportOptions, tokenizer: Tokenizer) -> list[Chunk]:
    return chunk_text(document.text, options.strategy, pages=document.pages, tokenizer=tokenizer)


# What a reading process keeps between files (see ``_start_reader``).
_reader: tuple[ImportOptions, LoadOptions, Tokenizer] | None = None


def _start_reader(options: ImportOptions, messages: _Messages, stop: _Stop) -> None:
    """A reading process's start: its tokenizer loaded once, its OCR pages reported to
    the writer's queue, the cancel read from the shared event. Ctrl+C is the parent's to
    handle (it cancels and shuts the pool down), and the GUI comes first for the cores."""
    global _reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        # A parent killed outright (kill -9, a crash) cannot shut the pool down, and a
        # worker waiting for its next file would wait forever: it leaves with its parent.
        threading.Thread(
            target=_leave_with, args=(parent.sentinel,), name="parent-watch", daemon=True
        ).start()
    lower_priority()
    load_options = replace(options.load_options(), progress=messages.put, cancelled=stop.is_set)
    _reader = (options, load_options, options.tokenizer())


def lower_priority() -> None:
    """Reading processes run at niceness 5 (or lower, if started so): the window and the
    writer come first for the cores."""
    if hasattr(os, "nice"):
        os.nice(max(0, _READER_NICENESS - os.nice(0)))


def reading_context() -> multiprocessing.context.BaseContext:
    """How reading processes start. Where the platform has it (Linux, macOS), they are
    forked from a server process started once (at the first import, or when the import
    dialog opens: ``start_reading_server``) that has loaded the importer and the default
    tokenizer (``desktop.library.reading_server``): a reading process is ready in
    milliseconds instead of ~0.3 s of CPU, and imports after the first start at once. The
    server is a fresh interpreter with no thread of its own, so forking it is safe (forking
    this process, with Qt's and the workers' threads, is not). Elsewhere (Windows) each
    reading process is a fresh interpreter ("spawn"). Both work in the frozen app (its
    entry calls ``multiprocessing.freeze_support()``; PyInstaller diverts the server's
    start to the same code)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([_READING_SERVER])
        return context
    return multiprocessing.get_context("spawn")


def start_reading_server() -> None:
    """Start the reading processes' server ahead of an import (a few milliseconds here;
    its start-up runs in the server). It stays for the imports after, and leaves with
    this process. Nothing to do where reading processes are spawned."""
    if reading_context().get_start_method() == "forkserver":
        import multiprocessing.forkserver  # not on Windows

        try:
            multiprocessing.forkserver.ensure_running()
        except OSError as error:  # the import will read in the app itself, and say why
            log.warning("The reading processes' server could not start: %s", error)


def _leave_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)


def _read_in_process(files: list[tuple[Path, str | None]]) -> list[_Prepared]:
    """A group of files (``_GROUP_FILES``, one process round trip) on a reading process."""
    assert _reader is not None, "_start_reader runs first in every reading process"
    options, load_options, tokenizer = _reader
    return [_prepare(path, known, options, load_options, tokenizer) for path, known in files]


class _Messages(Protocol):
    def put(self, item: str) -> None: ...

    def get(self, block: bool = True, timeout: float | None = None) -> str: ...


class _Stop(Protocol):
    def set(self) -> None: ...

    def is_set(self) -> bool: ...


class _Pipeline:
    """Files prepared a few ahead of the one being written, in order: on a reading thread,
    or for a large import in reading processes (``ImportOptions.processes``). Long loads
    (OCR) send page messages; a cancel stops them between pages. If a reading process
    dies (a crash in a native reader, the kernel's out-of-memory killer), the files not
    yet written are read again on threads, so none is lost for it."""

    def __init__(
        self,
        files: Sequence[Path],
        known: dict[str, str],
        options: ImportOptions,
    ) -> None:
        self.files = files
        self.known = known
        self.options = options
        self.processes = options.processes if len(files) >= options.process_min_files else 0
        # A reading process died, or none could start: the rest was read on threads.
        self.fell_back: str | None = None
        self.messages: _Messages
        self._stop: _Stop
        self._pool: Executor | None
        if self.processes > 0:
            context = reading_context()
            self.messages, self._stop = context.Queue(), context.Event()
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=_start_reader,
                initargs=(options, self.messages, self._stop),
            )
        else:
            self.messages, self._stop = queue.SimpleQueue(), threading.Event()
            self._pool = (
                ThreadPoolExecutor(options.workers, "ragtune-import")
                if options.workers > 0
                else None
            )
        self._load_options = replace(
            options.load_options(), progress=self.messages.put, cancelled=self._stop.is_set
        )
        self._futures: deque[tuple[Path, Future[_Prepared]]] = deque()
        self._jobs: list[Future[list[_Prepared]]] = []  # the reading processes' groups
        # The sizes of the files in flight in processes, which bound them too: their texts
        # wait in memory until written.
        self._sizes: dict[Path, int] = {}
        self._next = 0

    @property
    def _ahead(self) -> int:
        """Files in flight: in processes, enough groups that none waits for the next round
        trip; on threads, a few per thread."""
        return 4 * _GROUP_FILES * self.processes or max(2, self.options.workers * 3)

    def _read(self, path: Path) -> _Prepared:
        """One file on this process (the writer's thread or a reading thread)."""
        known_hash = self.known.get(display_path(path))
        # Loaded by the first file read here: reading processes load their own.
        tokenizer = self.options.tokenizer()
        return _prepare(path, known_hash, self.options, self._load_options, tokenizer)

    def _submit(self, paths: list[Path]) -> list[tuple[Path, Future[_Prepared]]]:
        """Read ``paths`` on the pool: one future each, resolved as the group finishes."""
        assert self._pool is not None
        if not isinstance(self._pool, ProcessPoolExecutor):
            submitted = [(path, self._pool.submit(self._read, path)) for path in paths]
            for _path, future in submitted:
                # A finished file wakes the writer waiting on the messages at once.
                future.add_done_callback(lambda _done: self.messages.put(_WAKE))
            return submitted
        files: list[tuple[Path, Future[_Prepared]]] = [(path, Future()) for path in paths]
        job = self._pool.submit(
            _read_in_process, [(path, self.known.get(display_path(path))) for path in paths]
        )

        def finished(job: Future[list[_Prepared]]) -> None:
            try:
                outcomes: list[_Prepared | BaseException] = list(job.result())
            except BaseException as error:  # handed to each file's future
                outcomes = [error] * len(files)
            for (_path, future), outcome in zip(files, outcomes, strict=True):
                with contextlib.suppress(InvalidStateError):  # cancelled by close()
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
            self.messages.put(_WAKE)

        job.add_done_callback(finished)
        # Only the groups still being read: a finished one holds its files' texts.
        self._jobs = [*(j for j in self._jobs if not j.done()), job]
        return files

    def _group(self) -> list[Path]:
        """The next files to read in one go: one on threads; in processes up to
        ``_GROUP_FILES`` of at most ``_GROUP_BYTES`` together (a large PDF goes alone)."""
        if not self.processes:
            return [self.files[self._next]]
        group: list[Path] = []
        size = 0
        while self._next + len(group) < len(self.files) and len(group) < _GROUP_FILES:
            path = self.files[self._next + len(group)]
            bytes_ = 0
            with contextlib.suppress(OSError):
                bytes_ = path.stat().st_size
            size += bytes_
            if group and size > _GROUP_BYTES:
                break
            group.append(path)
            self._sizes[path] = bytes_
        return group

    def _fill(self) -> None:
        while (
            self._next < len(self.files)
            and len(self._futures) < self._ahead
            and (not self._futures or sum(self._sizes.values()) < _AHEAD_BYTES)
        ):
            group = self._group()
            self._futures.extend(self._submit(group))
            self._next += len(group)

    def next_result(self) -> Future[_Prepared]:
        if self._pool is None:
            future: Future[_Prepared] = Future()
            future.set_result(self._read(self.files[self._next]))
            self._next += 1
            return future
        self._fill_or_fall_back()
        path, future = self._futures.popleft()
        self._sizes.pop(path, None)
        self._fill_or_fall_back()
        return future

    def _fill_or_fall_back(self) -> None:
        try:
            self._fill()
        except BrokenProcessPool:  # noticed before a file's future said so
            self._fall_back()
            self._fill()
        except (OSError, EOFError) as error:
            # Out of processes or file descriptors (EAGAIN, EMFILE) here, or in the fork
            # server, which then leaves: its socket reads an unexpected end of file.
            if not isinstance(self._pool, ProcessPoolExecutor):
                raise
            log.warning("Reading processes could not start: %r", error)
            reason = getattr(error, "strerror", None) or "the system refused a new process"
            self._fall_back(FELL_BACK_AT_START.format(reason))
            self._fill()

    def result(self, future: Future[_Prepared], path: Path) -> _Prepared:
        """The prepared file of ``future`` (done); a dead reading process's files are
        read again on threads, this one on the calling thread."""
        try:
            return future.result()
        except BrokenProcessPool:
            self._fall_back()
            return self._read(path)

    def _fall_back(self, why: str = FELL_BACK) -> None:
        """Read on threads from now on: the files read already are kept, the others
        (their process died with them, or they were not started) read again."""
        log.warning("Reading processes failed; reading the rest of the import on threads (%s)", why)
        assert self._pool is not None
        self.fell_back = why
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.processes = 0
        self._pool = ThreadPoolExecutor(max(1, self.options.workers), "ragtune-import")
        futures: deque[tuple[Path, Future[_Prepared]]] = deque()
        for path, future in self._futures:
            read = future.done() and not future.cancelled() and future.exception() is None
            futures.extend([(path, future)] if read else self._submit([path]))
        self._futures = futures

    def close(self) -> None:
        self._stop.set()
        for _path, future in self._futures:
            future.cancel()
        for job in self._jobs:
            job.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(self.messages, multiprocessing.queues.Queue):
            # Its wake-ups are of no use once closed: never wait to flush them at exit.
            self.messages.cancel_join_thread()
            self.messages.close()


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _save(library: Library, prepared: _Prepared, run_id: int) -> list[FileOutcome]:
    """Write one prepared file (and its attachments); the outcomes to report."""
    source = display_path(prepared.path)
    existing = library.document_by_path(source) if prepared.unchanged else None
    if existing is not None:
        library.save_document_unchanged(existing.id, prepared.modified_time, run_id=run_id)
        return [
            FileOutcome(source, "unchanged", document_id=existing.id, chunks=existing.chunk_count)
        ]
    if prepared.document is None:
        library.record(run_id, source, "skipped", prepared.reason)
        return [FileOutcome(source, "skipped", prepared.reason)]
    document = prepared.document
    document_id, outcome = library.save_document(source, document, prepared.chunks, run_id=run_id)
    outcomes = [FileOutcome(source, outcome, document_id=document_id, chunks=len(prepared.chunks))]
    kept: set[str] = set()
    for child, chunks in prepared.children:
        child_source = f"{source}{PART_SEPARATOR}{child.part}"
        kept.add(child_source)
        child_id, child_outcome = library.save_document(
            child_source, child, chunks, run_id=run_id, parent_id=document_id
        )
        outcomes.append(
            FileOutcome(child_source, child_outcome, document_id=child_id, chunks=len(chunks))
        )
    for part, reason in document.part_errors:
        part_source = f"{source}{PART_SEPARATOR}{part}"
        library.record(run_id, part_source, "skipped", reason)
        outcomes.append(FileOutcome(part_source, "skipped", reason))
    if outcome == "updated" or kept:  # a new file has no attachments stored yet
        for child_id, child_source in library.children(document_id):
            if child_source not in kept:
                library.delete_document(child_id, run_id=run_id)
    return outcomes


def _failed(
    library: Library, report: ImportReport, run_id: int, path: Path, error: Exception
) -> None:
    log.error("Importing %s failed", path, exc_info=error)
    reason = f"unexpected error: {type(error).__name__}"
    library.record(run_id, display_path(path), "skipped", reason)
    report.outcomes.append(FileOutcome(display_path(path), "skipped", reason))


def _save_guarded(library: Library, report: ImportReport, run_id: int, prepared: _Prepared) -> None:
    try:
        report.outcomes.extend(_save(library, prepared, run_id))
    except Cancelled:
        raise
    except Exception as exc:
        _failed(library, report, run_id, prepared.path, exc)


def _is_new(prepared: _Prepared, known: dict[str, str]) -> bool:
    """A file read whole that the library does not hold yet, with no attachments: it
    can be written together with others like it."""
    document = prepared.document
    return (
        document is not None
        and not prepared.children
        and not document.part_errors
        and display_path(prepared.path) not in known
    )


class _NewFiles:
    """New files written together (``Library.save_new_documents``): one savepoint and a
    few statements for ``_NEW_GROUP`` of them, where SQLite's full-text index wrote its
    terms out once per file. Written before any other file, before each commit of the
    batch (``commit``) and at the end (a cancel included), so the order of the report and
    the crash safety of a commit are those of files written one by one."""

    def __init__(
        self,
        library: Library,
        batch: WriteBatch,
        options: ImportOptions,
        report: ImportReport,
        run_id: int,
    ) -> None:
        self.library = library
        self.batch = batch
        self.options = options
        self.report = report
        self.run_id = run_id
        self.waiting: list[_Prepared] = []
        self.since = 0.0  # when the first of them was read

    def __enter__(self) -> _NewFiles:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.write()

    def add(self, prepared: _Prepared) -> None:
        if not self.waiting:
            self.since = time.monotonic()
        self.waiting.append(prepared)
        if len(self.waiting) >= _NEW_GROUP:
            self.write()

    def commit(self) -> None:
        """Write the files waiting, then commit the batch."""
        self.write()
        self.batch.commit()

    def commit_if_due(self) -> None:
        """Commit when the batch is due, the files waiting counted as written (and kept
        waiting no longer than the batch would keep them)."""
        files, seconds = self.options.batch_files, self.options.batch_seconds
        waiting_due = bool(self.waiting) and (
            self.batch.writes + len(self.waiting) >= files
            or time.monotonic() - self.since >= seconds
        )
        if waiting_due or self.batch.due(files=files, seconds=seconds):
            self.commit()

    def write(self) -> None:
        group, self.waiting = self.waiting, []
        if not group:
            return
        try:
            ids = self.library.save_new_documents(
                [(display_path(p.path), p.document, p.chunks) for p in group if p.document],
                run_id=self.run_id,
            )
        except Exception:
            log.warning("Writing %d new files together failed; one by one", len(group))
            for prepared in group:
                _save_guarded(self.library, self.report, self.run_id, prepared)
            return
        self.report.outcomes.extend(
            FileOutcome(display_path(p.path), "added", document_id=i, chunks=len(p.chunks))
            for p, i in zip(group, ids, strict=True)
        )


def _unreadable_name(path: Path) -> FileOutcome:
    return FileOutcome(
        display_path(path),
        "skipped",
        "the file name is not valid UTF-8 (shown with \\x escapes): rename the file to import it",
    )


def _run(
    library: Library,
    files: Sequence[Path],
    options: ImportOptions,
    report: ImportReport,
    run_id: int,
    *,
    first: int = 0,
    total: int,
) -> Generator[Progress, None, None]:
    """Prepare ``files`` on workers and write them in order, yielding progress."""
    readable = [p for p in files if name_is_text(p)]
    known = library.known_files()
    pipeline = _Pipeline(readable, known, options)
    try:
        with (
            library.batch() as batch,
            _NewFiles(library, batch, options, report, run_id) as new,
        ):
            position = first
            for path in files:
                shown = path.name if name_is_text(path) else display_path(path)
                yield Progress(position, total, shown)
                position += 1
                if not name_is_text(path):
                    outcome = _unreadable_name(path)
                    library.record(run_id, outcome.path, "skipped", outcome.reason)
                    report.outcomes.append(outcome)
                    continue
                future = pipeline.next_result()
                waiting_since = time.monotonic()
                while not future.done():
                    if time.monotonic() - waiting_since >= options.batch_seconds:
                        new.commit()  # never hold the write lock while a slow file loads
                    try:
                        message = pipeline.messages.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    if message != _WAKE:
                        yield Progress(position - 1, total, f"{path.name}: {message}")
                try:
                    prepared = pipeline.result(future, path)
                except Cancelled:
                    raise
                except Exception as exc:
                    _failed(library, report, run_id, path, exc)
                else:
                    if _is_new(prepared, known):
                        new.add(prepared)
                    else:
                        new.write()
                        _save_guarded(library, report, run_id, prepared)
                new.commit_if_due()
    finally:
        pipeline.close()
        if pipeline.fell_back:
            report.warnings.append((FELL_BACK_PATH, pipeline.fell_back))


def _passed_over(report: ImportReport, collected: CollectedFiles) -> None:
    report.passed_over = [FileOutcome(p, "ignored", r) for p, r in collected.passed_over]
    report.ignored = len(collected.passed_over)
    report.warnings = list(collected.warnings)


def import_paths(
    library: Library, paths: Sequence[Path], options: ImportOptions | None = None
) -> Generator[Progress, None, ImportReport]:
    options = options or ImportOptions()
    collected = collect(paths)
    folders = [os.path.abspath(p.expanduser()) for p in paths if p.is_dir()]
    if folders:
        library.add_roots([display_path(f) for f in folders if name_is_text(f)])
    run_id = library.start_run("import")
    report = ImportReport(run_id, total_files=len(collected.files))
    _passed_over(report, collected)
    finished = False
    try:
        yield from _run(
            library, collected.files, options, report, run_id, total=len(collected.files)
        )
        yield Progress(len(collected.files), len(collected.files), "done")
        finished = True
    finally:
        report.cancelled = not finished
        library.finish_run(run_id, cancelled=report.cancelled)
    return report


def rescan(
    library: Library, options: ImportOptions | None = None
) -> Generator[Progress, None, ImportReport]:
    """Re-check every document's source file (changed, missing) and look for new files
    in the folders imported before (added). Attachments follow their message."""
    options = options or ImportOptions()
    documents = [d for d in library.documents() if d.parent_id is None]
    known = {d.source_path for d in documents}
    collected = collect(Path(root) for root in library.roots() if Path(root).is_dir())
    new_files = [p for p in collected.files if display_path(p) not in known]
    total = len(documents) + len(new_files)
    run_id = library.start_run("rescan")
    report = ImportReport(run_id, total_files=total)
    _passed_over(report, collected)
    finished = False
    try:
        present: list[Path] = []
        for number, document in enumerate(documents):
            path = Path(document.source_path)
            if path.is_file():
                present.append(path)
                continue
            yield Progress(number, total, path.name)
            library.set_status(document.id, "missing", run_id=run_id)
            report.outcomes.append(
                FileOutcome(
                    document.source_path, "missing", "the file is no longer there", document.id
                )
            )
            for child_id, child_source in library.children(document.id):
                library.set_status(child_id, "missing", run_id=run_id)
                report.outcomes.append(
                    FileOutcome(child_source, "missing", "its message is no longer there", child_id)
                )
        done = total - len(present) - len(new_files)
        yield from _run(
            library, [*present, *new_files], options, report, run_id, first=done, total=total
        )
        yield Progress(total, total, "done")
        finished = True
    finally:
        report.cancelled = not finished
        library.finish_run(run_id, cancelled=report.cancelled)
    return report
