from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.library.chunking import (
    FixedWords,
    RecursiveTokens,
    Sentences,
    Structure,
    chunk_text,
    size_histogram,
)
from desktop.library.preview import HISTOGRAM_BINS
from desktop.library.service import LibraryService
from desktop.tokens import get_tokenizer
from desktop.ui.library.chunk_view import CHUNK_COLOURS, OVERLAP_COLOUR, overlaps
from desktop.ui.library.library_tab import LibraryTab
from desktop.ui.library.models import DocumentTableModel, heading_tooltip
from desktop.workers import TaskError, TaskManager
from tests.helpers.documents import write_mixed_folder, write_notes
from tests.helpers.responsiveness import Heartbeat


@pytest.fixture
def errors() -> list[tuple[str, TaskError]]:
    return []


@pytest.fixture
def tab(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, errors: list[tuple[str, TaskError]]
) -> LibraryTab:
    widget = LibraryTab(app_context, tasks, lambda title, e: errors.append((title, e)))
    widget.confirm = lambda title, text: True
    qtbot.addWidget(widget)
    widget.resize(1300, 800)
    widget.show()
    qtbot.waitUntil(lambda: widget.snapshot is not None, timeout=5000)
    return widget


def import_and_wait(qtbot: QtBot, tab: LibraryTab, paths: list[Path]) -> None:
    """Import, then wait for the table to show the result."""
    assert tab.import_paths(paths) is not None
    qtbot.waitUntil(lambda: tab._import_worker is None, timeout=60_000)
    with qtbot.waitSignal(tab.refreshed, timeout=10_000):
        tab.refresh()


def from_file_manager(kind: type, path: Path) -> tuple[Any, QMimeData]:
    """A drag entering the tab (``QDragEnterEvent``) or a drop (``QDropEvent``) of
    ``path``, with its data (which the event does not keep alive)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    position = QPoint(10, 10) if kind is QDragEnterEvent else QPointF(10, 10)
    buttons = (Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    return kind(position, Qt.DropAction.CopyAction, mime, *buttons), mime


def cell(tab: LibraryTab, title: str, column: int) -> str:
    for row in range(tab.model.rowCount()):
        if tab.model.document(row).title == title:
            return tab.model.data(tab.model.index(row, column))
    raise AssertionError(f"{title} is not in the table")


def test_empty_library_says_what_to_do(tab: LibraryTab) -> None:
    assert tab.documents_stack.currentWidget() is tab.empty
    assert "Import" in tab.empty.text_label.text()
    assert tab.sample_button.text() == "Load the sample library"


def test_importing_a_folder_lists_good_files_and_reports_bad_ones(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path, errors: list
) -> None:
    write_mixed_folder(tmp_path / "docs")
    import_and_wait(qtbot, tab, [tmp_path / "docs"])
    assert tab.documents_stack.currentWidget() is tab.table
    titles = {tab.model.document(r).title for r in range(tab.model.rowCount())}
    assert titles == {"notes", "Guide", "Pricing", "manual", "Refunds"}
    assert cell(tab, "manual", DocumentTableModel.PAGES) == "2"
    assert all(int(cell(tab, t, DocumentTableModel.CHUNKS)) >= 1 for t in titles)
    assert "5 added, 3 skipped" in tab.report_label.text()

    dialog = tab.show_report()
    assert dialog is not None
    rows = {Path(path).name: (result, reason) for path, result, reason in dialog.rows()}
    assert rows["corrupt.pdf"][0] == "skipped" and "corrupt" in rows["corrupt.pdf"][1]
    assert rows["binary.txt"][0] == "skipped" and "binary" in rows["binary.txt"][1]
    assert rows["notes.txt"] == ("added", "")
    dialog.close()
    assert errors == []


def test_the_import_dialogs_get_the_reading_processes_ready_while_they_are_open(
    qtbot: QtBot, tab: LibraryTab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large import reads in processes forked from a server: it starts while the user
    picks the folder, so the import reads at full speed from its first file."""
    ready: list[str] = []
    monkeypatch.setattr(
        LibraryService,
        "get_ready_to_import",
        staticmethod(lambda paths=None: ready.append("ready" if paths is None else "paths")),
    )
    shown: list[str] = []

    def choose(kind: str) -> list[Path]:
        shown.append(kind)
        return []  # the user cancels the dialog

    tab.choose_paths = choose
    tab.import_folder()
    tab.import_files()
    assert shown == ["folder", "files"]
    qtbot.waitUntil(lambda: ready == ["ready", "ready"], timeout=5_000)
    assert tab._import_worker is None  # nothing chosen: nothing imported


def test_dragging_a_folder_over_the_tab_gets_the_reading_processes_ready(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drag is held a moment before the drop: the server starts meanwhile, for what is
    dragged (the service starts it only for a folder or many files)."""
    asked: list[list[Path]] = []
    monkeypatch.setattr(
        LibraryService,
        "get_ready_to_import",
        staticmethod(lambda paths=None: asked.append(list(paths or []))),
    )
    event, _mime = from_file_manager(QDragEnterEvent, tmp_path)
    tab.dragEnterEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: asked == [[tmp_path]], timeout=5_000)


def test_a_thousand_files_import_with_a_responsive_window_and_cancel_keeps_whole_files(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path, app_context: AppContext
) -> None:
    text = "# Note {0}\n\nThe appliance number {0} syncs files. " * 5
    folder = write_notes(tmp_path / "thousand", range(1000), "note-{:04}.md", text)
    with Heartbeat() as heartbeat:
        worker = tab.import_paths([folder])
        assert worker is not None
        qtbot.waitUntil(lambda: tab.progress_bar.value() >= 150, timeout=60_000)
        assert tab.progress_bar.maximum() == 1000
        assert tab.cancel_button.isVisible()
        tab.cancel_button.click()
        qtbot.waitUntil(lambda: tab._import_worker is None, timeout=10_000)
    heartbeat.assert_kept_ticking()
    assert "cancelled" in tab.report_label.text()

    service = LibraryService(app_context.workspace, app_context.settings)
    documents = service.snapshot().documents
    assert 150 <= len(documents) < 1000
    assert all(d.chunk_count >= 1 for d in documents)  # nothing half-imported
    added = [e for e in service.library.events() if e.kind == "added"]
    assert len(added) == len(documents)
    qtbot.waitUntil(lambda: tab.model.rowCount() == len(documents), timeout=5000)


STRATEGIES = [
    FixedWords(size_words=40, overlap_words=10),
    Sentences(max_tokens=40),
    RecursiveTokens(chunk_tokens=30, overlap_tokens=8),
    Structure(max_tokens=60),
]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_the_inspector_shows_exactly_what_the_chunker_makes(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path, strategy: object
) -> None:
    text = (
        "# Sync guide\n\nThe Hub keeps every Shelf in step. Conflicts keep both copies. "
        "Ghost files download when opened.\n\n## Limits\n\n"
        + " ".join(f"Limit number {i} applies to large offices." for i in range(30))
        + "\n\n## 日本語\n\n同期は五分ごとに実行されます。"
        + "競合が発生した場合は両方のコピーを保持します。"
    )
    (tmp_path / "guide.md").write_text(text, encoding="utf-8")
    import_and_wait(qtbot, tab, [tmp_path / "guide.md"])
    assert tab.select_document(tab.model.document(0).id)
    qtbot.waitUntil(lambda: tab.inspector.document is not None, timeout=5000)

    tab.inspector.form.set_strategy(strategy)  # as if the user chose it
    tab.inspector.form._emit()
    panel = tab.inspector.panel
    qtbot.waitUntil(
        lambda: panel.view is not None and panel.view.strategy == strategy, timeout=5000
    )
    expected = chunk_text(text, strategy, tokenizer=get_tokenizer(tab.inspector.encoding))
    assert "Preview" in tab.inspector.mode_label.text()

    spans = [(c.start, c.end) for c in expected]
    drawn = panel.text_view.highlighted_spans()
    chunk_colours = {c.name() for c in CHUNK_COLOURS}
    assert [(s, e) for s, e, colour in drawn if colour in chunk_colours] == spans
    assert [(s, e) for s, e, colour in drawn if colour == OVERLAP_COLOUR.name()] == overlaps(spans)
    model = panel.table_model
    assert model.rowCount() == len(expected)
    for row, chunk in enumerate(expected):
        assert model.data(model.index(row, model.TOKENS)) == str(chunk.token_count)
        assert model.data(model.index(row, model.CHARS)) == str(chunk.end - chunk.start)
        tooltip = model.data(model.index(row, model.FIRST_WORDS), Qt.ItemDataRole.ToolTipRole)
        assert tooltip.startswith(heading_tooltip(chunk.heading_path))
    assert panel.histogram.bins == size_histogram(expected, HISTOGRAM_BINS)
    assert f"{len(expected):,} chunks" in panel.summary.text()


def test_apply_to_library_rechunks_every_document(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path
) -> None:
    (tmp_path / "long.txt").write_text(" ".join(f"word{i}" for i in range(1000)))
    import_and_wait(qtbot, tab, [tmp_path / "long.txt"])
    asked: list[str] = []
    tab.confirm = lambda title, text: asked.append(text) or True
    tab.apply_strategy(FixedWords(size_words=100))
    qtbot.waitUntil(lambda: cell(tab, "long", DocumentTableModel.CHUNKS) == "10", timeout=10_000)
    assert "10 added" in asked[0]
    assert tab.inspector.library_strategy == FixedWords(size_words=100)


def test_the_filter_narrows_the_table_as_the_user_types(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path
) -> None:
    write_mixed_folder(tmp_path / "docs")
    import_and_wait(qtbot, tab, [tmp_path / "docs"])
    qtbot.keyClicks(tab.search, "pdf")
    assert tab.proxy.rowCount() == 1
    tab.search.clear()
    qtbot.keyClicks(tab.search, "guide")
    assert tab.proxy.rowCount() == 1
    tab.search.clear()
    assert tab.proxy.rowCount() == 5


def test_sorting_by_chunks_is_numeric(qtbot: QtBot, tab: LibraryTab, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, words in (("a", 2000), ("b", 30), ("c", 600)):
        (docs / f"{name}.txt").write_text(" ".join(["word"] * words))
    import_and_wait(qtbot, tab, [docs])
    tab.table.sortByColumn(DocumentTableModel.CHUNKS, Qt.SortOrder.DescendingOrder)
    order = [tab.proxy.index(r, 0).data() for r in range(tab.proxy.rowCount())]
    assert order == ["a", "c", "b"]


def test_delete_removes_the_selected_documents(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path
) -> None:
    write_mixed_folder(tmp_path / "docs")
    import_and_wait(qtbot, tab, [tmp_path / "docs"])
    tab.table.selectRow(0)
    victim = tab.selected_ids()[0]
    tab.delete_selected()
    # Not waitSignal(refreshed): the import's own late refresh may emit it first.
    qtbot.waitUntil(lambda: tab.model.rowCount() == 4, timeout=5000)
    assert tab.model.row_of(victim) is None


def test_dropping_files_imports_them(qtbot: QtBot, tab: LibraryTab, tmp_path: Path) -> None:
    note = tmp_path / "dropped.md"
    note.write_text("# Dropped\n\nA file dragged from the file manager.")
    event, _mime = from_file_manager(QDropEvent, note)
    tab.dropEvent(event)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=10_000)
    assert tab.model.document(0).title == "Dropped"


def test_show_chunk_opens_the_document_at_the_chunk(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path
) -> None:
    write_mixed_folder(tmp_path / "docs")
    import_and_wait(qtbot, tab, [tmp_path / "docs"])
    service = LibraryService(tab.context.workspace, tab.context.settings)
    guide = next(d for d in service.snapshot().documents if d.title == "Guide")
    chunk = service.library.chunks(guide.id)[-1]
    tab.show_chunk(guide.id, chunk.start, chunk.end)
    panel = tab.inspector.panel
    qtbot.waitUntil(lambda: panel.table.currentIndex().row() == chunk.index, timeout=5000)
    assert panel.text_view.textCursor().position() == chunk.start


def test_documents_can_be_told_apart_and_the_inspector_names_its_document(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for topic in ("Installation", "Billing and invoices"):
        (docs / f"{topic}.md").write_text(
            f"# Lumenfold Sync – Administrator Handbook – {topic}\n\nText about {topic}."
        )
    import_and_wait(qtbot, tab, [docs])
    assert tab.table.textElideMode() == Qt.TextElideMode.ElideMiddle
    row = next(
        r for r in range(tab.model.rowCount()) if tab.model.document(r).title.endswith("invoices")
    )
    tooltip = tab.model.data(tab.model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert (
        tooltip.splitlines()[0] == "Lumenfold Sync – Administrator Handbook – Billing and invoices"
    )

    assert tab.select_document(tab.model.document(row).id)
    qtbot.waitUntil(lambda: "invoices" in tab.inspector.document_label.text(), timeout=5000)
    assert tab.inspector.document_label.text() == tab.model.document(row).title


def test_an_invalid_chunk_size_says_so_in_words_and_cannot_be_applied(
    qtbot: QtBot, tab: LibraryTab, tmp_path: Path
) -> None:
    (tmp_path / "guide.md").write_text("# Guide\n\n" + "Some words here. " * 200)
    import_and_wait(qtbot, tab, [tmp_path / "guide.md"])
    assert tab.select_document(tab.model.document(0).id)
    inspector = tab.inspector
    qtbot.waitUntil(lambda: inspector.document is not None, timeout=5000)
    size = inspector.form.spins["chunk_tokens"]
    size.setValue(100)  # a valid preview first: Apply becomes possible
    qtbot.waitUntil(lambda: inspector.apply_button.isEnabled(), timeout=10_000)
    inspector.form.spins["overlap_tokens"].setValue(150)
    assert not inspector.apply_button.isEnabled()  # at once, not after the debounce
    qtbot.waitUntil(lambda: inspector.form.error_label.isVisible(), timeout=2000)
    message = inspector.form.error_label.text()
    assert message == "The overlap (150 tokens) must be smaller than the size (100 tokens)."
    assert "_" not in message
