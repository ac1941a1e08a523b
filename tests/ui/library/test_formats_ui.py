"""The import report names every file not imported, and the chunk inspector marks the
text OCR read with its confidence (issue 17, points 2 and 3)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop.library.chunking import RecursiveTokens, chunk_text
from desktop.library.importer import FileOutcome, ImportReport
from desktop.library.preview import view_of
from desktop.library.service import OcrSpan, ocr_spans
from desktop.ui.library.chunk_view import OCR_COLOUR, OCR_LOW_COLOUR
from desktop.ui.library.import_report import ImportReportDialog
from desktop.ui.library.inspector import ChunkInspector, OpenDocument
from desktop.workers import TaskManager


def test_the_report_lists_failures_files_passed_over_and_warnings(qtbot: QtBot) -> None:
    report = ImportReport(
        run_id=1,
        outcomes=[
            FileOutcome("/docs/a.md", "added", chunks=3, document_id=1),
            FileOutcome("/docs/scan.png", "skipped", "OCR found no text on the image"),
        ],
        passed_over=[FileOutcome("/docs/photo.heic", "ignored", "unsupported format “.heic”")],
        warnings=[("/docs/locked", "cannot list the folder (permission denied)")],
        ignored=1,
    )
    dialog = ImportReportDialog(report)
    qtbot.addWidget(dialog)
    assert sorted(dialog.rows()) == [
        ("/docs/a.md", "added", ""),
        ("/docs/locked", "warning", "cannot list the folder (permission denied)"),
        ("/docs/photo.heic", "not imported", "unsupported format “.heic”"),
        ("/docs/scan.png", "skipped", "OCR found no text on the image"),
    ]
    summary = dialog.summary.text()
    assert "1 other file not imported" in summary and "1 warning" in summary
    assert "1 other files" not in summary and "1 warnings" not in summary  # singular


def test_the_inspector_marks_ocr_text_and_names_each_page_confidence(qtbot: QtBot) -> None:
    typed = "Typed first page about backups."
    scanned = "Refunds take 14 days. Credits are 5% of the fee."
    blurry = "Smudged lines of the third page."
    text = f"{typed}\n\n{scanned}\n\n{blurry}"
    pages = (0, len(typed) + 2, len(typed) + len(scanned) + 4)
    metadata = {
        "ocr": [
            {"page": 2, "start": pages[1], "end": pages[1] + len(scanned), "confidence": 0.97},
            {"page": 3, "start": pages[2], "end": len(text), "confidence": 0.62},
        ]
    }
    spans = ocr_spans(metadata)
    assert spans == (
        OcrSpan(pages[1], pages[1] + len(scanned), 2, 0.97),
        OcrSpan(pages[2], len(text), 3, 0.62),
    )
    tasks = TaskManager()
    try:
        inspector = ChunkInspector(tasks, "cl100k_base", RecursiveTokens(16, 0))
        qtbot.addWidget(inspector)
        chunks = chunk_text(text, RecursiveTokens(16, 0), pages=pages)
        inspector.set_document(OpenDocument(7, "scan", text, pages, spans), chunks)
        assert inspector.panel.text_view.ocr_marks() == [
            (pages[1], pages[1] + len(scanned), OCR_COLOUR.name()),
            (pages[2], len(text), OCR_LOW_COLOUR.name()),
        ]
        label = inspector.ocr_label.text()
        assert not inspector.ocr_label.isHidden()
        assert "page 2 (97%)" in label and "page 3 (62%)" in label
        assert "1 below 90%" in label
        # The chunk colours are still drawn under the OCR marks.
        drawn = inspector.panel.text_view.highlighted_spans()
        assert [(s, e) for s, e, _ in drawn][: len(chunks)] == [(c.start, c.end) for c in chunks]
        # A document without OCR shows no line and no marks.
        inspector.set_document(OpenDocument(8, "typed", typed, ()), view_of([], typed).chunks)
        assert inspector.ocr_label.isHidden()
        assert inspector.panel.text_view.ocr_marks() == []
    finally:
        tasks.shutdown()


def test_path_is_shown_for_attachments(tmp_path: Path) -> None:
    """An attachment's source path names its message: "mail.eml › report.pdf"."""
    from desktop.library.importer import PART_SEPARATOR

    assert f"{tmp_path / 'mail.eml'}{PART_SEPARATOR}report.pdf".endswith("mail.eml › report.pdf")


def test_the_library_menu_turns_ocr_off_for_the_next_imports(
    qtbot: QtBot, app_context, tasks: TaskManager, tmp_path: Path
) -> None:
    """The per-import OCR toggle: its default is the ocr_enabled setting."""
    from desktop.ui.library.library_tab import LibraryTab
    from tests.helpers.format_files import image_bytes, render_page

    errors: list = []
    tab = LibraryTab(app_context, tasks, lambda title, e: errors.append((title, e)))
    qtbot.addWidget(tab)
    qtbot.waitUntil(lambda: tab.snapshot is not None, timeout=5000)
    assert tab.ocr_action.isCheckable() and tab.ocr_action.isChecked()
    assert tab.ocr_action in tab.menu().actions()
    page = tmp_path / "page.png"
    page.write_bytes(image_bytes(render_page(lines=["A scan."])))
    tab.ocr_action.setChecked(False)
    assert tab.import_paths([page]) is not None
    qtbot.waitUntil(lambda: tab._import_worker is None, timeout=60_000)
    report = tab.last_report
    assert report is not None
    assert [(o.outcome, o.reason) for o in report.outcomes] == [
        ("skipped", "an image: OCR is off for this import, so it has no text to read")
    ]
    assert errors == []
