"""Importing files and folders into the library, and rescanning them.

Both are progress generators (see ``desktop.progress``): the caller reports progress and
may stop between files. Each file is parsed outside any transaction and saved in one, so
a cancel or a crash leaves every finished file imported and nothing half-imported. A file
that fails is skipped with a reason; the others import normally."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from desktop.library.chunking import ChunkingStrategy, RecursiveTokens, chunk_text
from desktop.library.loaders import LoadError, load_document, walk_folder
from desktop.library.repository import Library
from desktop.progress import Progress
from desktop.tokens import Tokenizer, get_tokenizer

log = logging.getLogger(__name__)

# 192 tokens: the bundled embedding model (the offline default) reads at most ~254 of its
# own tokens, and OpenAI tokens run ~1.03 of them on English prose, so chunks of this size
# are embedded whole, and fast enough (shared NOTES, issue 4's figures).
DEFAULT_STRATEGY: ChunkingStrategy = RecursiveTokens(chunk_tokens=192, overlap_tokens=32)


@dataclass(frozen=True)
class ImportOptions:
    max_bytes: int = 50 * 1024 * 1024
    strategy: ChunkingStrategy = DEFAULT_STRATEGY
    encoding: str = "cl100k_base"  # the embedding model's tokenizer

    def tokenizer(self) -> Tokenizer:
        return get_tokenizer(self.encoding)


@dataclass(frozen=True)
class FileOutcome:
    path: str
    outcome: str  # added | updated | unchanged | skipped | missing
    reason: str = ""
    document_id: int | None = None
    chunks: int = 0


@dataclass
class ImportReport:
    run_id: int
    outcomes: list[FileOutcome] = field(default_factory=list)
    ignored: int = 0  # files in imported folders with formats the library does not read
    cancelled: bool = False
    total_files: int = 0

    def counts(self) -> Counter[str]:
        return Counter(o.outcome for o in self.outcomes)

    @property
    def skipped(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.outcome == "skipped"]

    def summary(self) -> str:
        counts = self.counts()
        parts = [
            f"{counts[k]} {k}"
            for k in ("added", "updated", "unchanged", "missing", "skipped")
            if counts[k]
        ]
        if self.ignored:
            parts.append(f"{self.ignored} other files ignored")
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


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], int]:
    """The files to import (sorted, de-duplicated) and how many others were passed over
    inside folders. Files named explicitly are always tried, so an unsupported one gets
    a reason in the report."""
    chosen: dict[str, Path] = {}
    ignored = 0
    for path in paths:
        path = path.expanduser().resolve()
        if path.is_dir():
            found, passed_over = walk_folder(path)
            ignored += passed_over
            for candidate in found:
                chosen.setdefault(str(candidate), candidate)
        else:
            chosen.setdefault(str(path), path)
    return sorted(chosen.values()), ignored


def _import_one(
    library: Library, path: Path, options: ImportOptions, tokenizer: Tokenizer, run_id: int
) -> FileOutcome:
    source = str(path)
    existing = library.document_by_path(source)
    try:
        if existing is not None and path.is_file() and file_hash(path) == existing.content_hash:
            library.save_document_unchanged(existing.id, path.stat().st_mtime, run_id=run_id)
            return FileOutcome(
                source, "unchanged", document_id=existing.id, chunks=existing.chunk_count
            )
        loaded = load_document(path, max_bytes=options.max_bytes)
    except LoadError as exc:
        library.record(run_id, source, "skipped", exc.reason)
        return FileOutcome(source, "skipped", exc.reason)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        library.record(run_id, source, "skipped", reason)
        return FileOutcome(source, "skipped", reason)
    chunks = chunk_text(loaded.text, options.strategy, pages=loaded.pages, tokenizer=tokenizer)
    document_id, outcome = library.save_document(source, loaded, chunks, run_id=run_id)
    return FileOutcome(source, outcome, document_id=document_id, chunks=len(chunks))


def import_paths(
    library: Library, paths: Sequence[Path], options: ImportOptions | None = None
) -> Generator[Progress, None, ImportReport]:
    options = options or ImportOptions()
    tokenizer = options.tokenizer()
    files, ignored = collect_files(paths)
    folders = [str(p.expanduser().resolve()) for p in paths if p.is_dir()]
    if folders:
        library.add_roots(folders)
    run_id = library.start_run("import")
    report = ImportReport(run_id, ignored=ignored, total_files=len(files))
    finished = False
    try:
        for number, path in enumerate(files):
            yield Progress(number, len(files), path.name)
            try:
                report.outcomes.append(_import_one(library, path, options, tokenizer, run_id))
            except Exception as exc:
                log.exception("Importing %s failed", path)
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
                library.record(run_id, str(path), "skipped", reason)
                report.outcomes.append(FileOutcome(str(path), "skipped", reason))
        yield Progress(len(files), len(files), "done")
        finished = True
    finally:
        report.cancelled = not finished
        library.finish_run(run_id, cancelled=report.cancelled)
    return report


def rescan(
    library: Library, options: ImportOptions | None = None
) -> Generator[Progress, None, ImportReport]:
    """Re-check every document's source file (changed, missing) and look for new files
    in the folders imported before (added)."""
    options = options or ImportOptions()
    tokenizer = options.tokenizer()
    documents = library.documents()
    known = {d.source_path for d in documents}
    new_files, ignored = collect_files(
        Path(root) for root in library.roots() if Path(root).is_dir()
    )
    new_files = [p for p in new_files if str(p) not in known]
    total = len(documents) + len(new_files)
    run_id = library.start_run("rescan")
    report = ImportReport(run_id, ignored=ignored, total_files=total)
    finished = False
    try:
        for number, document in enumerate(documents):
            yield Progress(number, total, Path(document.source_path).name)
            path = Path(document.source_path)
            if not path.is_file():
                library.set_status(document.id, "missing", run_id=run_id)
                report.outcomes.append(
                    FileOutcome(
                        document.source_path, "missing", "the file is no longer there", document.id
                    )
                )
                continue
            report.outcomes.append(_import_one(library, path, options, tokenizer, run_id))
        for number, path in enumerate(new_files, start=len(documents)):
            yield Progress(number, total, path.name)
            report.outcomes.append(_import_one(library, path, options, tokenizer, run_id))
        yield Progress(total, total, "done")
        finished = True
    finally:
        report.cancelled = not finished
        library.finish_run(run_id, cancelled=report.cancelled)
    return report
