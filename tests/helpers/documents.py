"""Builders for real document files (PDF, DOCX, text in several encodings), made at
test time so no binary fixture lives in the repository.

PDFs are written by hand: a minimal PDF 1.4 file with one Helvetica text object per
page and exact xref offsets. ``make_encrypted_pdf`` implements the standard
security handler (revision 2, 40-bit RC4), enough for PDFium to ask for a password.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# -- PDF ---------------------------------------------------------------------

_PASSWORD_PADDING = bytes.fromhex(
    "28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A"
)
_GRAY_IMAGE = bytes([0, 96, 160, 255] * 16)  # an 8x8 grayscale "scan"


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _pdf_literal(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


@dataclass
class _Encryption:
    user_password: str
    owner_password: str
    permissions: int = -44
    file_id: bytes = field(default_factory=lambda: hashlib.md5(b"ragtune test").digest())

    def __post_init__(self) -> None:
        user = self._pad(self.user_password)
        owner_key = hashlib.md5(self._pad(self.owner_password)).digest()[:5]
        self.owner_entry = _rc4(owner_key, user)
        self.key = hashlib.md5(
            user + self.owner_entry + struct.pack("<i", self.permissions) + self.file_id
        ).digest()[:5]
        self.user_entry = _rc4(self.key, _PASSWORD_PADDING)

    @staticmethod
    def _pad(password: str) -> bytes:
        return (password.encode("latin-1") + _PASSWORD_PADDING)[:32]

    def object_key(self, number: int) -> bytes:
        return hashlib.md5(self.key + struct.pack("<I", number)[:3] + b"\x00\x00").digest()[:10]

    def dictionary(self) -> bytes:
        return (
            b"<< /Filter /Standard /V 1 /R 2 /O <"
            + self.owner_entry.hex().encode()
            + b"> /U <"
            + self.user_entry.hex().encode()
            + b"> /P "
            + str(self.permissions).encode()
            + b" >>"
        )


class _PdfWriter:
    def __init__(self, encryption: _Encryption | None = None) -> None:
        self.objects: list[bytes] = []
        self.encryption = encryption

    def reserve(self) -> int:
        self.objects.append(b"")
        return len(self.objects)

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def add(self, body: bytes) -> int:
        number = self.reserve()
        self.set(number, body)
        return number

    def string(self, number: int, text: str) -> bytes:
        if self.encryption is None:
            return _pdf_literal(text)
        return (
            b"<"
            + _rc4(self.encryption.object_key(number), text.encode("cp1252")).hex().encode()
            + b">"
        )

    def stream(self, number: int, dictionary: bytes, data: bytes) -> bytes:
        if self.encryption is not None:
            data = _rc4(self.encryption.object_key(number), data)
        return (
            b"<< "
            + dictionary
            + b" /Length "
            + str(len(data)).encode()
            + b" >>\nstream\n"
            + data
            + b"\nendstream"
        )

    def build(self, root: int, info: int | None) -> bytes:
        encrypt = self.add(self.encryption.dictionary()) if self.encryption else None
        out = io.BytesIO()
        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            offsets.append(out.tell())
            out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
        xref = out.tell()
        out.write(f"xref\n0 {len(self.objects) + 1}\n".encode())
        out.write(b"0000000000 65535 f \n")
        for offset in offsets:
            out.write(f"{offset:010d} 00000 n \n".encode())
        trailer = f"<< /Size {len(self.objects) + 1} /Root {root} 0 R".encode()
        if info is not None:
            trailer += f" /Info {info} 0 R".encode()
        if self.encryption is not None:
            file_id = self.encryption.file_id.hex().encode()
            trailer += f" /Encrypt {encrypt} 0 R".encode()
            trailer += b" /ID [<" + file_id + b"> <" + file_id + b">]"
        out.write(b"trailer\n" + trailer + b" >>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n")
        return out.getvalue()


def _build_pdf(
    pages: Sequence[str | None], title: str | None, encryption: _Encryption | None
) -> bytes:
    writer = _PdfWriter(encryption)
    catalog = writer.reserve()
    page_tree = writer.reserve()
    font = writer.add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    kids = []
    for text in pages:
        content = writer.reserve()
        if text is None:
            image = writer.reserve()
            writer.set(
                image,
                writer.stream(
                    image,
                    b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
                    b"/BitsPerComponent 8",
                    _GRAY_IMAGE,
                ),
            )
            resources = f"<< /XObject << /Im1 {image} 0 R >> >>".encode()
            data = b"q 400 0 0 500 100 150 cm /Im1 Do Q"
        else:
            resources = f"<< /Font << /F1 {font} 0 R >> >>".encode()
            # Strings inside a content stream are encrypted with the stream, not alone.
            lines = [_pdf_literal(line) + b" Tj" for line in text.split("\n")]
            data = b"BT /F1 12 Tf 14 TL 72 740 Td " + b" T* ".join(lines) + b" ET"
        writer.set(content, writer.stream(content, b"", data))
        kids.append(
            writer.add(
                f"<< /Type /Page /Parent {page_tree} 0 R /MediaBox [0 0 612 792] "
                f"/Contents {content} 0 R /Resources ".encode()
                + resources
                + b" >>"
            )
        )
    writer.set(catalog, f"<< /Type /Catalog /Pages {page_tree} 0 R >>".encode())
    kid_refs = " ".join(f"{kid} 0 R" for kid in kids)
    writer.set(page_tree, f"<< /Type /Pages /Kids [{kid_refs}] /Count {len(kids)} >>".encode())
    info = None
    if title is not None:
        info = writer.reserve()
        writer.set(info, b"<< /Title " + writer.string(info, title) + b" >>")
    return writer.build(catalog, info)


def make_pdf(pages: Sequence[str | None], *, title: str | None = None) -> bytes:
    """A PDF with one page per item: its text (lines split on "\\n"; cp1252 characters
    only, as Helvetica has no others), or None for a scanned page (an image, no text)."""
    return _build_pdf(pages, title, None)


def make_encrypted_pdf(
    pages: Sequence[str], *, user_password: str = "secret", owner_password: str = "owner"
) -> bytes:
    """A PDF encrypted with the standard security handler; opening it needs
    ``user_password`` (an empty one opens without asking)."""
    return _build_pdf(pages, None, _Encryption(user_password, owner_password))


# -- DOCX --------------------------------------------------------------------

DocxBlock = tuple[object, ...]


def make_docx(blocks: Sequence[DocxBlock], *, title: str | None = None) -> bytes:
    """A Word document written by python-docx. Blocks, in order:
    ("heading", level, text), ("paragraph", text), ("bullet", text),
    ("table", [[cell, ...], ...]), ("page_break",)."""
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for block in blocks:
        kind = block[0]
        if kind == "heading":
            document.add_heading(str(block[2]), int(block[1]))  # type: ignore[call-overload]
        elif kind == "paragraph":
            document.add_paragraph(str(block[1]))
        elif kind == "bullet":
            document.add_paragraph(str(block[1]), style="List Bullet")
        elif kind == "table":
            rows = block[1]
            assert isinstance(rows, list)
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = str(value)
        elif kind == "page_break":
            document.add_page_break()
        else:
            raise ValueError(f"unknown block {kind!r}")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_encrypted_office_file() -> bytes:
    """The start of a password-protected Office file: an OLE compound file holding an
    "EncryptionInfo" stream (enough for the loader to recognise it, not to open it)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    return header + "EncryptionInfo".encode("utf-16-le") + bytes(512)


# -- Text and markup ---------------------------------------------------------

PROSE = (
    "Retrieval works best when each passage answers one question. "
    "The library splits documents into chunks before they are embedded. "
    "Café owners in Zürich said “yes” to the survey — 42 of them. "
)


def make_html(title: str, body: str, *, charset: str | None = "utf-8", extra_head: str = "") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f"<!DOCTYPE html><html><head>{meta}<title>{title}</title>{extra_head}</head>"
        f"<body>{body}</body></html>"
    )


def write_mixed_folder(folder: Path) -> dict[str, str]:
    """Good files of every format plus broken ones; returns name -> expected outcome."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text(
        "Sync runs every five minutes.\n\nConflicts keep both copies.", encoding="utf-8"
    )
    (folder / "guide.md").write_text(
        "# Guide\n\nIntro.\n\n## Install\n\nRun the installer.\n\n## Configure\n\nSet the "
        "sync interval.\n",
        encoding="utf-8",
    )
    (folder / "page.html").write_text(
        make_html("Pricing", "<h1>Plans</h1><p>The team plan costs 12 euros.</p>"), encoding="utf-8"
    )
    (folder / "manual.pdf").write_bytes(
        make_pdf(["Chapter one: the appliance.", "Chapter two: the cloud."])
    )
    (folder / "policy.docx").write_bytes(
        make_docx([("heading", 1, "Refunds"), ("paragraph", "Refunds take 14 days.")])
    )
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return {
        "notes.txt": "added",
        "guide.md": "added",
        "page.html": "added",
        "manual.pdf": "added",
        "policy.docx": "added",
        "corrupt.pdf": "skipped",
        "binary.txt": "skipped",
    }


def write_notes(
    folder: Path, numbers: Iterable[int], name: str, text: str | Callable[[int], str]
) -> Path:
    """Numbered Markdown notes in ``folder``: ``name`` and ``text`` formatted with each
    number (``text`` may instead be a function of it). Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        body = text(n) if callable(text) else text.format(n)
        (folder / name.format(n)).write_text(body, encoding="utf-8")
    return folder
