"""Issue 15, "Files and folders" (points 9-12), each reproduced as it was reported, and
the rescan of the new formats (issue 17 point 4). Hypothesis feeds every loader bytes
it never expected: a file may be refused with a reason, never crash an import."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.library.loaders import SUPPORTED_EXTENSIONS, LoadError, LoadOptions, load_document
from desktop.library.service import LibraryService
from desktop.progress import run_to_end
from tests.helpers.documents import make_docx
from tests.helpers.format_files import make_email, make_pptx, make_xlsx

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
posix_names = pytest.mark.skipif(sys.platform != "linux", reason="byte file names: Linux")


@posix_names
def test_a_file_name_that_is_not_utf8_is_skipped_alone_and_named(
    service: LibraryService, tmp_path: Path
) -> None:
    """Point 9: before, one such name aborted the whole import with "'utf-8' codec can't
    encode ... surrogates not allowed" and named no file."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a-first.txt").write_text("First file.")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9-menu.txt"), "wb") as handle:
        handle.write(b"Latin-1 name, good text.")
    (folder / "z-last.txt").write_text("Last file.")
    report = run_to_end(service.import_paths([folder]))
    outcomes = {Path(o.path).name: (o.outcome, o.reason) for o in report.outcomes}
    assert outcomes["a-first.txt"][0] == outcomes["z-last.txt"][0] == "added"
    outcome, reason = outcomes["caf\\xe9-menu.txt"]
    assert outcome == "skipped"
    assert "not valid UTF-8" in reason and "rename" in reason
    assert sorted(d.title for d in service.snapshot().documents) == ["a-first", "z-last"]
    assert run_to_end(service.rescan()).counts()["skipped"] == 1  # and again, alone


@needs_symlinks
def test_folder_imports_do_not_follow_links_that_leave_the_folder(
    service: LibraryService, tmp_path: Path
) -> None:
    """Point 11: passwd.txt → /etc/passwd was imported."""
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("Not for the library.")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "real.txt").write_text("Inside the folder.")
    os.symlink(secret, folder / "passwd.txt")
    os.symlink(folder / "real.txt", folder / "alias.txt")  # stays inside: followed
    os.symlink(tmp_path / "outside", folder / "elsewhere")  # a folder link: not followed
    report = run_to_end(service.import_paths([folder]))
    imported = {Path(o.path).name for o in report.outcomes if o.outcome == "added"}
    assert imported == {"real.txt", "alias.txt"}
    passed = {Path(o.path).name: o.reason for o in report.passed_over}
    assert passed["passwd.txt"].startswith(
        f"a link to a file outside the imported folder ({secret}): not followed"
    )
    assert passed["elsewhere"] == "a link to a folder: not followed"
    texts = [service.library.text(d.id)[0] for d in service.snapshot().documents]
    assert "Not for the library." not in texts
    # A link the user picks explicitly is followed.
    picked = run_to_end(service.import_paths([folder / "passwd.txt"]))
    assert [o.outcome for o in picked.outcomes] == ["added"]


def test_folder_warnings_are_in_the_report(service: LibraryService, tmp_path: Path) -> None:
    """Point 12: a symlink loop and a path too long went to stderr only."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ok.md").write_text("# Fine")
    os.symlink("loop", folder / "loop")
    # A chain of folders whose full path is longer than the system allows.
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(20):
            name = "d" * 250
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with open(os.open("deep.txt", os.O_CREAT | os.O_WRONLY, dir_fd=fd), "w") as handle:
            handle.write("too deep")
    finally:
        os.close(fd)
    report = run_to_end(service.import_paths([folder]))
    warnings = dict(report.warnings)
    assert "symlink loop" in warnings[str(folder / "loop")]
    assert any("too long" in reason for reason in warnings.values())
    assert [Path(o.path).name for o in report.outcomes] == ["ok.md"]
    assert "warnings" in report.summary()


def test_unknown_formats_are_named_and_extensionless_text_is_imported(
    service: LibraryService, tmp_path: Path
) -> None:
    """Point 12: "16 other files ignored" named none; a README without extension was one."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "README").write_text("How to use this folder.")
    (folder / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (folder / "tool").write_bytes(bytes(range(256)) * 4)
    report = run_to_end(service.import_paths([folder]))
    outcomes = {Path(o.path).name: (o.outcome, o.reason) for o in report.outcomes}
    assert outcomes["README"] == ("added", "")
    assert outcomes["tool"] == ("skipped", "no file extension and the content is not text")
    assert [(Path(o.path).name, o.reason) for o in report.passed_over] == [
        ("photo.heic", "unsupported format “.heic”")
    ]
    assert "1 other file not imported" in report.summary()


def test_a_huge_decompressed_docx_is_refused_by_the_setting(tmp_path: Path) -> None:
    """Point 10: a 0.5 MB .docx whose XML was 158 MB: 84,000 chunks, 2.5 GB RSS, 98 s."""
    from desktop.settings import Settings
    from desktop.workspace import Workspace
    from tests.helpers.format_files import zip_bomb

    (tmp_path / "bomb.docx").write_bytes(zip_bomb("docx", inflated=80_000_000))
    with Workspace(tmp_path / "w.ragtune.sqlite") as workspace:
        service = LibraryService(workspace, Settings(max_unzipped_mb=20))
        report = run_to_end(service.import_paths([tmp_path / "bomb.docx"]))
    [outcome] = report.outcomes
    assert outcome.outcome == "skipped"
    assert outcome.reason == (
        "decompresses to 80.0 MB, over the limit of 21.0 MB (setting max_unzipped_mb)"
    )


def test_dataset_files_over_the_size_limit_are_refused(tmp_path: Path) -> None:
    """Point 10: `dataset validate` of a 50 MB line took 40 s and 2.7 GB."""
    from desktop.finetune.service import DatasetFileTooLarge, FineTuneService

    path = tmp_path / "big.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "' + "x" * 3_000_000 + '"}]}\n')
    with pytest.raises(DatasetFileTooLarge) as caught:
        FineTuneService.validate_file(path, model="gpt-4.1-mini", max_mb=2)
    assert str(caught.value) == (
        "big.jsonl is 3.0 MB; data files over 2 MB are not read (setting max_dataset_mb)"
    )


# -- Rescan and re-chunk of the new formats (issue 17 point 4) --------------------------------


def test_rescan_keeps_ids_of_unchanged_new_formats_and_follows_attachments(
    service: LibraryService, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "deck.pptx").write_bytes(make_pptx([{"title": "Plan", "bullets": ["Ship it"]}]))
    (folder / "book.xlsx").write_bytes(make_xlsx({"S": [["a", 1]]}))
    policy = make_docx([("paragraph", "Refunds take 14 days.")])
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    mail = make_email(
        "Policy",
        "See attached.",
        attachments=[("policy.docx", docx_type, policy), ("notes.txt", "text/plain", b"Notes.")],
    )
    (folder / "mail.eml").write_bytes(mail.as_bytes())
    first = run_to_end(service.import_paths([folder]))
    assert first.counts()["added"] == 5  # three files, two attachments
    before = {d.source_path: d for d in service.snapshot().documents}
    attachment = str(folder / "mail.eml") + " › policy.docx"
    assert before[attachment].parent_id == before[str(folder / "mail.eml")].id
    ids = {path: service.library.chunk_ids(d.id) for path, d in before.items()}

    report = run_to_end(service.rescan())
    assert {Path(o.path).name: o.outcome for o in report.outcomes} == {
        "deck.pptx": "unchanged",
        "book.xlsx": "unchanged",
        "mail.eml": "unchanged",
    }
    after = {d.source_path: d for d in service.snapshot().documents}
    assert {p: service.library.chunk_ids(d.id) for p, d in after.items()} == ids

    # The message changes: one attachment dropped, so its document goes.
    smaller = make_email(
        "Policy", "See attached.", attachments=[("policy.docx", docx_type, policy)]
    )
    (folder / "mail.eml").write_bytes(smaller.as_bytes())
    report = run_to_end(service.rescan())
    outcomes = {Path(o.path).name: o.outcome for o in report.outcomes}
    assert outcomes["mail.eml"] == "updated"
    assert outcomes["mail.eml › policy.docx"] == "unchanged"  # same bytes, same chunks
    after = {d.source_path: d for d in service.snapshot().documents}
    assert str(folder / "mail.eml") + " › notes.txt" not in after
    assert service.library.chunk_ids(after[attachment].id) == ids[attachment]

    (folder / "mail.eml").unlink()
    report = run_to_end(service.rescan())
    outcomes = {Path(o.path).name: o.outcome for o in report.outcomes}
    assert outcomes["mail.eml"] == outcomes["mail.eml › policy.docx"] == "missing"


# -- Hypothesis: any bytes, any supported extension -------------------------------------------

_EXTENSIONS = sorted(
    {ext for ext in SUPPORTED_EXTENSIONS if ext not in (".png", ".jpg", ".jpeg", ".tif", ".tiff")}
)
_PREFIXES = [
    b"",
    b"PK\x03\x04",
    b"%PDF-1.7\n",
    b"{\\rtf1 ",
    b"From a@b.c Mon\n",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    extension=st.sampled_from(_EXTENSIONS),
    prefix=st.sampled_from(_PREFIXES),
    body=st.binary(max_size=3000),
)
def test_any_bytes_load_or_fail_with_a_reason(
    tmp_path: Path, extension: str, prefix: bytes, body: bytes
) -> None:
    path = tmp_path / f"fuzz{extension}"
    path.write_bytes(prefix + body)
    try:
        document = load_document(path, options=LoadOptions(ocr=False))
    except LoadError as error:
        document, reason = None, error.reason
    else:
        reason = ""
    if document is None:
        assert reason.strip() and "Traceback" not in reason
        return
    assert document.text.strip()
    for start in document.pages:
        assert 0 <= start <= len(document.text)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(min_size=1, max_size=2000), ext=st.sampled_from([".png", ".jpg", ".tiff"]))
def test_any_bytes_as_an_image_fail_with_a_reason(tmp_path: Path, body: bytes, ext: str) -> None:
    path = tmp_path / f"fuzz{ext}"
    path.write_bytes(body)
    with pytest.raises(LoadError):
        load_document(path, options=LoadOptions())
