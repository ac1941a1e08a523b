"""A large import reads and chunks its files in processes (their own GILs and cores): the
library comes out as when they are read on a thread, a reading process that dies loses no
file, and a cancel stops the processes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from desktop.library.importer import FELL_BACK, FELL_BACK_PATH
from desktop.library.service import LibraryService
from desktop.progress import Progress, drive, run_to_end
from desktop.settings import Settings
from desktop.workspace import Workspace
from tests.helpers.documents import write_mixed_folder, write_notes
from tests.helpers.processes import parent_pid


def _library(service: LibraryService) -> list[tuple[str, str, int, list[str]]]:
    return [
        (
            Path(d.source_path).name,
            d.title,
            d.token_count,
            [c.text for c in service.library.chunks(d.id)],
        )
        for d in sorted(service.snapshot().documents, key=lambda d: d.source_path)
    ]


def _notes(folder: Path, count: int, words: int = 400) -> Path:
    def text(n: int) -> str:
        body = " ".join(f"word{(n * 7 + i) % 997}" for i in range(words))
        return f"# Note {n}\n\n{body}\n"

    return write_notes(folder, range(count), "note-{:04}.md", text)


@pytest.fixture
def other(tmp_path: Path):
    workspace = Workspace(tmp_path / "other.ragtune.sqlite")
    yield LibraryService(workspace, Settings())
    workspace.close()


def test_files_read_in_processes_are_stored_as_when_read_on_a_thread(
    service: LibraryService, other: LibraryService, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_mixed_folder(folder)  # PDFs, Word, HTML, text, a broken PDF, a binary file...
    _notes(folder / "notes", 40)
    in_processes = run_to_end(service.import_paths([folder], processes=2))
    on_a_thread = run_to_end(other.import_paths([folder], processes=0))
    assert in_processes.warnings == on_a_thread.warnings == []
    assert [(o.path, o.outcome, o.reason) for o in in_processes.outcomes] == [
        (o.path, o.outcome, o.reason) for o in on_a_thread.outcomes
    ]
    assert _library(service) == _library(other)
    assert len(_library(service)) > 40
    assert multiprocessing.active_children() == []  # the reading processes ended


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods() or not Path("/proc").is_dir(),
    reason="reading processes are forked from a server where the platform has one",
)
def test_reading_processes_are_forked_from_one_server_started_once(
    service: LibraryService, tmp_path: Path
) -> None:
    """Their start-up (the importer, the tokenizer) is paid once by the server: a later
    import's reading processes are forked from the same one, ready at once."""
    parents: set[int] = set()
    for run in range(2):

        def look(step: Progress) -> None:
            if step.done == 5:
                parents.update(parent_pid(c.pid) for c in multiprocessing.active_children())

        drive(service.import_paths([_notes(tmp_path / f"run{run}", 120)], processes=2), look)
        assert multiprocessing.active_children() == []
    assert len(parents) == 1 and parents != {os.getpid()}
    server = parents.pop()
    assert "forkserver" in Path(f"/proc/{server}/cmdline").read_text()
    assert len(service.snapshot().documents) == 240


def test_getting_ready_starts_the_server_only_for_an_import_that_may_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[bool] = []
    monkeypatch.setattr(
        "desktop.library.service.start_reading_server", lambda: started.append(True)
    )
    few = [tmp_path / f"{n}.md" for n in range(3)]
    cases = [
        ((), {}, True),  # the import dialog is open: what comes is not known yet
        (([tmp_path],), {}, True),  # a folder
        ((few,), {}, False),  # a few files: read on a thread
        ((few * 40,), {}, True),  # many files
        ((few,), {"processes": 2}, True),  # ragtune import --processes 2
        (([tmp_path],), {"processes": 0}, False),  # --processes 0: never
    ]
    for args, keywords, expected in cases:
        started.clear()
        LibraryService.get_ready_to_import(*args, **keywords)
        assert started == ([True] if expected else []), (args, keywords)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (OSError(24, "Too many open files"), "Too many open files"),
        # A fork that fails in the fork server: the server leaves, its socket ends.
        (EOFError("unexpected EOF"), "the system refused a new process"),
    ],
)
def test_reading_processes_that_cannot_start_leave_the_import_to_the_app(
    service: LibraryService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    reason: str,
) -> None:
    """Out of file descriptors or processes (EMFILE, EAGAIN): the files are read in the
    app itself, every one is imported, and the report says why in a sentence."""
    from desktop.library.importer import reading_context

    def cannot(*_args: object, **_kwargs: object) -> None:
        raise failure

    # However the platform starts them (forked from a server, or spawned).
    monkeypatch.setattr(reading_context().Process, "_Popen", staticmethod(cannot))
    folder = _notes(tmp_path / "notes", 120)
    report = run_to_end(service.import_paths([folder], processes=2))
    assert report.counts()["added"] == 120
    assert len(service.snapshot().documents) == 120
    assert report.summary() == "120 added, 1 warning"
    assert report.warnings == [
        (
            FELL_BACK_PATH,
            f"the reading processes could not be started ({reason}); the files were read "
            "in the app itself, and none was lost",
        )
    ]


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(),
    reason="only where reading processes are forked from a server",
)
def test_a_server_that_cannot_start_ahead_of_an_import_says_so_in_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import multiprocessing.forkserver

    def cannot() -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.forkserver, "ensure_running", cannot)
    with caplog.at_level(logging.WARNING, logger="desktop.library.importer"):
        LibraryService.get_ready_to_import()  # the import dialog opens: nothing raised
    assert "could not start" in caplog.text


def test_a_reading_process_that_dies_loses_no_file(
    service: LibraryService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed as the kernel's out-of-memory killer would: the files not yet read are read
    on a thread, each file is imported once, and the report says what happened."""
    folder = _notes(tmp_path / "notes", 300)
    steps = service.import_paths([folder], processes=2)
    killed: list[int] = []

    def kill_once(step: Progress) -> None:
        if step.done >= 2 and not killed:  # the first file is written
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)

    with caplog.at_level(logging.WARNING, logger="desktop.library.importer"):
        report = drive(steps, kill_once)
    assert len(killed) >= 1
    assert report.counts()["added"] == 300
    assert report.warnings == [("(import)", FELL_BACK)]
    assert "reading the rest of the import on threads" in caplog.text
    documents = service.snapshot().documents
    assert len(documents) == len({d.source_path for d in documents}) == 300
    assert all(d.chunk_count >= 1 for d in documents)


def test_a_cancelled_import_stops_its_reading_processes(
    service: LibraryService, tmp_path: Path
) -> None:
    folder = _notes(tmp_path / "notes", 300)
    steps = service.import_paths([folder], processes=2)
    for _ in range(5):
        next(steps)
    steps.close()  # what the Cancel button and Ctrl+C do to the running import
    assert multiprocessing.active_children() == []
    kept = service.snapshot().documents
    assert 1 <= len(kept) < 300
    # Importing again picks up the rest, each file once.
    report = run_to_end(service.import_paths([folder], processes=2))
    assert report.counts()["added"] == 300 - len(kept)
    assert len(service.snapshot().documents) == 300


def test_files_read_ahead_are_bounded_by_their_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large files read ahead wait in memory until written: their bytes bound how many
    are read ahead, not only their number."""
    from desktop.library import importer

    folder = _notes(tmp_path / "notes", 40, words=20_000)  # ~200 KB each
    monkeypatch.setattr(importer, "_AHEAD_BYTES", 1_000_000)
    files = importer.collect([folder]).files
    options = importer.ImportOptions(processes=1, process_min_files=0)
    pipeline = importer._Pipeline(files, {}, options)
    try:
        first = pipeline.next_result()
        in_flight = len(pipeline._futures)
        # Reading stops once ~1 MB is ahead (at most one group of ~1 MB more), where the
        # count alone would keep 63 files in flight (four groups of 16, one taken).
        assert 1 <= in_flight < 20
        first.result(timeout=60)
        assert pipeline.result(first, files[0]).document is not None
    finally:
        pipeline.close()


def test_groups_read_are_let_go_once_written(tmp_path: Path) -> None:
    """A reading process's finished group holds its files' texts: the pipeline keeps only
    the groups still in flight, so a long import's memory does not grow with it."""
    from desktop.library import importer

    files = importer.collect([_notes(tmp_path / "notes", 300, words=20)]).files
    pipeline = importer._Pipeline(files, {}, importer.ImportOptions(processes=1))
    most = 0
    try:
        for path in files:
            future = pipeline.next_result()
            future.result(timeout=60)
            assert pipeline.result(future, path).document is not None
            most = max(most, len(pipeline._jobs))
    finally:
        pipeline.close()
    assert most <= 5  # four groups of 16 ahead, and the one being written


def test_a_file_read_in_a_process_arrives_whole(tmp_path: Path) -> None:
    """A reading process sends chunks without their texts (slices of the document's
    text): what arrives equals what was read, for a paged PDF and an e-mail with an
    attachment too."""
    import pickle

    from desktop.library import importer
    from tests.helpers.documents import make_docx
    from tests.helpers.format_files import make_email

    folder = tmp_path / "docs"
    write_mixed_folder(folder)
    policy = make_docx([("heading", 1, "Refunds"), ("paragraph", "Refunds take 14 days.")])
    mail = make_email(
        "Refund policy",
        "Hi Bob,\n\nthe new policy is attached.",
        attachments=[("policy.docx", "application/octet-stream", policy)],
    )
    (folder / "mail.eml").write_bytes(mail.as_bytes())
    options = importer.ImportOptions()
    load_options = options.load_options()
    tokenizer = options.tokenizer()
    read = [
        importer._prepare(path, None, options, load_options, tokenizer)
        for path in importer.collect([folder]).files
    ]
    assert any(p.document is not None and p.document.pages for p in read)
    assert any(p.children and p.children[0][1] for p in read)  # the mail's attachment
    for prepared in read:
        assert pickle.loads(pickle.dumps(prepared)) == prepared
