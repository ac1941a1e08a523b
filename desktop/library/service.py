"""The library as the Library tab and ``ragtune`` commands use it: one object that knows
the workspace, the chunking settings and the import options. Every method does disk
work, so the UI calls them on workers."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from desktop.events import EventBus, Topic
from desktop.library.chunking import ChunkingStrategy, strategy_from_params, strategy_params
from desktop.library.export import export_chunks as _export_chunks
from desktop.library.importer import (
    DEFAULT_STRATEGY,
    ImportOptions,
    ImportReport,
    start_reading_server,
)
from desktop.library.importer import import_paths as _import_paths
from desktop.library.importer import rescan as _rescan
from desktop.library.rechunk import RechunkPlan
from desktop.library.rechunk import apply_rechunk as _apply_rechunk
from desktop.library.rechunk import plan_rechunk as _plan_rechunk
from desktop.library.repository import ChunkDiff, DocumentRecord, Library, StoredChunk
from desktop.progress import Progress
from desktop.settings import Settings
from desktop.tokens import encoding_for_model, get_tokenizer
from desktop.workspace import Workspace


@dataclass(frozen=True)
class ChunkingSettings:
    strategy: ChunkingStrategy
    encoding: str


@dataclass(frozen=True)
class LibrarySnapshot:
    documents: list[DocumentRecord]
    chunking: ChunkingSettings
    totals: tuple[int, int, int]


@dataclass(frozen=True)
class DocumentContent:
    document: DocumentRecord
    text: str
    pages: tuple[int, ...]
    chunks: list[StoredChunk]

    @property
    def ocr(self) -> tuple[OcrSpan, ...]:
        """The parts of the text read by OCR (the inspector marks them)."""
        return ocr_spans(self.document.metadata)


@dataclass(frozen=True)
class OcrSpan:
    """Text read by OCR: a page's span of the document and how sure the reading was."""

    start: int
    end: int
    page: int
    confidence: float


def ocr_spans(metadata: dict[str, object]) -> tuple[OcrSpan, ...]:
    spans = []
    for entry in metadata.get("ocr") or ():  # type: ignore[attr-defined]
        try:
            spans.append(
                OcrSpan(
                    int(entry["start"]),
                    int(entry["end"]),
                    int(entry["page"]),
                    float(entry["confidence"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(spans)


class LibraryService:
    """The library's front door: the Library tab and ``ragtune import|documents|chunks``
    call it. Changes are announced on ``events`` (``Topic.LIBRARY``) once written."""

    def __init__(
        self, workspace: Workspace, settings: Settings, events: EventBus | None = None
    ) -> None:
        self.library = Library(workspace)
        self.settings = settings
        self.events = events or EventBus()

    def chunking(self) -> ChunkingSettings:
        """The strategy the library's chunks were made with (the default until the user
        applies another), and the tokenizer of the embedding model."""
        config = self.library.chunking_config()
        if config:
            params = {k: v for k, v in config.items() if k != "encoding"}
            try:
                strategy = strategy_from_params(params)
            except ValueError:
                strategy = DEFAULT_STRATEGY
            return ChunkingSettings(strategy, str(config.get("encoding") or self._encoding()))
        return ChunkingSettings(DEFAULT_STRATEGY, self._encoding())

    def _encoding(self) -> str:
        return encoding_for_model(self.settings.embedding_model)

    def options(self, *, ocr: bool | None = None, processes: int | None = None) -> ImportOptions:
        """Import options from the settings; ``ocr`` overrides the OCR setting for one
        import (the import dialog's toggle, ``ragtune import --ocr/--no-ocr``);
        ``processes`` reads in that many processes whatever the number of files (0:
        on a thread; ``ragtune import --processes``)."""
        chunking = self.chunking()
        settings = self.settings
        options = ImportOptions(
            max_bytes=int(settings.max_import_mb * 1024 * 1024),
            strategy=chunking.strategy,
            encoding=chunking.encoding,
            max_unzipped_bytes=int(settings.max_unzipped_mb * 1024 * 1024),
            max_text_chars=int(settings.max_text_chars),
            ocr=settings.ocr_enabled if ocr is None else ocr,
        )
        if processes is not None:
            options = replace(options, processes=processes, process_min_files=0)
        return options

    def documents(self) -> list[DocumentRecord]:
        return self.library.documents()

    def find_document(self, reference: str) -> DocumentRecord | None:
        """By id, source path, title or file name (the commands' DOCUMENT argument)."""
        return self.library.find_document(reference)

    def chunks(self, document_id: int | None = None) -> list[StoredChunk]:
        return self.library.chunks(document_id)

    def snapshot(self) -> LibrarySnapshot:
        return LibrarySnapshot(self.library.documents(), self.chunking(), self.library.totals())

    def totals(self) -> tuple[int, int, int]:
        """(documents, chunks, tokens) in the library."""
        return self.library.totals()

    def text(self, document_id: int) -> tuple[str, tuple[int, ...]]:
        """A document's text and its page offsets, without its chunks."""
        return self.library.text(document_id)

    def content(self, document_id: int) -> DocumentContent:
        document = self.library.document(document_id)
        if document is None:
            raise KeyError(f"document {document_id} is no longer in the library")
        text, pages = self.library.text(document_id)
        return DocumentContent(document, text, pages, self.library.chunks(document_id))

    @staticmethod
    def get_ready_to_import(
        paths: Sequence[Path] | None = None, *, processes: int | None = None
    ) -> None:
        """Start the reading processes' server before an import: while the user chooses
        what to import (the Library tab's import dialogs), or while ``ragtune import``
        opens its workspace, so that a large import reads at full speed from its first
        file. A few milliseconds here; the server's start-up runs in itself. ``paths``:
        only if they may make an import read in processes (a folder, or many files)."""
        if processes == 0:
            return
        if paths is not None and not (
            processes
            or len(paths) >= ImportOptions.process_min_files
            or any(path.is_dir() for path in paths)
        ):
            return
        start_reading_server()

    def import_paths(
        self, paths: Sequence[Path], *, ocr: bool | None = None, processes: int | None = None
    ) -> Generator[Progress, None, ImportReport]:
        options = self.options(ocr=ocr, processes=processes)
        if self.library.chunking_config() is None:
            self.library.set_chunking_config(
                {**strategy_params(options.strategy), "encoding": options.encoding}
            )
        try:
            return (yield from _import_paths(self.library, paths, options))
        finally:  # a cancelled import keeps the files it finished: others must hear of them
            self.events.publish(Topic.LIBRARY)

    def rescan(self, *, ocr: bool | None = None) -> Generator[Progress, None, ImportReport]:
        try:
            return (yield from _rescan(self.library, self.options(ocr=ocr)))
        finally:
            self.events.publish(Topic.LIBRARY)

    def delete(self, document_ids: Sequence[int]) -> int:
        try:
            for document_id in document_ids:
                self.library.delete_document(document_id)
        finally:
            self.events.publish(Topic.LIBRARY)
        return len(document_ids)

    def plan_rechunk(self, strategy: ChunkingStrategy) -> Generator[Progress, None, RechunkPlan]:
        """What applying ``strategy`` to every document would change; writes nothing."""
        encoding = self.chunking().encoding
        return (yield from _plan_rechunk(self.library, strategy, get_tokenizer(encoding)))

    def apply_rechunk(self, plan: RechunkPlan) -> ChunkDiff:
        try:
            return _apply_rechunk(self.library, plan)
        finally:
            self.events.publish(Topic.LIBRARY)

    def export_chunks(self, path: Path, document_ids: Sequence[int] | None = None) -> int:
        """Chunks as JSONL (the document's, or the whole library's); the count written."""
        return _export_chunks(self.library, path, document_ids)
