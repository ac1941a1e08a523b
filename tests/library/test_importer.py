from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from desktop.library.chunking import FixedWords, chunk_text
from desktop.library.export import export_chunks
from desktop.library.rechunk import apply_rechunk, plan_rechunk
from desktop.library.service import LibraryService
from desktop.progress import run_to_end
from desktop.tokens import get_tokenizer
from desktop.workspace import Workspace
from tests.helpers.documents import write_mixed_folder, write_notes
from tests.helpers.processes import children, running

ROOT = Path(__file__).resolve().parents[2]


def test_a_folder_imports_good_files_and_reports_bad_ones_with_reasons(
    service: LibraryService, tmp_path: Path
) -> None:
    expected = write_mixed_folder(tmp_path / "docs")
    (tmp_path / "docs" / "archive.xyz").write_bytes(b"\x00\x01 not a document")
    expected["image.png"] = "skipped"  # a PNG is read with OCR now; this one is broken
    report = run_to_end(service.import_paths([tmp_path / "docs"]))
    outcomes = {Path(o.path).name: o for o in report.outcomes}
    assert {name: o.outcome for name, o in outcomes.items()} == expected
    assert "corrupt" in outcomes["corrupt.pdf"].reason
    assert "binary" in outcomes["binary.txt"].reason
    assert outcomes["image.png"].reason == "corrupt or not an image (PNG, JPEG or TIFF)"
    assert report.ignored == 1  # archive.xyz: not a format the library reads, named:
    assert [(Path(o.path).name, o.reason) for o in report.passed_over] == [
        ("archive.xyz", "unsupported format “.xyz”")
    ]
    assert {Path(o.path).name for o in report.not_imported} == {
        "corrupt.pdf",
        "binary.txt",
        "image.png",
        "archive.xyz",
    }
    documents = {Path(d.source_path).name: d for d in service.snapshot().documents}
    assert set(documents) == {n for n, o in expected.items() if o == "added"}
    assert documents["manual.pdf"].page_count == 2
    assert all(d.chunk_count >= 1 and d.token_count > 0 for d in documents.values())
    assert documents["guide.md"].title == "Guide"


def test_the_writer_is_woken_as_soon_as_the_next_file_is_ready(tmp_path: Path) -> None:
    """The writer waits on the pipeline's messages (a slow file reports its pages there);
    it slept out a 0.1 s wait each time it was ahead of the readers, which made an import
    with one reader 8× slower (bench_import). A finished file now posts a wake-up."""
    from desktop.library.importer import _WAKE, ImportOptions, _Pipeline

    (tmp_path / "a.md").write_text("# A\n\nSome text.", encoding="utf-8")
    pipeline = _Pipeline([tmp_path / "a.md"], {}, ImportOptions(workers=1))
    try:
        future = pipeline.next_result()
        assert pipeline.messages.get(timeout=30) == _WAKE
        assert future.done() and future.result().document is not None
    finally:
        pipeline.close()


def test_reimporting_unchanged_files_changes_nothing(
    service: LibraryService, tmp_path: Path
) -> None:
    write_mixed_folder(tmp_path / "docs")
    run_to_end(service.import_paths([tmp_path / "docs"]))
    before = service.snapshot().documents
    chunk_ids = {d.id: service.library.chunk_ids(d.id) for d in before}
    report = run_to_end(service.import_paths([tmp_path / "docs"]))
    assert report.counts()["unchanged"] == 5
    after = service.snapshot().documents
    assert [(d.id, d.content_hash, d.updated_at) for d in after] == [
        (d.id, d.content_hash, d.updated_at) for d in before
    ]
    assert {d.id: service.library.chunk_ids(d.id) for d in after} == chunk_ids


def test_rescan_updates_only_the_edited_file_and_finds_new_and_missing_ones(
    service: LibraryService, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_mixed_folder(folder)
    run_to_end(service.import_paths([folder]))
    before = {Path(d.source_path).name: d for d in service.snapshot().documents}
    ids_before = {name: service.library.chunk_ids(d.id) for name, d in before.items()}

    (folder / "notes.txt").write_text("Sync now runs every minute.\n\nA new paragraph.")
    (folder / "page.html").unlink()
    (folder / "added.md").write_text("# New\n\nA document that appeared later.")
    report = run_to_end(service.rescan())

    outcomes = {Path(o.path).name: o.outcome for o in report.outcomes}
    assert outcomes == {
        "notes.txt": "updated",
        "page.html": "missing",
        "added.md": "added",
        "guide.md": "unchanged",
        "manual.pdf": "unchanged",
        "policy.docx": "unchanged",
        # still broken, and still reported:
        "corrupt.pdf": "skipped",
        "binary.txt": "skipped",
        "image.png": "skipped",
    }
    after = {Path(d.source_path).name: d for d in service.snapshot().documents}
    assert after["page.html"].status == "missing"
    assert after["notes.txt"].id == before["notes.txt"].id
    assert after["notes.txt"].content_hash != before["notes.txt"].content_hash
    for name in ("guide.md", "manual.pdf", "policy.docx"):
        assert service.library.chunk_ids(after[name].id) == ids_before[name]
        assert after[name].updated_at == before[name].updated_at


def test_cancel_keeps_finished_files_and_nothing_half_imported(
    service: LibraryService, tmp_path: Path
) -> None:
    folder = write_notes(
        tmp_path / "many", range(30), "doc{:02}.txt", lambda i: f"Document {i}. " * 50
    )
    operation = service.import_paths([folder])
    for seen, _ in enumerate(operation, start=1):
        if seen == 11:  # the 11th progress report comes before file 11 is read
            operation.close()  # what the worker does on cancel
            break
    documents = service.snapshot().documents
    assert len(documents) == 10
    assert all(d.chunk_count > 0 for d in documents)
    run = (
        service.library.workspace.connection()
        .execute("SELECT cancelled, finished_at FROM import_runs")
        .fetchone()
    )
    assert run["cancelled"] == 1 and run["finished_at"] is not None


_KILLED_IMPORT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from desktop.library.service import LibraryService
    from desktop.settings import Settings
    from desktop.workspace import Workspace

    service = LibraryService(Workspace(Path(sys.argv[1])), Settings())
    import multiprocessing
    for number, _ in enumerate(service.import_paths([Path(sys.argv[2])])):
        if number == 200:
            readers = [str(child.pid) for child in multiprocessing.active_children()]
            print("HALF_WAY", " ".join(readers), flush=True)
    """
)


def test_a_crash_mid_import_leaves_the_library_intact(tmp_path: Path) -> None:
    folder = write_notes(
        tmp_path / "many",
        range(400),
        "doc{:03}.md",
        lambda i: f"# Doc {i}\n\n" + f"Sentence {i}. " * 400,
    )
    database = tmp_path / "w.ragtune.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_IMPORT, str(database), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        half_way, *readers = proc.stdout.readline().split()
        assert half_way == "HALF_WAY"
        assert len(readers) >= 1  # 400 files: read in processes
        helpers = {*map(int, readers), *children(proc.pid)}
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # The reading processes, and their server, leave with their parent instead of
        # waiting forever.
        for _ in range(200):
            if not any(running(pid) for pid in helpers):
                break
            time.sleep(0.05)
        assert not [pid for pid in helpers if running(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
    with Workspace(database) as workspace:
        assert workspace.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        service = LibraryService(workspace, service_settings())
        documents = service.snapshot().documents
        # Commits are batched (every 200 files or 250 ms): the files of the batch the kill
        # interrupted are not there, every committed one is whole.
        assert 1 <= len(documents) < 400
        tokenizer = get_tokenizer(service.chunking().encoding)

        def assert_whole(document_ids: list[int]) -> None:
            for document_id in document_ids:
                text, pages = service.library.text(document_id)
                expected = chunk_text(
                    text, service.chunking().strategy, pages=pages, tokenizer=tokenizer
                )
                stored = service.library.chunks(document_id)
                assert [(c.start, c.end) for c in stored] == [(c.start, c.end) for c in expected]

        assert_whole([d.id for d in documents])
        committed = {d.source_path: (d.id, service.library.chunk_ids(d.id)) for d in documents}
        # Importing again is idempotent: the committed files are unchanged (same ids, same
        # chunks), the lost ones are added, nothing is doubled.
        report = run_to_end(service.import_paths([folder]))
        counts = report.counts()
        assert counts["unchanged"] == len(documents)
        assert counts["added"] == 400 - len(documents)
        after = service.snapshot().documents
        assert len(after) == len({d.source_path for d in after}) == 400
        for document in after:
            if document.source_path in committed:
                assert (document.id, service.library.chunk_ids(document.id)) == committed[
                    document.source_path
                ]
        assert_whole([d.id for d in after])


def service_settings():
    from desktop.settings import Settings

    return Settings()


def test_delete_removes_the_document_and_its_chunks(
    service: LibraryService, tmp_path: Path
) -> None:
    write_mixed_folder(tmp_path / "docs")
    run_to_end(service.import_paths([tmp_path / "docs"]))
    victim = service.snapshot().documents[0]
    service.delete([victim.id])
    assert victim.id not in {d.id for d in service.snapshot().documents}
    assert service.library.chunks(victim.id) == []
    count = (
        service.library.workspace.connection()
        .execute("SELECT COUNT(*) FROM chunks WHERE document_id = ?", (victim.id,))
        .fetchone()[0]
    )
    assert count == 0


def test_apply_to_library_keeps_the_ids_of_chunks_that_did_not_change(
    service: LibraryService, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "short.txt").write_text("Tiny document.")
    (folder / "long.txt").write_text(" ".join(f"word{i}" for i in range(2000)))
    run_to_end(service.import_paths([folder]))
    short = next(d for d in service.snapshot().documents if d.title == "short")
    short_ids = service.library.chunk_ids(short.id)
    tokenizer = get_tokenizer(service.chunking().encoding)
    plan = run_to_end(plan_rechunk(service.library, FixedWords(size_words=100), tokenizer))
    assert plan.diff.kept == 1  # the one-chunk document comes out the same
    assert plan.diff.added == 20
    assert "20 added" in plan.describe()
    apply_rechunk(service.library, plan)
    assert service.library.chunk_ids(short.id) == short_ids
    assert service.chunking().strategy == FixedWords(size_words=100)
    long_doc = next(d for d in service.snapshot().documents if d.title == "long")
    assert long_doc.chunk_count == 20


def test_a_document_of_hundreds_of_chunks_is_stored_whole_and_found_by_its_words(
    service: LibraryService, tmp_path: Path
) -> None:
    """Chunks go in many rows per statement (the full-text index writes its pending terms
    at each statement): more chunks than one statement holds are all kept, in order, and
    each is in the full-text index."""
    from desktop.retrieval.lexical import lexical_search

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.txt").write_text(
        "\n\n".join(f"Paragraph marker{i} " + "filler " * 60 for i in range(500))
    )
    run_to_end(service.import_paths([folder]))
    document = service.snapshot().documents[0]
    chunks = service.library.chunks(document.id)
    assert len(chunks) == document.chunk_count > 200  # three statements
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    workspace = service.library.workspace
    for i in (0, 250, 499):
        hits = lexical_search(workspace, f"marker{i}", 3, None)
        assert f"marker{i} " in next(c.text for c in chunks if c.id == hits[0].chunk_id)


def test_export_writes_one_json_object_per_chunk(service: LibraryService, tmp_path: Path) -> None:
    import json

    write_mixed_folder(tmp_path / "docs")
    run_to_end(service.import_paths([tmp_path / "docs"]))
    out = tmp_path / "out" / "chunks.jsonl"
    count = export_chunks(service.library, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == count == service.snapshot().totals[1]
    record = json.loads(lines[0])
    assert set(record) == {
        "document",
        "document_id",
        "source_path",
        "index",
        "start",
        "end",
        "tokens",
        "page",
        "headings",
        "text",
    }
    text, _ = service.library.text(record["document_id"])
    assert text[record["start"] : record["end"]] == record["text"]


def _small_scan(lines: list[str]):  # type: ignore[no-untyped-def]
    """A 4 x 2 inch page at 150 dpi with printed lines (quick to read)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (600, 300), "white")
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 24)
    except OSError:
        font = ImageFont.load_default(size=24)
    for number, line in enumerate(lines):
        draw.text((30, 40 + 45 * number), line, font=font, fill="black")
    return image


def test_ocr_reports_progress_page_by_page_and_a_cancel_stops_between_pages(
    service: LibraryService, tmp_path: Path
) -> None:
    from desktop.progress import Progress
    from tests.helpers.format_files import make_scanned_pdf

    pages = [_small_scan([f"Page {n} of the scan.", "Refunds take 14 days."]) for n in (1, 2, 3)]
    (tmp_path / "scan.pdf").write_bytes(make_scanned_pdf(pages))
    messages = [
        step.message
        for step in service.import_paths([tmp_path / "scan.pdf"])
        if isinstance(step, Progress)
    ]
    ocr = [m for m in messages if "OCR page" in m]
    assert ocr == [
        "scan.pdf: OCR page 1 (1 of 3 scanned)",
        "scan.pdf: OCR page 2 (2 of 3 scanned)",
        "scan.pdf: OCR page 3 (3 of 3 scanned)",
    ]
    [document] = service.snapshot().documents
    assert [entry["page"] for entry in document.metadata["ocr"]] == [1, 2, 3]
    assert "Page 2 of the scan." in service.library.text(document.id)[0]

    # Cancelled at the first page's message: the file is not imported, the run is marked.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "scan2.pdf").write_bytes(make_scanned_pdf(pages))
    operation = service.import_paths([tmp_path / "other"])
    for step in operation:
        if "OCR page 1" in step.message:
            operation.close()
            break
    assert [d.title for d in service.snapshot().documents] == [document.title]
    cancelled = (
        service.library.workspace.connection()
        .execute("SELECT cancelled FROM import_runs ORDER BY id DESC LIMIT 1")
        .fetchone()[0]
    )
    assert cancelled == 1


def _many(folder: Path, count: int, start: int = 0) -> None:
    write_notes(folder, range(start, start + count), "n{:03}.md", "# Note {0}\n\nText of note {0}.")


def test_new_files_written_together_keep_the_report_in_file_order(
    service: LibraryService, tmp_path: Path
) -> None:
    """New files are written in groups (one savepoint and statement for many); changed,
    unchanged and new files still appear in the report, and the library, in file order."""
    folder = tmp_path / "notes"
    _many(folder, 150)
    first = run_to_end(service.import_paths([folder]))
    assert [Path(o.path).name for o in first.outcomes] == [f"n{i:03}.md" for i in range(150)]
    assert all(o.outcome == "added" and o.document_id and o.chunks == 1 for o in first.outcomes)
    (folder / "n010.md").write_text("# Note 10\n\nChanged.", encoding="utf-8")
    _many(folder, 20, start=150)
    second = run_to_end(service.import_paths([folder]))
    outcomes = [(Path(o.path).name, o.outcome) for o in second.outcomes]
    assert outcomes[10] == ("n010.md", "updated")
    assert outcomes[150:] == [(f"n{i:03}.md", "added") for i in range(150, 170)]
    assert sum(outcome == "unchanged" for _name, outcome in outcomes) == 149
    documents = service.snapshot().documents
    assert len(documents) == 170
    assert {d.chunk_count for d in documents} == {1}


def test_new_files_that_cannot_be_written_together_are_written_one_by_one(
    service: LibraryService, tmp_path: Path, monkeypatch
) -> None:
    from desktop.library.repository import Library

    def refuse(*_args: object, **_kwargs: object) -> list[int]:
        raise RuntimeError("a group write failed")

    monkeypatch.setattr(Library, "save_new_documents", refuse)
    _many(tmp_path / "notes", 30)
    report = run_to_end(service.import_paths([tmp_path / "notes"], processes=0))
    assert [(Path(o.path).name, o.outcome) for o in report.outcomes] == [
        (f"n{i:03}.md", "added") for i in range(30)
    ]
    assert len(service.snapshot().documents) == 30
