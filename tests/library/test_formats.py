"""The formats of issue 17 on real files made by the tests (tests/helpers/format_files.py):
what text, structure and metadata each gives, and the reason a user sees when a
corrupt or password-protected one is skipped."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from desktop.library.loaders import LoadError, LoadOptions, load_document
from tests.helpers.documents import make_docx, make_encrypted_office_file, make_pdf
from tests.helpers.format_files import (
    PAGE_TEXT,
    character_accuracy,
    image_bytes,
    make_email,
    make_epub,
    make_mbox,
    make_ods,
    make_odt,
    make_pptx,
    make_rtf,
    make_scanned_pdf,
    make_xlsx,
    merge_pdfs,
    render_page,
    zip_bomb,
)

DATA = Path(__file__).parent / "data"
OPTIONS = LoadOptions(max_bytes=20_000_000)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def reason(path: Path, options: LoadOptions = OPTIONS) -> str:
    with pytest.raises(LoadError) as caught:
        load_document(path, options=options)
    return caught.value.reason


# -- PowerPoint --------------------------------------------------------------------------


def test_slides_titles_text_tables_notes_and_hidden_slides(tmp_path: Path) -> None:
    deck = make_pptx(
        [
            {"title": "Quarterly results", "bullets": ["Revenue grew 12%", (1, "EMEA led")]},
            {"title": "Pricing", "table": [["Plan", "Price"], ["Team", "12 EUR"]]},
            {"title": "Backup plan", "bullets": ["Only if sales drop"], "hidden": True},
            {"title": "Next steps", "bullets": ["Hire two engineers"], "notes": "Say it twice."},
        ],
        title="Board deck",
    )
    document = load_document(write(tmp_path / "deck.pptx", deck), options=OPTIONS)
    assert document.format == "slides"
    assert document.title == "Board deck"
    assert document.page_count == 4  # a slide is a page
    slides = [
        document.text[a:b].strip()
        for a, b in zip(document.pages, [*document.pages[1:], len(document.text)], strict=True)
    ]
    assert slides[0].startswith("# Quarterly results")
    assert "- Revenue grew 12%" in slides[0] and "  - EMEA led" in slides[0]
    assert "Plan | Price\nTeam | 12 EUR" in slides[1]
    assert slides[2].startswith("# Backup plan (hidden slide)")
    assert slides[3].endswith("Notes: Say it twice.")
    assert document.metadata["hidden_slides"] == [3]


def test_broken_and_protected_decks(tmp_path: Path) -> None:
    deck = make_pptx([{"title": "One", "bullets": ["x"]}])
    assert reason(write(tmp_path / "cut.pptx", deck[: len(deck) // 2])) == (
        "corrupt or not a PowerPoint presentation (.pptx)"
    )
    assert reason(write(tmp_path / "locked.pptx", make_encrypted_office_file())) == (
        "encrypted PowerPoint presentation: it needs a password to open"
    )


# -- Spreadsheets ------------------------------------------------------------------------


def test_workbook_sheets_as_pages_with_rows_like_csv_and_hidden_sheets(tmp_path: Path) -> None:
    workbook = make_xlsx(
        {
            "Prices": [["Plan", "Seats", "Price"], ["Team", 10, 12.5], ["Solo", 1, 4.0]],
            "Raw": [["id", "note"], [1, "from, the CRM"]],
        },
        hidden=["Raw"],
    )
    for name in ("book.xlsx", "book.xlsm"):
        document = load_document(write(tmp_path / name, workbook), options=OPTIONS)
        assert document.format == "spreadsheet"
        assert document.page_count == 2
        assert document.text.startswith("# Prices\n\nPlan,Seats,Price\nTeam,10,12.5\nSolo,1,4")
        raw = document.text[document.pages[1] :]
        assert raw.startswith('# Raw (hidden sheet)\n\nid,note\n1,"from, the CRM"')
        assert document.metadata["sheets"] == [
            {"name": "Prices", "hidden": False, "rows": 3},
            {"name": "Raw", "hidden": True, "rows": 2},
        ]


def test_opendocument_spreadsheet_and_its_failures(tmp_path: Path) -> None:
    ods = make_ods({"Budget": [["Item", "Cost"], ["Laptop", 1200]], "Old": [["x"]]}, hidden=["Old"])
    document = load_document(write(tmp_path / "budget.ods", ods), options=OPTIONS)
    assert document.text.startswith("# Budget\n\nItem,Cost\nLaptop,1200")
    assert "# Old (hidden sheet)" in document.text
    encrypted = make_ods({"S": [["x"]]}, encrypted=True)
    assert reason(write(tmp_path / "locked.ods", encrypted)) == (
        "password-protected OpenDocument spreadsheet"
    )
    assert reason(write(tmp_path / "locked.xlsx", make_encrypted_office_file())) == (
        "encrypted Excel workbook: it needs a password to open"
    )
    assert reason(write(tmp_path / "junk.xlsx", b"PK\x03\x04" + bytes(300))) == (
        "corrupt or not an Excel workbook (.xlsx)"
    )


# -- E-mail ------------------------------------------------------------------------------


def test_eml_headers_body_and_attachments_as_children(tmp_path: Path) -> None:
    report = make_docx([("heading", 1, "Refunds"), ("paragraph", "Refunds take 14 days.")])
    message = make_email(
        "Refund policy",
        "Hi Bob,\n\nthe new policy is attached.",
        attachments=[
            (
                "policy.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                report,
            ),
            ("broken.pdf", "application/pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog"),
            ("tool.exe", "application/octet-stream", b"MZ\x90\x00" * 10),
        ],
    )
    document = load_document(write(tmp_path / "mail.eml", message.as_bytes()), options=OPTIONS)
    assert document.format == "email"
    assert document.title == "Refund policy"
    assert document.text.startswith(
        "# Refund policy\n\nFrom: Alice Example <alice@example.com>\nTo: Bob <bob@example.org>\n"
        "Date: Sat, 01 Mar 2025 09:30:00 +0000\n\nHi Bob,\n\nthe new policy is attached."
    )
    assert document.metadata["headers"]["From"] == "Alice Example <alice@example.com>"
    # The broken attachment does not stop the message: it is reported.
    assert [(c.part, c.format, c.title) for c in document.children] == [
        ("policy.docx", "docx", "Refunds")
    ]
    assert dict(document.part_errors) == {
        "broken.pdf": "corrupt or not a PDF file",
        "tool.exe": "unsupported format “.exe”",
    }


def test_html_only_mail_and_a_mailbox_of_many_messages(tmp_path: Path) -> None:
    first = make_email("First", "Body one.")
    second = make_email(
        "Second",
        "From the start of a line.\nBody two.",
        attachments=[("notes.txt", "text/plain", b"Attached notes.")],
    )
    third = make_email("Third", "plain", html="<h1>Agenda</h1><p>Body <b>three</b>.</p>")
    box = load_document(
        write(tmp_path / "box.mbox", make_mbox([first, second, third])), options=OPTIONS
    )
    assert box.page_count == 3  # a message is a page
    assert [box.text[p:].split("\n", 1)[0] for p in box.pages] == ["# First", "# Second", "# Third"]
    assert "From the start of a line.\nBody two." in box.text  # mboxrd quoting undone
    assert [m["Subject"] for m in box.metadata["messages"]] == ["First", "Second", "Third"]
    assert [(c.part, c.text) for c in box.children] == [
        ("message 2 › notes.txt", "Attached notes.")
    ]
    html_only = make_email("HTML", "x")
    html_only.clear_content()
    html_only.set_content("<h2>Agenda</h2><p>Item <b>one</b>.</p>", subtype="html")
    document = load_document(write(tmp_path / "html.eml", html_only.as_bytes()), options=OPTIONS)
    assert document.text.endswith("## Agenda\n\nItem one.")


def test_outlook_msg_files(tmp_path: Path) -> None:
    document = load_document(DATA / "mail.msg", options=OPTIONS)
    assert document.format == "email"
    assert document.title == "Quarterly report #0 — café ünïcode"
    assert document.metadata["headers"]["From"] == "Alice Example <alice@example.com>"
    assert {c.part for c in document.children} >= {"notes.txt", "report.docx"}
    rtf_only = load_document(DATA / "rtf_only.msg", options=OPTIONS)
    assert rtf_only.text.endswith("Hello from an RTF-only Outlook body, café.")
    assert [(c.part, c.text) for c in rtf_only.children] == [("data.csv", "a,b\n1,2\n")]
    data = (DATA / "mail.msg").read_bytes()
    assert reason(write(tmp_path / "cut.msg", data[:40_000])) == "corrupt Outlook message (.msg)"
    assert reason(write(tmp_path / "not.msg", b"plain text")) == (
        "corrupt or not an Outlook message (.msg)"
    )
    # An OLE file that is not a message (here: the start of an encrypted Office file).
    assert reason(write(tmp_path / "locked.msg", make_encrypted_office_file())) == (
        "corrupt Outlook message (.msg)"
    )


def test_not_a_mail(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "x.eml", "just some words\n")) == (
        "not an e-mail message (no From, To, Subject or Date header)"
    )


# -- EPUB, RTF, ODT ----------------------------------------------------------------------


def test_epub_chapters_as_headings_and_pages(tmp_path: Path) -> None:
    book = make_epub(
        "Field Guide",
        [
            ("Getting started", "<p>Install the app.</p>"),
            ("Sync", "<h2>Conflicts</h2><p>Both copies are kept.</p>"),
        ],
    )
    document = load_document(write(tmp_path / "guide.epub", book), options=OPTIONS)
    assert document.format == "epub"
    assert document.title == "Field Guide"
    assert document.page_count == 2
    assert (
        document.text
        == "# Getting started\n\nInstall the app.\n\n## Conflicts\n\nBoth copies are kept."
    )
    drm = make_epub("Locked", [("One", "<p>x</p>")], drm=True)
    assert (
        reason(write(tmp_path / "drm.epub", drm)) == "a DRM-protected EPUB: its text is encrypted"
    )
    assert reason(write(tmp_path / "cut.epub", book[:200])) == "corrupt or not an EPUB e-book"


def test_rtf_text(tmp_path: Path) -> None:
    rtf = make_rtf(["Refunds take 14 days.", "Café {braces} and \\ backslash."])
    document = load_document(write(tmp_path / "memo.rtf", rtf), options=OPTIONS)
    assert document.format == "rtf"
    assert document.text == "Refunds take 14 days.\nCafé {braces} and \\ backslash."
    assert reason(write(tmp_path / "fake.rtf", "plain words")) == (
        "not an RTF document (it does not start with {\\rtf)"
    )


def test_odt_headings_lists_tables_and_title(tmp_path: Path) -> None:
    odt = make_odt(
        [
            ("heading", 1, "Handbook"),
            ("paragraph", "Welcome aboard."),
            ("bullet", "Bring a laptop"),
            ("heading", 2, "Costs"),
            ("table", [["Item", "Cost"], ["Desk", "200"]]),
        ],
        title="Staff handbook",
    )
    document = load_document(write(tmp_path / "handbook.odt", odt), options=OPTIONS)
    assert document.format == "odt"
    assert document.title == "Staff handbook"
    assert document.text == (
        "# Handbook\n\nWelcome aboard.\n\n- Bring a laptop\n\n## Costs\n\nItem | Cost\nDesk | 200"
    )
    locked = make_odt([("paragraph", "x")], encrypted=True)
    assert reason(write(tmp_path / "locked.odt", locked)) == (
        "password-protected OpenDocument text: it needs a password"
    )


# -- Text formats by content ----------------------------------------------------------------


def test_code_config_logs_and_extensionless_text(tmp_path: Path) -> None:
    code = load_document(
        write(tmp_path / "sync.py", "def sync():\n    return 42\n"), options=OPTIONS
    )
    assert (code.format, code.metadata, code.text) == (
        "code",
        {"language": "Python"},
        "def sync():\n    return 42\n",
    )
    config = load_document(write(tmp_path / "app.yaml", "sync:\n  interval: 5\n"), options=OPTIONS)
    assert (config.format, config.metadata["language"]) == ("config", "YAML")
    toml = load_document(write(tmp_path / "pyproject.toml", "[tool]\nx = 1\n"), options=OPTIONS)
    assert toml.metadata["language"] == "TOML"
    log = load_document(
        write(
            tmp_path / "app.log",
            "2026-01-01 10:00:00 INFO started\n2026-01-01 10:00:01 ERROR boom\n",
        ),
        options=OPTIONS,
    )
    assert log.format == "log"
    script = load_document(
        write(tmp_path / "deploy", "#!/usr/bin/env bash\necho hi\n"), options=OPTIONS
    )
    assert (script.format, script.metadata["language"]) == ("code", "Shell")
    readme = load_document(write(tmp_path / "README", "Read me first.\n"), options=OPTIONS)
    assert (readme.format, readme.text) == ("text", "Read me first.\n")
    sniffed_log = load_document(
        write(
            tmp_path / "syslog",
            "".join(f"2026-01-0{d} 10:00:00 INFO tick {d}\n" for d in range(1, 6)),
        ),
        options=OPTIONS,
    )
    assert sniffed_log.format == "log"
    assert reason(write(tmp_path / "blob", bytes(range(256)) * 8)) == (
        "no file extension and the content is not text"
    )


# -- Limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["docx", "pptx", "xlsx", "ods", "odt", "epub"])
def test_every_zip_based_format_has_a_decompressed_size_limit(tmp_path: Path, kind: str) -> None:
    """Issue 15 point 10: a 0.5 MB .docx whose XML was 158 MB imported 84,000 chunks."""
    bomb = zip_bomb(kind, inflated=30_000_000)
    assert len(bomb) < 100_000
    options = LoadOptions(max_bytes=1_000_000, max_unzipped_bytes=10_000_000)
    assert reason(write(tmp_path / f"bomb.{kind}", bomb), options) == (
        "decompresses to 30.0 MB, over the limit of 10.0 MB (setting max_unzipped_mb)"
    )


def test_text_length_limit_per_document(tmp_path: Path) -> None:
    path = write(tmp_path / "long.txt", "word " * 30_000)
    options = LoadOptions(max_text_chars=100_000)
    assert reason(path, options) == (
        "too much text (150,000 characters; the limit is 100,000, setting max_text_chars)"
    )
    assert load_document(path, options=LoadOptions()).text.startswith("word word")


# -- OCR -----------------------------------------------------------------------------------

REFERENCE = "\n".join(PAGE_TEXT)


@pytest.mark.slow
def test_a_scanned_page_rendered_from_known_text_is_read_accurately(tmp_path: Path) -> None:
    """The scanned-page fixture: known text rendered at 150 dpi into an image-only PDF."""
    scan = make_scanned_pdf([render_page(noise=8)])
    document = load_document(write(tmp_path / "scan.pdf", scan), options=OPTIONS)
    assert character_accuracy(REFERENCE, document.text) >= 0.97
    [page] = document.metadata["ocr"]
    assert page["page"] == 1 and page["start"] == 0 and page["end"] == len(document.text)
    assert 0.9 <= page["confidence"] <= 1.0
    off = LoadOptions(max_bytes=20_000_000, ocr=False)
    assert (
        reason(tmp_path / "scan.pdf", off)
        == "no text layer (a scan?) and OCR is off for this import"
    )


@pytest.mark.slow
def test_a_pdf_with_typed_and_scanned_pages_gets_both(tmp_path: Path) -> None:
    typed = make_pdf(["Typed first page about backups.", "Typed last page."])
    scanned = make_scanned_pdf([render_page()])
    mixed = merge_pdfs([typed[:], scanned])
    document = load_document(write(tmp_path / "mixed.pdf", mixed), options=OPTIONS)
    assert document.page_count == 3
    assert document.text.startswith("Typed first page about backups.\n\nTyped last page.\n\n")
    [page] = document.metadata["ocr"]
    assert page["page"] == 3 and page["start"] == document.pages[2]
    assert character_accuracy(REFERENCE, document.text[page["start"] : page["end"]]) >= 0.97


@pytest.mark.slow
def test_images_are_read_with_ocr_and_a_blank_one_is_reported(tmp_path: Path) -> None:
    png = image_bytes(render_page(), "PNG")
    document = load_document(write(tmp_path / "page.png", png), options=OPTIONS)
    assert document.format == "image"
    assert character_accuracy(REFERENCE, document.text) >= 0.97
    assert document.metadata["ocr"][0]["confidence"] > 0.9
    jpeg = image_bytes(render_page(angle=1.5, noise=10), "JPEG", quality=70)
    assert (
        character_accuracy(
            REFERENCE, load_document(write(tmp_path / "p.jpg", jpeg), options=OPTIONS).text
        )
        >= 0.95
    )
    blank = image_bytes(render_page(lines=[]), "PNG")
    assert reason(write(tmp_path / "blank.png", blank)) == "OCR found no text on the image"
    assert reason(write(tmp_path / "cut.png", png[:100])) == "corrupt image: it cannot be decoded"
    assert reason(write(tmp_path / "fake.png", b"not an image")) == (
        "corrupt or not an image (PNG, JPEG or TIFF)"
    )


def test_ocr_can_be_turned_off_and_cancelled(tmp_path: Path) -> None:
    png = write(tmp_path / "page.png", image_bytes(render_page(), "PNG"))
    assert reason(png, LoadOptions(ocr=False)) == (
        "an image: OCR is off for this import, so it has no text to read"
    )
    from desktop.progress import Cancelled

    with pytest.raises(Cancelled):
        load_document(png, options=LoadOptions(cancelled=lambda: True))


def test_dates_in_sheets_are_readable(tmp_path: Path) -> None:
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Log")
    sheet.write_datetime(
        0, 0, datetime.datetime(2026, 3, 1), workbook.add_format({"num_format": "yyyy-mm-dd"})
    )
    sheet.write(0, 1, True)
    workbook.close()
    document = load_document(write(tmp_path / "log.xlsx", buffer.getvalue()), options=OPTIONS)
    assert document.text == "# Log\n\n2026-03-01,TRUE"
