"""The Library tab: import files and folders, browse the documents, inspect and compare
how they are chunked. All disk work runs on workers; store writes go through the one
"store" queue so they happen in order."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.events import Topic
from desktop.progress import Progress
from desktop.resources import resource
from desktop.text import plural
from desktop.ui.common.dialogs import Confirm, ask
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.events import EventRelay
from desktop.ui.common.menus import command, command_button, tab_menu
from desktop.ui.common.table_model import RECORD_ROLE, record_table
from desktop.ui.library.index_bar import IndexBar
from desktop.ui.library.models import DocumentFilterProxy, DocumentTableModel
from desktop.workers import STARTUP_QUEUE, STORE_QUEUE, TaskError, TaskManager, Worker

if TYPE_CHECKING:
    # The chunker, the loaders and the inspector pull numpy and the parsers: the tab shows
    # without them, and its views are built once a worker has imported them.
    from desktop.context import AppContext
    from desktop.library.chunking import ChunkingStrategy
    from desktop.library.importer import ImportReport
    from desktop.library.rechunk import RechunkPlan
    from desktop.library.service import (
        ChunkingSettings,
        DocumentContent,
        LibraryService,
        LibrarySnapshot,
    )
    from desktop.ui.library.import_report import ImportReportDialog
    from desktop.ui.library.inspector import ChunkInspector, CompareView

VIEWS_MODULE = "desktop.ui.library.inspector"


def _placeholder() -> QWidget:
    label = QLabel("Select a document to see how it is chunked.")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


log = logging.getLogger(__name__)


class LibraryTab(QWidget):
    refreshed = Signal()  # the table shows the library as it is now

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        report_error: Callable[[str, TaskError], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.tasks = tasks
        self.report_error = report_error
        self.confirm: Confirm = ask(self)
        self.choose_paths: Callable[[str], list[Path]] = self._choose_paths
        self.snapshot: LibrarySnapshot | None = None
        self.last_report: ImportReport | None = None
        self._import_worker: Worker | None = None
        self._open: DocumentContent | None = None
        self.setAcceptDrops(True)
        self.events = EventRelay(context.events, self)
        self._menu: QMenu | None = None

        # -- commands (the Library menu while this tab is shown) ----------------------------
        self.import_files_action = command(self, "Import files…", self.import_files, "Ctrl+O")
        self.import_folder_action = command(
            self, "Import folder…", self.import_folder, "Ctrl+Shift+O"
        )
        self.sample_action = command(
            self,
            "Load the sample library",
            self.load_samples,
            None,
            "A fictional company's manuals",
        )
        self.rescan_action = command(
            self, "Rescan", self.rescan, "F5", "Re-check every source file: added, changed, missing"
        )
        self.delete_action = command(
            self,
            "Delete",
            self.delete_selected,
            QKeySequence.StandardKey.Delete,
            "Remove the selected documents from the library",
        )
        self.export_action = command(
            self, "Export chunks…", self.export_library_chunks, None, "All chunks as JSONL"
        )
        self.find_action = command(
            self, "Filter documents", lambda: self.search.setFocus(), QKeySequence.StandardKey.Find
        )
        # OCR for this session's imports; its default is the ocr_enabled setting.
        self.ocr_action = command(
            self,
            "Read scans with OCR",
            lambda: None,
            None,
            "Read scanned PDF pages and images with the bundled offline OCR (slower)",
        )
        self.ocr_action.setCheckable(True)
        self.ocr_action.setChecked(context.settings.ocr_enabled)
        self.index_action = command(
            self,
            "Index library",
            lambda: self.index_bar.index(),
            "Ctrl+I",
            "Embed the chunks that have no vector yet",
        )

        # -- toolbar ------------------------------------------------------------------
        self.import_files_button = command_button(self.import_files_action)
        self.import_folder_button = command_button(self.import_folder_action)
        self.rescan_button = command_button(self.rescan_action)
        self.delete_button = command_button(self.delete_action)
        self.export_button = command_button(self.export_action)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter documents (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        toolbar = QHBoxLayout()
        for button in (
            self.import_files_button,
            self.import_folder_button,
            self.rescan_button,
            self.delete_button,
            self.export_button,
        ):
            toolbar.addWidget(button)
        toolbar.addStretch(1)
        toolbar.addWidget(self.search, 1)

        self.index_bar = IndexBar(
            context.retrieval, tasks, self.events, report_error, context.save_settings, auto=True
        )
        self.index_bar.status_changed.connect(lambda _status: self._show_totals())

        # -- documents ----------------------------------------------------------------
        self.model = DocumentTableModel(self)
        self.proxy = DocumentFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = record_table(
            self.proxy,
            stretch=DocumentTableModel.TITLE,
            samples=("markdown", "999", "9999", "99,999", "2026-12-31", "missing"),
            sort_column=DocumentTableModel.TITLE,
            many=True,
        )
        # Many titles share a beginning ("Lumenfold Sync – …"): keep both ends visible.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)

        self.empty = EmptyState(
            "Your library is empty",
            "Import the documents that hold your domain knowledge: text, Markdown, HTML, "
            "PDF (scans too, read with OCR), Word, PowerPoint, Excel, OpenDocument, e-mail, "
            "EPUB, RTF, CSV, JSON, images, logs or source code, or whole folders. You can "
            "also drop them here. "
            "They are then indexed for search with the bundled offline model: no key, "
            "nothing leaves this computer.",
        )
        self.empty.add_action("Import files…", self.import_files)
        self.empty.add_action("Import folder…", self.import_folder)
        self.sample_button = self.empty.add_action("Load the sample library", self.load_samples)
        self.documents_stack = QStackedWidget()
        self.documents_stack.addWidget(self.empty)
        self.documents_stack.addWidget(self.table)

        # -- document views ---------------------------------------------------------------
        self.text_view = QPlainTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setPlaceholderText("Select a document to read its extracted text.")
        self._inspector: ChunkInspector | None = None
        self._compare: CompareView | None = None
        self.views = QTabWidget()
        self.views.addTab(_placeholder(), "Chunk inspector")
        self.views.addTab(self.text_view, "Extracted text")
        self.views.addTab(_placeholder(), "Compare strategies")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.documents_stack)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([480, 720])

        # -- progress and report ------------------------------------------------------------
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(320)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel_import)
        self.report_label = QLabel()
        self.report_button = QPushButton("Import report…")
        self.report_button.clicked.connect(self.show_report)
        self.totals_label = QLabel()
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress_label)
        bottom.addWidget(self.progress_bar)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.report_label, 1)
        bottom.addWidget(self.report_button)
        bottom.addWidget(self.totals_label)
        self._set_importing(False)
        self.report_button.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(self.index_bar)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.search.textChanged.connect(self.proxy.set_search)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.views.currentChanged.connect(self._view_changed)
        self.events.on(Topic.LIBRARY, self.refresh, self)
        self.refresh()
        # After the tabs' modules (one start-up import at a time: two at once would take
        # the GIL from the GUI thread while it builds and paints).
        worker = self.tasks.run(
            lambda: importlib.import_module(VIEWS_MODULE),
            title="Preparing the chunk inspector",
            queue=STARTUP_QUEUE,
        )
        worker.signals.finished.connect(self._ensure_views)

    # -- the chunk inspector and the comparison, built once their modules are in -----------

    @property
    def _chunking(self) -> ChunkingSettings | None:
        return self.snapshot.chunking if self.snapshot is not None else None

    def _ensure_views(self) -> None:
        if self._inspector is not None:
            return
        from desktop.library.importer import DEFAULT_STRATEGY
        from desktop.ui.library.inspector import ChunkInspector

        encoding = self._chunking.encoding if self._chunking else "cl100k_base"
        strategy = self._chunking.strategy if self._chunking else DEFAULT_STRATEGY
        self._inspector = ChunkInspector(self.tasks, encoding, DEFAULT_STRATEGY)
        self._inspector.set_library_settings(strategy, encoding)
        self._inspector.clear()
        self._inspector.apply_requested.connect(self.apply_strategy)
        self._inspector.export_requested.connect(self.export_document_chunks)
        self._put_view(0, self._inspector, "Chunk inspector")

    def _ensure_compare(self) -> None:
        """The comparison is built the first time it is looked at (one slice of work on
        the GUI thread at a time)."""
        if self._compare is not None:
            return
        self._ensure_views()
        from desktop.library.chunking import FixedWords
        from desktop.library.importer import DEFAULT_STRATEGY
        from desktop.ui.library.inspector import CompareView

        encoding = self._chunking.encoding if self._chunking else "cl100k_base"
        self._compare = CompareView(self.tasks, encoding, FixedWords(), DEFAULT_STRATEGY)
        self._put_view(2, self._compare, "Compare strategies")

    def _put_view(self, index: int, widget: QWidget, title: str) -> None:
        current = self.views.currentIndex()
        self.views.blockSignals(True)
        old = self.views.widget(index)
        self.views.removeTab(index)
        self.views.insertTab(index, widget, title)
        old.deleteLater()
        self.views.setCurrentIndex(current)
        self.views.blockSignals(False)

    @property
    def inspector(self) -> ChunkInspector:
        self._ensure_views()
        assert self._inspector is not None
        return self._inspector

    @property
    def compare(self) -> CompareView:
        self._ensure_compare()
        assert self._compare is not None
        return self._compare

    def menu(self) -> QMenu:
        """The Library menu, shown in the menu bar while this tab is."""
        if self._menu is None:
            self._menu = tab_menu(
                "&Library",
                self,
                (
                    self.import_files_action,
                    self.import_folder_action,
                    self.sample_action,
                    self.ocr_action,
                ),
                (self.rescan_action, self.delete_action, self.find_action),
                (self.index_action, self.export_action),
            )
        return self._menu

    # -- loading -----------------------------------------------------------------------

    def _service(self) -> LibraryService:
        """Only called on workers: opening the workspace touches the disk."""
        return self.context.library()

    def refresh(self, select_id: int | None = None) -> Worker:
        worker = self.tasks.run(lambda: self._service().snapshot(), title="Loading the library")
        worker.signals.result.connect(lambda snap: self._show_snapshot(snap, select_id))
        worker.signals.error.connect(lambda e: self.report_error("Loading the library", e))
        return worker

    def _show_snapshot(self, snapshot: LibrarySnapshot, select_id: int | None) -> None:
        selected = select_id or (self._open.document.id if self._open else None)
        self.snapshot = snapshot
        self.model.set_documents(snapshot.documents)
        self.documents_stack.setCurrentWidget(self.table if snapshot.documents else self.empty)
        self._show_totals()
        chunking = snapshot.chunking
        if self._inspector is not None:
            self._inspector.set_library_settings(chunking.strategy, chunking.encoding)
        if self._compare is not None:
            self._compare.encoding = chunking.encoding
        for action in (self.rescan_action, self.delete_action, self.export_action):
            action.setEnabled(bool(snapshot.documents) and self._import_worker is None)
        if not (selected is not None and self.select_document(selected)) and (
            self._open and self.model.row_of(self._open.document.id) is None
        ):
            self._open = None
            if self._inspector is not None:
                self._inspector.clear()
            self.text_view.clear()
        self.refreshed.emit()

    def _show_totals(self) -> None:
        if self.snapshot is None:
            return
        documents, chunks, tokens = self.snapshot.totals
        text = f"{plural(documents, 'document')} · {plural(chunks, 'chunk')} · {tokens:,} tokens"
        status = self.index_bar.status
        if status is not None and status.chunks == chunks and chunks:
            text += f" · {status.embedded:,} embedded"
        self.totals_label.setText(text)

    def select_document(self, document_id: int) -> bool:
        row = self.model.row_of(document_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)
        return True

    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [self.proxy.data(index, RECORD_ROLE).id for index in rows]

    def _selection_changed(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return
        document_id = ids[0]
        if (
            self._open
            and self._open.document.id == document_id
            and self.snapshot
            and (self._open.document in self.snapshot.documents)
        ):
            return
        worker = self.tasks.run(
            lambda: self._service().content(document_id), title="Opening the document"
        )
        worker.signals.result.connect(self._show_document)
        worker.signals.error.connect(lambda e: self.report_error("Opening the document", e))

    def _show_document(self, content: DocumentContent) -> None:
        self._open = content
        doc = content.document
        pages = f", {doc.page_count} pages" if doc.page_count else ""
        header = (
            f"{doc.title}\n{doc.source_path}\n{doc.format}{pages}, {doc.size_bytes:,} "
            f"bytes, {doc.chunk_count} chunks, {doc.token_count:,} tokens\n"
            f"sha256 {doc.content_hash}\n\n"
        )
        self.text_view.setPlainText(header + content.text)
        from desktop.ui.library.inspector import OpenDocument

        opened = OpenDocument(doc.id, doc.title, content.text, content.pages, content.ocr)
        self.inspector.set_document(opened, content.chunks)
        if self._compare is not None and self.views.currentWidget() is self._compare:
            self._compare.set_document(opened)
        self._pending_offsets()

    def _view_changed(self) -> None:
        """The comparison is built and computed only when it is looked at."""
        if self.views.currentIndex() == 2:
            self._ensure_compare()
        doc = self._open
        if self._compare is None or self.views.currentWidget() is not self._compare or doc is None:
            return
        from desktop.ui.library.inspector import OpenDocument

        if self.compare.document is None or self.compare.document.document_id != doc.document.id:
            self.compare.set_document(
                OpenDocument(doc.document.id, doc.document.title, doc.text, doc.pages, doc.ocr)
            )

    def show_chunk(self, document_id: int, start: int, end: int) -> None:
        """Open a document in the inspector with the chunk at these offsets selected
        (from the Chat tab's sources)."""
        self._wanted_offsets = (document_id, start, end)
        self.views.setCurrentWidget(self.inspector)
        if self._open and self._open.document.id == document_id:
            self._pending_offsets()
        else:
            self.search.clear()
            self.select_document(document_id)

    def _pending_offsets(self) -> None:
        wanted = getattr(self, "_wanted_offsets", None)
        if wanted and self._open and self._open.document.id == wanted[0]:
            self.inspector.show_stored()
            self.inspector.panel.select_offsets(wanted[1], wanted[2])
            self._wanted_offsets = None

    # -- importing -----------------------------------------------------------------------

    def _get_ready_to_import(self, paths: Sequence[Path] | None = None) -> None:
        """The reading processes' server starts while the dialog is open, or while files
        are dragged over the tab (for a folder or many files: the service decides), on a
        worker: it starts a process, and looks at the files."""

        def start() -> None:
            from desktop.library.service import LibraryService

            LibraryService.get_ready_to_import(paths)

        self.tasks.run(start, title="Getting ready to import")

    def _choose_paths(self, kind: str) -> list[Path]:
        if kind == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Import a folder")
            return [Path(folder)] if folder else []
        from desktop.library.loaders import SUPPORTED_EXTENSIONS

        patterns = " ".join(f"*{ext}" for ext in sorted(SUPPORTED_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import files", "", f"Documents ({patterns});;All files (*)"
        )
        return [Path(f) for f in files]

    def import_files(self) -> None:
        self._import_chosen("files")

    def import_folder(self) -> None:
        self._import_chosen("folder")

    def _import_chosen(self, kind: str) -> None:
        self._get_ready_to_import()
        paths = self.choose_paths(kind)
        if paths:
            self.import_paths(paths)

    def load_samples(self) -> None:
        self.import_paths([resource("samples")])

    def import_paths(self, paths: Sequence[Path]) -> Worker | None:
        ocr = self.ocr_action.isChecked()
        return self._run_import(
            lambda: self._service().import_paths(list(paths), ocr=ocr), "Importing"
        )

    def rescan(self) -> Worker | None:
        ocr = self.ocr_action.isChecked()
        return self._run_import(lambda: self._service().rescan(ocr=ocr), "Rescanning")

    def _run_import(self, operation: Callable[[], object], title: str) -> Worker | None:
        if self._import_worker is not None:
            return None
        worker = Worker(operation, title=title)
        worker.signals.progress.connect(self._import_progress)
        worker.signals.result.connect(self._import_finished)
        worker.signals.cancelled.connect(lambda: self._import_ended(cancelled=True))
        worker.signals.error.connect(lambda e: self.report_error(title, e))
        worker.signals.finished.connect(self._import_done)
        self._import_worker = worker
        self._set_importing(True, title)
        self.tasks.submit(worker, queue=STORE_QUEUE)
        return worker

    def _set_importing(self, running: bool, title: str = "") -> None:
        for widget in (self.progress_label, self.progress_bar, self.cancel_button):
            widget.setVisible(running)
        if running:
            self.progress_label.setText(f"{title}…")
            self.progress_bar.setRange(0, 0)
            self.cancel_button.setEnabled(True)
        for action in (
            self.import_files_action,
            self.import_folder_action,
            self.rescan_action,
            self.delete_action,
            self.sample_action,
        ):
            action.setEnabled(not running)
        self.sample_button.setEnabled(not running)

    def _import_progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(progress.done)
            self.progress_bar.setFormat(f"{progress.done} / {progress.total} files")
        self.progress_label.setText(progress.message)

    def cancel_import(self) -> None:
        if self._import_worker is not None:
            self._import_worker.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling after the current file…")

    def _import_finished(self, report: ImportReport) -> None:
        self.last_report = report
        self.report_label.setText(f"Last import: {report.summary()}")
        self.report_button.show()
        if report.skipped:
            self.report_label.setStyleSheet("color:#8a5300;")
        else:
            self.report_label.setStyleSheet("")

    def _import_ended(self, *, cancelled: bool) -> None:
        if cancelled:
            self.report_label.setText(
                "Import cancelled: the files imported before the cancel are in the library."
            )

    def _import_done(self) -> None:
        self._import_worker = None
        self._set_importing(False)

    def show_report(self) -> ImportReportDialog | None:
        if self.last_report is None:
            return None
        from desktop.ui.library.import_report import ImportReportDialog

        dialog = ImportReportDialog(self.last_report, self)
        dialog.show()
        return dialog

    # -- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and all(url.isLocalFile() for url in urls) and self._import_worker is None:
            event.acceptProposedAction()
            self._get_ready_to_import([Path(url.toLocalFile()) for url in urls])

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls()]
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths)

    # -- delete, re-chunk, export ----------------------------------------------------------

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        names = ", ".join(
            self.proxy.data(i, RECORD_ROLE).title
            for i in self.table.selectionModel().selectedRows()[:3]
        )
        more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        if not self.confirm(
            "Delete documents",
            f"Remove {names}{more} from the library, with their chunks and everything "
            "derived from them? The files on disk are not touched; import them again to "
            "bring them back.",
        ):
            return
        worker = self.tasks.run(
            lambda: self._service().delete(ids), title="Deleting", queue=STORE_QUEUE
        )
        worker.signals.error.connect(lambda e: self.report_error("Deleting", e))

    def apply_strategy(self, strategy: ChunkingStrategy) -> None:
        service = self._service()
        worker = self.tasks.run(
            service.plan_rechunk, strategy, title="Planning the re-chunk", queue=STORE_QUEUE
        )
        worker.signals.result.connect(self._confirm_rechunk)
        worker.signals.error.connect(lambda e: self.report_error("Planning the re-chunk", e))

    def _confirm_rechunk(self, plan: RechunkPlan) -> None:
        if not self.confirm("Apply to library", plan.describe() + "\n\nApply?"):
            return
        worker = self.tasks.run(
            lambda: self._service().apply_rechunk(plan),
            title="Re-chunking the library",
            queue=STORE_QUEUE,
        )
        worker.signals.result.connect(
            lambda diff: self.report_label.setText(
                f"Re-chunked: {diff.changed:,} chunks changed, {diff.kept:,} kept."
            )
        )
        worker.signals.error.connect(lambda e: self.report_error("Re-chunking", e))
        worker.signals.finished.connect(self._after_rechunk)

    def _after_rechunk(self) -> None:
        self._open = None
        self.refresh(select_id=self.selected_ids()[0] if self.selected_ids() else None)

    def _export(self, document_ids: list[int] | None, suggested: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chunks", suggested, "JSON Lines (*.jsonl)"
        )
        if not path:
            return
        worker = self.tasks.run(
            lambda: self._service().export_chunks(Path(path), document_ids),
            title="Exporting chunks",
        )
        worker.signals.result.connect(
            lambda n: self.report_label.setText(f"Exported {n:,} chunks to {path}")
        )
        worker.signals.error.connect(lambda e: self.report_error("Exporting chunks", e))

    def export_library_chunks(self) -> None:
        self._export(None, "library-chunks.jsonl")

    def export_document_chunks(self) -> None:
        if self._open is not None:
            stem = Path(self._open.document.source_path).stem
            self._export([self._open.document.id], f"{stem}-chunks.jsonl")
