"""Document loaders (desktop.library.loaders) on real files built in the test: what text
and metadata each format gives, and the reason a user sees when a file cannot load."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import random
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from desktop.library.loaders import (
    FORMATS,
    NO_TEXT_LAYER,
    SUPPORTED_EXTENSIONS,
    LoadedDocument,
    LoadError,
    LoadOptions,
    iter_supported_files,
    load_document,
)
from tests.helpers.documents import (
    PROSE,
    make_docx,
    make_encrypted_office_file,
    make_encrypted_pdf,
    make_html,
    make_pdf,
)

LIMIT = 5_000_000


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def load(path: Path) -> LoadedDocument:
    return load_document(path, max_bytes=LIMIT)


def reason(path: Path, max_bytes: int = LIMIT) -> str:
    with pytest.raises(LoadError) as caught:
        load_document(path, max_bytes=max_bytes)
    assert caught.value.path == path
    assert str(caught.value) == f"{path.name}: {caught.value.reason}"
    return caught.value.reason


# -- Plain text and encodings -----------------------------------------------------------

WESTERN = "Voilà : « crème brûlée », Straße, naïve café — 10 € « déjà vu ». " * 8


@pytest.mark.parametrize(
    ("encoding", "data", "expected"),
    [
        ("utf-8", (PROSE + "😀").encode("utf-8"), PROSE + "😀"),
        ("utf-8-sig", b"\xef\xbb\xbf" + PROSE.encode("utf-8"), PROSE),
        ("cp1252", WESTERN.encode("cp1252"), WESTERN),
        ("utf-16-le", PROSE.encode("utf-16"), PROSE),  # with BOM
        ("utf-16-le", PROSE.encode("utf-16-le"), PROSE),  # without BOM
        ("utf-16-be", PROSE.encode("utf-16-be"), PROSE),
        ("utf-32-le", PROSE.encode("utf-32"), PROSE),
        (
            "cp1251",
            ("Привет, как дела? Всё хорошо, спасибо. " * 6).encode("cp1251"),
            "Привет, как дела? Всё хорошо, спасибо. " * 6,
        ),
    ],
    ids=["utf8", "utf8-bom", "cp1252", "utf16-bom", "utf16le", "utf16be", "utf32", "cp1251"],
)
def test_text_encodings_are_detected(
    tmp_path: Path, encoding: str, data: bytes, expected: str
) -> None:
    document = load(write(tmp_path / "notes.txt", data))
    assert document.text == expected
    assert document.encoding == encoding
    assert document.format == "text"
    assert document.title == "notes"
    assert document.pages == () and document.page_count is None


def test_metadata_of_a_loaded_file(tmp_path: Path) -> None:
    data = b"Line one\r\nLine two\rLine three\n"
    path = write(tmp_path / "crlf.txt", data)
    document = load(path)
    assert document.text == "Line one\nLine two\nLine three\n"
    assert document.size_bytes == len(data)
    assert document.content_hash == hashlib.sha256(data).hexdigest()
    assert document.modified_time == path.stat().st_mtime
    assert document.path == path
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.title = "changed"  # type: ignore[misc]


def test_markdown_title_and_text(tmp_path: Path) -> None:
    text = "Some intro.\n\n```\n# not the title\n```\n\n# Getting Started #\n\nBody.\n"
    document = load(write(tmp_path / "guide.md", text))
    assert document.format == "markdown"
    assert document.title == "Getting Started"
    assert document.text == text
    front = '---\ntitle: "From Front Matter"\nauthor: x\n---\n# Heading\n'
    assert load(write(tmp_path / "front.markdown", front)).title == "From Front Matter"
    assert load(write(tmp_path / "setext.md", "Big Title\n=========\n\ntext")).title == "Big Title"
    assert load(write(tmp_path / "plain.md", "no heading here")).title == "plain"


def test_csv_and_tsv_are_text(tmp_path: Path) -> None:
    csv = "name,city\nZoë,Zürich\n"
    document = load(write(tmp_path / "people.csv", csv.encode("cp1252")))
    assert document.format == "csv"
    assert document.text == csv
    assert load(write(tmp_path / "t.tsv", "a\tb\n1\t2\n")).text == "a\tb\n1\t2\n"


def test_json_is_pretty_printed(tmp_path: Path) -> None:
    document = load(write(tmp_path / "data.json", '{"name":"Zoë","tags":["a","b"],"n":1}'))
    assert document.format == "json"
    assert document.text == '{\n  "name": "Zoë",\n  "tags": [\n    "a",\n    "b"\n  ],\n  "n": 1\n}'
    lines = load(write(tmp_path / "rows.jsonl", '{"a": 1}\n\n{"a": 2}\n'))
    assert lines.text == '{\n  "a": 1\n}\n\n{\n  "a": 2\n}'


def test_invalid_json_says_where(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "bad.json", '{"a": 1,\n "b": }')) == (
        "not valid JSON: Expecting value (line 2, column 7)"
    )
    assert reason(write(tmp_path / "bad.jsonl", '{"a": 1}\n{oops}\n')).startswith(
        "not valid JSON Lines: line 2:"
    )


# -- HTML --------------------------------------------------------------------------------


def test_html_to_text_with_markdown_headings(tmp_path: Path) -> None:
    body = (
        "<nav><a href='/'>Home</a> <a href='/x'>Menu</a></nav>"
        "<header><h1>Main   <em>heading</em></h1></header>"
        "<p>First paragraph with <b>bold</b>\n and   spaces &amp; entities.</p>"
        "<script>var secret = 1;</script><style>p { color: red }</style>"
        "<h2>Section</h2><ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>"
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
        "<p>Line<br>break</p><div hidden>invisible</div>"
        "<pre>code\n    indented</pre><h3>Last</h3><p>End.</p>"
    )
    document = load(write(tmp_path / "page.html", make_html("The &lt;Title&gt;", body)))
    assert document.format == "html"
    assert document.title == "The <Title>"
    assert document.encoding == "utf-8"
    assert document.text == (
        "# Main heading\n\n"
        "First paragraph with bold and spaces & entities.\n\n"
        "## Section\n\n"
        "- one\n- two\n  - nested\n\n"
        "A | B\n1 | 2\n\n"
        "Line\nbreak\n\n"
        "code\n    indented\n\n"
        "### Last\n\n"
        "End."
    )
    for hidden in ("Home", "Menu", "secret", "color", "invisible"):
        assert hidden not in document.text


def test_html_title_falls_back_to_the_first_h1_then_the_file_name(tmp_path: Path) -> None:
    html = "<html><body><h2>Sub</h2><h1>Real title</h1><p>x</p></body></html>"
    assert load(write(tmp_path / "a.htm", html)).title == "Real title"
    assert load(write(tmp_path / "b.html", "<p>only text</p>")).title == "b"


def test_html_declared_charset_is_honoured(tmp_path: Path) -> None:
    html = make_html("Café", f"<p>{WESTERN}</p>", charset="windows-1252")
    document = load(write(tmp_path / "legacy.html", html.encode("cp1252")))
    assert document.encoding == "cp1252"
    assert document.title == "Café"
    assert WESTERN.strip() in document.text
    latin1 = make_html("Zoë", "<p>Zoë</p>", charset="iso-8859-1").encode("cp1252")
    assert load(write(tmp_path / "latin1.html", latin1)).text == "Zoë"


# -- PDF ---------------------------------------------------------------------------------


def test_pdf_text_pages_and_title(tmp_path: Path) -> None:
    pages = ["First page, line one.\nLine two (with parentheses).", "Second page: café."]
    document = load(write(tmp_path / "report.pdf", make_pdf(pages, title="Annual Report")))
    assert document.format == "pdf"
    assert document.title == "Annual Report"
    assert document.page_count == 2
    assert document.pages == (0, len(pages[0]) + 2)
    assert document.text == "\n\n".join(pages)
    assert document.text[document.pages[1] :].startswith("Second page")
    assert document.encoding is None
    untitled = load(write(tmp_path / "untitled.pdf", make_pdf(["Text."])))
    assert untitled.title == "untitled"


NO_OCR = LoadOptions(max_bytes=LIMIT, ocr=False)


def test_pdf_with_a_scanned_page_among_text_pages(tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.pdf", make_pdf(["Typed page.", None, "Last."]))
    document = load_document(path, options=NO_OCR)
    assert document.page_count == 3
    assert document.text == "Typed page.\n\n\n\nLast."
    assert document.pages == (0, 13, 15)


def test_pdf_errors_a_user_can_act_on(tmp_path: Path) -> None:
    encrypted = write(tmp_path / "locked.pdf", make_encrypted_pdf(["Secret."]))
    assert reason(encrypted) == "encrypted PDF: it needs a password to open"
    scanned = write(tmp_path / "scan.pdf", make_pdf([None, None]))
    with pytest.raises(LoadError) as caught:
        load_document(scanned, options=NO_OCR)
    assert caught.value.reason == NO_TEXT_LAYER
    assert NO_TEXT_LAYER == "no text layer (a scan?) and OCR is off for this import"
    valid = make_pdf(["Some text on the page."])
    truncated = write(tmp_path / "truncated.pdf", valid[: len(valid) // 2])
    assert reason(truncated) == "corrupt or not a PDF file"
    not_pdf = write(tmp_path / "page.pdf", make_html("x", "<p>an error page</p>"))
    assert reason(not_pdf) == "corrupt or not a PDF file"


def test_pdf_with_only_an_owner_password_opens(tmp_path: Path) -> None:
    path = write(tmp_path / "restricted.pdf", make_encrypted_pdf(["Readable."], user_password=""))
    assert load(path).text == "Readable."


def test_pdfs_load_safely_from_several_threads(tmp_path: Path) -> None:
    paths = [
        write(tmp_path / f"doc{n}.pdf", make_pdf([f"Document {n} page {p}." for p in range(3)]))
        for n in range(8)
    ]
    with ThreadPoolExecutor(4) as pool:
        documents = list(pool.map(load, paths * 3))
    assert [d.text.split(" ")[1] for d in documents] == [str(n) for n in range(8)] * 3


# -- DOCX --------------------------------------------------------------------------------


def test_docx_structure_becomes_markdown(tmp_path: Path) -> None:
    blocks = [
        ("heading", 1, "Introduction"),
        ("paragraph", "Plain paragraph."),
        ("bullet", "First point"),
        ("bullet", "Second point"),
        ("heading", 2, "Details"),
        ("table", [["Name", "Value"], ["alpha", "1"]]),
        ("paragraph", ""),
        ("paragraph", "After the table."),
    ]
    document = load(write(tmp_path / "spec.docx", make_docx(blocks, title="Spec Sheet")))
    assert document.format == "docx"
    assert document.title == "Spec Sheet"
    assert document.text == (
        "# Introduction\n\nPlain paragraph.\n\n- First point\n\n- Second point\n\n"
        "## Details\n\nName | Value\nalpha | 1\n\nAfter the table."
    )
    assert document.pages == () and document.page_count is None
    assert document.encoding is None


def test_docx_page_breaks_become_pages(tmp_path: Path) -> None:
    blocks = [
        ("heading", 1, "One"),
        ("paragraph", "Page one."),
        ("page_break",),
        ("paragraph", "Page two."),
        ("page_break",),
        ("heading", 2, "Three"),
        ("paragraph", "Page three."),
    ]
    document = load(write(tmp_path / "paged.docx", make_docx(blocks)))
    assert document.title == "One"  # no core title: the first heading
    assert document.page_count == 3
    starts = [document.text[p:].split("\n")[0] for p in document.pages]
    assert starts == ["# One", "Page two.", "## Three"]


def test_docx_errors_a_user_can_act_on(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "locked.docx", make_encrypted_office_file())) == (
        "encrypted Word document: it needs a password to open"
    )
    old_doc = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024)
    assert "old Word (.doc)" in reason(write(tmp_path / "old.docx", old_doc))
    assert reason(write(tmp_path / "text.docx", "plain text")) == (
        "corrupt or not a Word document (.docx)"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    assert reason(write(tmp_path / "zip.docx", buffer.getvalue())) == (
        "corrupt or not a Word document (.docx)"
    )
    valid = make_docx([("paragraph", "text")])
    assert "Word document" in reason(write(tmp_path / "cut.docx", valid[: len(valid) // 2]))


# -- Files that are not documents ------------------------------------------------------


def test_binary_data_with_a_text_extension(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    assert "binary" in reason(write(tmp_path / "image.txt", png))
    rng = random.Random(1)
    noise = bytes(rng.randrange(1, 256) for _ in range(5000))
    assert "binary" in reason(write(tmp_path / "noise.md", noise))
    assert "binary" in reason(write(tmp_path / "noise.csv", noise))


def test_empty_blank_large_unsupported_and_missing_files(tmp_path: Path) -> None:
    assert reason(write(tmp_path / "empty.txt", b"")) == "empty file"
    assert reason(write(tmp_path / "blank.md", " \n\t\n")) == "no text in the file"
    big = write(tmp_path / "big.txt", "x" * 2_000)
    assert reason(big, max_bytes=1_000) == "file too large (2,000 bytes; the limit is 1,000 bytes)"
    huge = write(tmp_path / "huge.txt", "y" * 300_000)
    assert reason(huge, max_bytes=200_000) == "file too large (0.3 MB; the limit is 0.2 MB)"
    assert reason(write(tmp_path / "picture.bmp", b"BM")).startswith("unsupported format “.bmp”")
    assert reason(write(tmp_path / "picture.png", b"\x89PNG")) == (
        "corrupt or not an image (PNG, JPEG or TIFF)"
    )
    assert load(write(tmp_path / "README", "Read me first.")).text == "Read me first."
    assert reason(write(tmp_path / "program", bytes(range(256)) * 4)) == (
        "no file extension and the content is not text"
    )
    assert reason(tmp_path / "missing.txt") == "file not found"
    (tmp_path / "folder.txt").mkdir()
    assert reason(tmp_path / "folder.txt") == "not a regular file"


def test_load_error_survives_pickling() -> None:
    error = LoadError(Path("/x/report.pdf"), "encrypted PDF: it needs a password to open")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.reason, str(copy)) == (error.path, error.reason, str(error))


def test_every_extension_maps_to_a_known_format() -> None:
    assert set(SUPPORTED_EXTENSIONS.values()) == set(FORMATS)
    assert all(ext.startswith(".") and ext == ext.lower() for ext in SUPPORTED_EXTENSIONS)


# -- Finding files -----------------------------------------------------------------------


def test_iter_supported_files_walks_folders_sorted_without_hidden(tmp_path: Path) -> None:
    root = tmp_path / "library"
    for name in [
        "b.md",
        "a.txt",
        "Z.PDF",
        "image.png",
        "data.bin",
        ".hidden.txt",
        "~$lock.docx",
        "sub/c.html",
        "sub/deeper/d.json",
        ".git/config.txt",
        "sub/.cache/e.txt",
    ]:
        write(root / name, "x")
    outside = write(tmp_path / "single.csv", "a,b")
    hidden_but_named = write(tmp_path / ".named.txt", "x")
    found = list(iter_supported_files([root, outside, root / "a.txt", hidden_but_named]))
    relative = [str(p.relative_to(tmp_path)) for p in found]
    assert relative == [
        "library/Z.PDF",
        "library/a.txt",
        "library/b.md",
        "library/image.png",
        "library/sub/c.html",
        "library/sub/deeper/d.json",
        "single.csv",
        ".named.txt",
    ]
    assert list(iter_supported_files([root / "data.bin"])) == []
    with pytest.raises(FileNotFoundError):
        list(iter_supported_files([tmp_path / "nope"]))


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_iter_supported_files_does_not_follow_folder_links(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "a.txt", "x")
    os.symlink(tmp_path / "lib", tmp_path / "lib" / "loop")
    assert [p.name for p in iter_supported_files([tmp_path / "lib"])] == ["a.txt"]
