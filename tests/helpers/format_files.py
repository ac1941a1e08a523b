"""Real files of the formats added in issue 17, made at test time with Python libraries
(python-pptx, XlsxWriter, the standard library's email and zipfile, Pillow, pypdfium2),
so no binary fixture lives in the repository (except two Outlook .msg files, see
tests/library/data/README.md: no Python library writes .msg).

ODF (.odt, .ods) and EPUB files are zip archives of XML written here by hand, the way
LibreOffice and e-book tools lay them out (mimetype first, stored)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

# -- PowerPoint -----------------------------------------------------------------------


def make_pptx(slides: Sequence[dict[str, object]], *, title: str | None = None) -> bytes:
    """Slides as dicts: "title", "bullets" (list of str or (level, str)), "table"
    (rows of cells), "notes", "hidden" (bool)."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    if title:
        deck.core_properties.title = title
    for spec in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = str(spec.get("title", ""))
        body = slide.placeholders[1].text_frame
        bullets = list(spec.get("bullets", []))  # type: ignore[call-overload]
        for number, bullet in enumerate(bullets):
            level, text = bullet if isinstance(bullet, tuple) else (0, bullet)
            paragraph = body.paragraphs[0] if number == 0 else body.add_paragraph()
            paragraph.text = str(text)
            paragraph.level = int(level)
        rows = spec.get("table")
        if rows:
            assert isinstance(rows, list)
            shape = slide.shapes.add_table(
                len(rows), len(rows[0]), Inches(1), Inches(5), Inches(6), Inches(1)
            )
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = str(value)
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = str(spec["notes"])
        if spec.get("hidden"):
            slide._element.set("show", "0")
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


# -- Spreadsheets ---------------------------------------------------------------------


def make_xlsx(sheets: dict[str, list[list[object]]], *, hidden: Sequence[str] = ()) -> bytes:
    """A workbook written by XlsxWriter: sheet name → rows of values."""
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
        if name in hidden:
            sheet.hide()
    workbook.close()
    return buffer.getvalue()


_ODF_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
 manifest:version="1.3">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 {extra}
</manifest:manifest>"""
_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
)


def _esc(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _odf(mime: str, content: str, *, title: str | None = None, encrypted: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mime)  # stored, first
        extra = ""
        if encrypted:
            extra = (
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="">'
                "<manifest:encryption-data/></manifest:file-entry>"
            )
        archive.writestr("META-INF/manifest.xml", _ODF_MANIFEST.format(mime=mime, extra=extra))
        archive.writestr(
            "content.xml",
            content if not encrypted else bytes(range(256)) * 4,
            compress_type=zipfile.ZIP_DEFLATED,
        )
        if title:
            archive.writestr(
                "meta.xml",
                f"<office:document-meta {_ODF_NS}><office:meta><dc:title>{_esc(title)}"
                "</dc:title></office:meta></office:document-meta>",
            )
    return buffer.getvalue()


def make_ods(
    sheets: dict[str, list[list[object]]], *, hidden: Sequence[str] = (), encrypted: bool = False
) -> bytes:
    styles = (
        '<office:automatic-styles><style:style style:name="hid" style:family="table">'
        '<style:table-properties table:display="false"/></style:style></office:automatic-styles>'
    )
    tables = []
    for name, rows in sheets.items():
        style = ' table:style-name="hid"' if name in hidden else ""
        cells_xml = []
        for row in rows:
            cells = []
            for value in row:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    cells.append(
                        f'<table:table-cell office:value-type="float" office:value="{value}">'
                        f"<text:p>{value}</text:p></table:table-cell>"
                    )
                else:
                    cells.append(
                        '<table:table-cell office:value-type="string">'
                        f"<text:p>{_esc(value)}</text:p></table:table-cell>"
                    )
            cells_xml.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
        tables.append(
            f'<table:table table:name="{_esc(name)}"{style}>'
            + "".join(cells_xml)
            + "</table:table>"
        )
    content = (
        f'<office:document-content {_ODF_NS} office:version="1.3">{styles}<office:body>'
        f"<office:spreadsheet>{''.join(tables)}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    return _odf("application/vnd.oasis.opendocument.spreadsheet", content, encrypted=encrypted)


# -- OpenDocument text, EPUB, RTF -------------------------------------------------------


def make_odt(
    blocks: Sequence[tuple[object, ...]], *, title: str | None = None, encrypted: bool = False
) -> bytes:
    """Blocks: ("heading", level, text), ("paragraph", text), ("bullet", text),
    ("table", rows)."""
    body = []
    for block in blocks:
        kind = block[0]
        if kind == "heading":
            body.append(f'<text:h text:outline-level="{block[1]}">{_esc(block[2])}</text:h>')
        elif kind == "paragraph":
            body.append(f"<text:p>{_esc(block[1])}</text:p>")
        elif kind == "bullet":
            body.append(
                f"<text:list><text:list-item><text:p>{_esc(block[1])}</text:p>"
                "</text:list-item></text:list>"
            )
        elif kind == "table":
            rows = "".join(
                "<table:table-row>"
                + "".join(
                    f"<table:table-cell><text:p>{_esc(c)}</text:p></table:table-cell>" for c in row
                )
                + "</table:table-row>"
                for row in block[1]  # type: ignore[attr-defined]
            )
            body.append(f"<table:table>{rows}</table:table>")
    content = (
        f'<office:document-content {_ODF_NS} office:version="1.3"><office:body><office:text>'
        + "".join(body)
        + "</office:text></office:body></office:document-content>"
    )
    return _odf(
        "application/vnd.oasis.opendocument.text", content, title=title, encrypted=encrypted
    )


def make_epub(title: str, chapters: Sequence[tuple[str, str]], *, drm: bool = False) -> bytes:
    """An EPUB 3 book: chapters as (table-of-contents title, XHTML body markup)."""
    buffer = io.BytesIO()
    items = "".join(
        f'<item id="c{n}" href="text/c{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
    nav_links = "".join(
        f'<li><a href="text/c{n}.xhtml">{_esc(name)}</a></li>'
        for n, (name, _) in enumerate(chapters)
    )
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        if drm:
            archive.writestr(
                "META-INF/encryption.xml",
                '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
                '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
                "</enc:EncryptedData></encryption>",
            )
        archive.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{_esc(title)}</dc:title></metadata><manifest>"
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
            f"{items}</manifest><spine>{spine}</spine></package>",
        )
        archive.writestr(
            "OEBPS/nav.xhtml",
            '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
            f'<body><nav epub:type="toc"><ol>{nav_links}</ol></nav></body></html>',
        )
        for n, (_, markup) in enumerate(chapters):
            archive.writestr(
                f"OEBPS/text/c{n}.xhtml",
                f'<html xmlns="http://www.w3.org/1999/xhtml"><body>{markup}</body></html>',
            )
    return buffer.getvalue()


def make_rtf(paragraphs: Sequence[str]) -> bytes:
    def escape(text: str) -> str:
        out = []
        for char in text:
            if char in "\\{}":
                out.append("\\" + char)
            elif ord(char) < 128:
                out.append(char)
            else:
                out.append(f"\\u{ord(char) if ord(char) < 32768 else ord(char) - 65536}?")
        return "".join(out)

    body = "".join(f"{escape(p)}\\par\n" for p in paragraphs)
    return (
        "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Arial;}}\\f0\\fs22\n" + body + "}"
    ).encode("ascii")


# -- E-mail ---------------------------------------------------------------------------


def make_email(
    subject: str,
    body: str,
    *,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    html: str | None = None,
    sender: str = "Alice Example <alice@example.com>",
    to: str = "Bob <bob@example.org>",
    date: str = "Sat, 01 Mar 2025 09:30:00 +0000",
) -> EmailMessage:
    """A message with a plain (and optional HTML) body and attachments given as
    (file name, MIME type, bytes)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = date
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, mime, data in attachments:
        main, sub = mime.split("/", 1)
        message.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return message


def make_mbox(messages: Sequence[EmailMessage]) -> bytes:
    out = io.BytesIO()
    for message in messages:
        out.write(b"From alice@example.com Sat Mar  1 09:30:00 2025\n")
        raw = message.as_bytes().replace(b"\r\n", b"\n")
        raw = b"\n".join(
            b">" + line if line.startswith(b"From ") else line for line in raw.split(b"\n")
        )
        out.write(raw.rstrip(b"\n") + b"\n\n")
    return out.getvalue()


# -- Scanned pages --------------------------------------------------------------------

PAGE_TEXT = (
    "Retrieval augmented generation answers questions from the documents of a domain.",
    "The library splits each document into chunks before they are embedded.",
    "Scanned pages have no text layer, so they are read with optical character",
    "recognition. Each page keeps the confidence of its reading, and the chunk",
    "inspector marks the text that came from a scan. Refunds take 14 days.",
)


def _font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    for candidate in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    ):
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def render_page(
    lines: Sequence[str] = PAGE_TEXT,
    *,
    dpi: int = 150,
    points: int = 11,
    noise: float = 0.0,
    angle: float = 0.0,
):  # type: ignore[no-untyped-def]
    """A white A4 page at ``dpi`` with ``lines`` of printed text (a Pillow image),
    optionally turned by ``angle`` degrees and speckled like a scan."""
    import numpy as np
    from PIL import Image, ImageDraw

    width, height = int(8.27 * dpi), int(11.69 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    size = round(points * dpi / 72)
    font = _font(size)
    y = int(0.9 * dpi)
    for line in lines:
        draw.text((int(0.9 * dpi), y), line, font=font, fill=0)
        y += int(size * 1.5)
    if angle:
        image = image.rotate(angle, expand=False, fillcolor=255)
    if noise:
        rng = np.random.default_rng(1)
        pixels = (
            np.asarray(image, dtype=np.float32) * 0.85 + 25 + rng.normal(0, noise, (height, width))
        )
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image.convert("RGB")


def image_bytes(image, fmt: str = "PNG", **save) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def make_scanned_pdf(pages, *, dpi: int = 150) -> bytes:  # type: ignore[no-untyped-def]
    """A PDF whose pages are images only (what a scanner writes): no text layer."""
    first, *rest = pages
    buffer = io.BytesIO()
    first.save(buffer, "PDF", resolution=dpi, save_all=True, append_images=rest)
    return buffer.getvalue()


def merge_pdfs(parts: Sequence[bytes]) -> bytes:
    """One PDF with the pages of ``parts`` in order (a mixed text-and-scan PDF)."""
    import pypdfium2 as pdfium

    merged = pdfium.PdfDocument.new()
    for data in parts:
        source = pdfium.PdfDocument(data)
        merged.import_pages(source)
        source.close()
    buffer = io.BytesIO()
    merged.save(buffer)
    merged.close()
    return buffer.getvalue()


def character_accuracy(reference: str, read: str) -> float:
    """1 - edit distance / reference length, on whitespace-normalised text."""
    a = " ".join(reference.split())
    b = " ".join(read.split())
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return 1 - previous[-1] / max(1, len(a))


def zip_bomb(kind: str, inflated: int = 60_000_000) -> bytes:
    """A small zip of the right kind whose one part inflates to ``inflated`` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        if kind in ("odt", "ods", "epub"):
            mime = {
                "odt": "application/vnd.oasis.opendocument.text",
                "ods": "application/vnd.oasis.opendocument.spreadsheet",
                "epub": "application/epub+zip",
            }[kind]
            archive.writestr(zipfile.ZipInfo("mimetype"), mime)
        name = {
            "docx": "word/document.xml",
            "pptx": "ppt/slides/slide1.xml",
            "xlsx": "xl/worksheets/sheet1.xml",
        }.get(kind, "content.xml")
        archive.writestr(name, b"<a>" + b" " * inflated + b"</a>")
    return buffer.getvalue()
