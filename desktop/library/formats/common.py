"""What every loader shares: the error a user sees, the extracted result, the limits
that keep a small hostile file from becoming gigabytes, and text decoding."""

from __future__ import annotations

import codecs
import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def _word_list(words: str) -> list[str]:
    """A list written as one string of space-separated words, to keep tables short."""
    return words.split()


class LoadError(Exception):
    """A file that cannot become a document; ``reason`` is written for the user."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path.name}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class LoadOptions:
    """Limits and choices for one import, from the settings.

    ``max_unzipped_bytes`` caps what a zip-based file (docx, pptx, xlsx, odt, epub...)
    may decompress to; ``max_text_chars`` caps the text of one document. ``progress``
    hears "page 3 of 12" from long loads (OCR); ``cancelled`` is asked between pages.
    """

    max_bytes: int = 50 * 1024 * 1024
    max_unzipped_bytes: int = 500 * 1024 * 1024
    max_text_chars: int = 20_000_000
    ocr: bool = True
    progress: Callable[[str], None] | None = None
    cancelled: Callable[[], bool] | None = None

    def report(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def check_cancelled(self) -> None:
        if self.cancelled is not None and self.cancelled():
            from desktop.progress import Cancelled

            raise Cancelled


@dataclass(frozen=True)
class Part:
    """A document inside another file (an e-mail's attachment): its name and bytes, and
    what became of it (``error`` when it could not be read)."""

    name: str
    data: bytes = b""
    error: str = ""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()
    page_count: int | None = None
    encoding: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    parts: tuple[Part, ...] = ()


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def normalise_newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def join_pages(texts: list[str]) -> tuple[str, tuple[int, ...]]:
    """Page texts joined by blank lines, and the offset where each page starts."""
    pages: list[int] = []
    parts: list[str] = []
    offset = 0
    for page_text in texts:
        if parts:
            parts.append("\n\n")
            offset += 2
        pages.append(offset)
        parts.append(page_text)
        offset += len(page_text)
    return "".join(parts), tuple(pages)


def open_zip(path: Path, data: bytes, options: LoadOptions, kind: str) -> zipfile.ZipFile:
    """A zip-based document, refused before anything is decompressed when its parts
    would decompress to more than the limit (a "zip bomb": 0.5 MB that inflates to
    gigabytes). Python's zipfile stops each part at its declared size, so the declared
    sizes are what a reader can get."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise LoadError(path, f"corrupt or not {kind}") from None
    total = sum(member.file_size for member in members)
    if total > options.max_unzipped_bytes:
        raise LoadError(
            path,
            f"decompresses to {megabytes(total)}, over the limit of "
            f"{megabytes(options.max_unzipped_bytes)} (setting max_unzipped_mb)",
        )
    return archive


def check_zip(path: Path, data: bytes, options: LoadOptions, kind: str) -> None:
    open_zip(path, data, options, kind).close()


# ---------------------------------------------------------------------------
# Text encodings
# ---------------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_BINARY_REASON = "binary data, not text (is the file extension right?)"


def _decode_text(path: Path, data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode the bytes of a text file: BOM, then a declared encoding, then UTF-8,
    then charset-normalizer's guess (cp1252, Shift-JIS, ...). Rejects binary data."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec.removesuffix("-sig"))
            except UnicodeDecodeError:
                raise LoadError(path, f"not valid {codec} text ({_BINARY_REASON})") from None
            return _checked_text(path, text), codec
    if b"\x00" in data:
        codec = _bomless_utf16(data)
        if codec is None:
            raise LoadError(path, f"contains NUL bytes: {_BINARY_REASON}")
        try:
            return _checked_text(path, data.decode(codec)), codec
        except UnicodeDecodeError:
            raise LoadError(path, f"contains NUL bytes: {_BINARY_REASON}") from None
    if declared:
        try:
            codec = codecs.lookup(declared).name
            return _checked_text(path, data.decode(codec)), codec
        except (LookupError, UnicodeDecodeError):
            logger.info("%s: declared encoding %r does not fit; detecting", path, declared)
    try:
        return _checked_text(path, data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    codec = _guess_encoding(data)
    if codec is None:
        raise LoadError(path, f"unknown text encoding or {_BINARY_REASON}")
    try:
        return _checked_text(path, data.decode(codec)), codec
    except UnicodeDecodeError:
        raise LoadError(path, f"unknown text encoding or {_BINARY_REASON}") from None


# charset-normalizer often names a sibling of cp1252 for Western European text
# (cp1250 for German, cp1257 for French). cp1252 is by far the most common legacy
# encoding, so when it reads the bytes about as cleanly (0.2 is charset-normalizer's
# own threshold of acceptable "chaos"), it wins.
_LATIN_SIBLINGS = frozenset(
    _word_list(
        "cp1250 cp1254 cp1257 cp1258 cp775 cp850 cp852 cp857 cp858 iso8859_2 iso8859_4 "
        "iso8859_9 iso8859_10 iso8859_13 iso8859_15 latin_1 mac_latin2 mac_roman mac_iceland"
    )
)


def _guess_encoding(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    if best is None:
        return None
    if best.encoding in _LATIN_SIBLINGS:
        for match in results:
            if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos + 0.2:
                return "cp1252"
    return codecs.lookup(best.encoding).name


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM shows as NUL in every other byte for Latin text."""
    sample = data[:4096]
    if len(sample) < 4 or len(data) % 2:
        return None
    even = sample[0::2].count(0) / (len(sample) / 2)
    odd = sample[1::2].count(0) / (len(sample) / 2)
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


def _checked_text(path: Path, text: str) -> str:
    """Reject text that decoded but is mostly control characters (a binary file)."""
    sample = text[:100_000]
    if sample and len(_CONTROL.findall(sample)) > max(2, len(sample) // 100):
        raise LoadError(path, _BINARY_REASON)
    return text


decode_text = _decode_text


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def ole_office_error(path: Path, data: bytes, kind: str, old: str, new: str) -> None:
    """An OOXML file (.docx, .pptx, .xlsx) that is really an OLE compound file is either
    password-protected (Office encrypts into an OLE container) or an old binary file."""
    if data.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise LoadError(path, f"encrypted {kind}: it needs a password to open")
        raise LoadError(path, f"an old {kind} ({old}) named {new}: save it as {new} first")
