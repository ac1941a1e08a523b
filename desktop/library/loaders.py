"""Document loaders: a file on disk becomes its text plus the metadata the library shows.

Every failure a user can meet (an encrypted PDF, a scan without text, a binary file
with a .txt name...) is a ``LoadError`` whose reason can be shown as it is.
Text is returned with "\\n" line endings; headings are marked with Markdown "#"
for the formats that have them (Markdown, HTML, DOCX), so that the Structure
chunking strategy can use them.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import io
import json
import logging
import os
import re
import stat
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

logger = logging.getLogger(__name__)

#: File extension (lower case, with the dot) → document format.
SUPPORTED_EXTENSIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        ".txt": "text",
        ".text": "text",
        ".md": "markdown",
        ".markdown": "markdown",
        ".html": "html",
        ".htm": "html",
        ".xhtml": "html",
        ".pdf": "pdf",
        ".docx": "docx",
        ".csv": "csv",
        ".tsv": "csv",
        ".json": "json",
        ".jsonl": "json",
    }
)
FORMATS: tuple[str, ...] = ("text", "markdown", "html", "pdf", "docx", "csv", "json")


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


@dataclass(frozen=True, kw_only=True)
class LoadedDocument:
    """A loaded file. ``pages`` are offsets into ``text`` where each page starts."""

    path: Path
    title: str
    format: str
    text: str
    pages: tuple[int, ...]
    page_count: int | None
    encoding: str | None  # detected encoding, for the text formats
    size_bytes: int
    modified_time: float  # seconds since the epoch (st_mtime)
    content_hash: str  # sha256 of the file's bytes, hex


@dataclass(frozen=True)
class _Extracted:
    text: str
    title: str | None = None
    pages: tuple[int, ...] = ()
    page_count: int | None = None
    encoding: str | None = None


def load_document(path: Path, *, max_bytes: int) -> LoadedDocument:
    """Read one file and extract its text; raise ``LoadError`` with a readable reason."""
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = SUPPORTED_EXTENSIONS.get(suffix)
    if fmt is None:
        kind = f"“{suffix}”" if suffix else "without an extension"
        raise LoadError(
            path, f"unsupported file type {kind}; supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    try:
        info = path.stat()
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except OSError as error:
        raise LoadError(path, f"cannot read the file ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise LoadError(path, "not a regular file")
    if info.st_size == 0:
        raise LoadError(path, "empty file")
    if info.st_size > max_bytes:
        raise LoadError(
            path,
            f"file too large ({_megabytes(info.st_size)}; the limit is {_megabytes(max_bytes)})",
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise LoadError(path, f"cannot read the file ({error.strerror or error})") from None
    if not data:
        raise LoadError(path, "empty file")
    if len(data) > max_bytes:
        raise LoadError(path, f"file too large (over the {_megabytes(max_bytes)} limit)")

    extracted = _EXTRACTORS[fmt](path, data)
    text = _normalise_newlines(extracted.text)
    if not text.strip():
        raise LoadError(path, "no text in the file")
    title = (extracted.title or "").strip() or path.stem
    return LoadedDocument(
        path=path,
        title=" ".join(title.split()),
        format=fmt,
        text=text,
        pages=extracted.pages,
        page_count=extracted.page_count,
        encoding=extracted.encoding,
        size_bytes=len(data),
        modified_time=info.st_mtime,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def iter_supported_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Supported files among ``paths``, folders searched recursively.

    Within a folder: sorted by relative path, hidden files and folders (".name",
    or hidden on Windows) and Office lock files ("~$name") left out, folder
    symlinks not followed. A file named explicitly is yielded if its type is
    supported, hidden or not. A path that does not exist raises FileNotFoundError.
    """
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = _walk(path)
        elif path.is_file():
            candidates = [path] if path.suffix.lower() in SUPPORTED_EXTENSIONS else []
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                yield candidate


def _is_hidden(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return True
    if os.name != "nt":
        return False
    attributes = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    return bool(attributes & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def _walk(root: Path) -> list[Path]:
    return walk_folder(root)[0]


def walk_folder(root: Path) -> tuple[list[Path], int]:
    """The supported files below ``root`` (sorted, hidden and lock files left out) and
    how many other files were passed over."""
    found: list[Path] = []
    passed_over = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if _is_hidden(entry):
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file() and not entry.name.startswith("~$"):
                            if os.path.splitext(entry.name)[1].lower() in SUPPORTED_EXTENSIONS:
                                found.append(Path(entry.path))
                            else:
                                passed_over += 1
                    except OSError as error:
                        logger.warning("Skipping %s: %s", entry.path, error)
        except OSError as error:
            logger.warning("Cannot list %s: %s", folder, error)
    found.sort(key=lambda p: p.relative_to(root).parts)
    return found, passed_over


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _normalise_newlines(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


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


# ---------------------------------------------------------------------------
# Plain text, Markdown, CSV, JSON
# ---------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.M)
_ATX_HEADING = re.compile(r"^[ ]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_SETEXT_HEADING = re.compile(r"^[ ]{0,3}(\S[^\n]*)\n[ ]{0,3}=+[ \t]*$", re.M)
_FENCE_LINE = re.compile(r"^[ ]{0,3}(?:```|~~~)", re.M)


def _load_text(path: Path, data: bytes) -> _Extracted:
    text, encoding = _decode_text(path, data)
    return _Extracted(text, encoding=encoding)


def _load_markdown(path: Path, data: bytes) -> _Extracted:
    text, encoding = _decode_text(path, data)
    return _Extracted(text, title=_markdown_title(_normalise_newlines(text)), encoding=encoding)


def _markdown_title(text: str) -> str | None:
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_MATTER_TITLE.search(front.group(1))
        if found:
            return found.group(1).strip().strip("\"'")
    top = text[:65_536]  # a title is near the top; don't scan a whole book for it
    fences = [m.start() for m in _FENCE_LINE.finditer(top)]
    for match in sorted(
        [*_ATX_HEADING.finditer(top), *_SETEXT_HEADING.finditer(top)], key=lambda m: m.start()
    ):
        # A heading inside a code block (after an odd number of fence lines) is no title.
        if bisect.bisect_right(fences, match.start()) % 2 == 0:
            return match.group(1).strip()
    return None


def _load_json(path: Path, data: bytes) -> _Extracted:
    text, encoding = _decode_text(path, data)
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(_normalise_newlines(text).split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(_pretty_json(json.loads(line)))
            except json.JSONDecodeError as error:
                raise LoadError(path, f"not valid JSON Lines: line {number}: {error.msg}") from None
        return _Extracted("\n\n".join(records), encoding=encoding)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LoadError(
            path, f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise LoadError(path, "JSON nested too deeply to read") from None
    return _Extracted(_pretty_json(value), encoding=encoding)


def _pretty_json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_SKIPPED_TAGS = frozenset(
    _word_list(
        "script style nav noscript template svg math head iframe object embed canvas select button"
    )
)
_BLOCK_TAGS = frozenset(
    _word_list(
        "address article aside blockquote body caption center dd details dialog div dl dt "
        "fieldset figcaption figure footer form header hgroup hr html li main menu ol p pre "
        "section summary table tbody tfoot thead tr ul"
    )
)
_HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
_SPACES = re.compile(r"\s+")


def _load_html(path: Path, data: bytes) -> _Extracted:
    found = _META_CHARSET.search(data[:4096])
    declared = found.group(1).decode("ascii").lower() if found else None
    if declared in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        declared = "cp1252"  # what browsers do, as the HTML standard says
    text, encoding = _decode_text(path, data, declared)
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(text)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    body = tree.body if tree.body is not None else tree.root
    converter = _HtmlText()
    if body is not None:
        converter.convert(body)
    if not title:
        title = converter.first_h1 or ""
    return _Extracted(converter.result(), title=title, encoding=encoding)


class _HtmlText:
    """Turns an HTML tree into readable text with Markdown-style headings and lists.

    Walks the tree with an explicit stack: real pages nest deeper than Python's
    recursion limit allows.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._pending_break = 0  # line breaks owed before the next text (1 or 2)
        self._pre = 0
        self._heading: list[str] | None = None
        self._list_depth = 0
        self._cells_in_row: list[int] = []
        self.first_h1: str | None = None

    def convert(self, root: Any) -> None:
        stack: list[tuple[Any, bool]] = [(root, True)]
        while stack:
            node, entering = stack.pop()
            tag = node.tag
            if tag == "-text":
                if entering:
                    self._text(node.text_content or "")
                continue
            if tag is None or tag.startswith(("-", "!")):
                continue
            if entering:
                if tag in _SKIPPED_TAGS or "hidden" in node.attributes:
                    continue
                self._open(tag)
                stack.append((node, False))
                children = []
                child = node.child
                while child is not None:
                    children.append(child)
                    child = child.next
                stack.extend((c, True) for c in reversed(children))
            else:
                self._close(tag)

    def _break(self, count: int) -> None:
        self._pending_break = max(self._pending_break, count)

    def _emit(self, text: str) -> None:
        if self._heading is not None:
            self._heading.append(text)
            return
        if self._pending_break and self._parts:
            self._parts.append("\n" * self._pending_break)
        self._pending_break = 0
        self._parts.append(text)

    def _text(self, text: str) -> None:
        if self._pre:
            self._emit(text)
            return
        collapsed = _SPACES.sub(" ", text)
        at_line_start = (
            self._pending_break > 0 or not self._parts or self._parts[-1].endswith((" ", "\n"))
        )
        if self._heading is None and at_line_start:
            collapsed = collapsed.lstrip()
        if collapsed:
            self._emit(collapsed)

    def _open(self, tag: str) -> None:
        if tag in _HEADING_TAGS:
            self._break(2)
            self._heading = []
        elif tag == "br":
            if self._heading is not None:
                self._heading.append(" ")
            else:
                self._trim_trailing_space()
                self._parts.append("\n")
        elif tag == "pre":
            self._break(2)
            self._pre += 1
        elif tag in ("ul", "ol"):
            self._break(2 if self._list_depth == 0 else 1)
            self._list_depth += 1
        elif tag == "li":
            self._break(1)
            self._emit("  " * max(0, self._list_depth - 1) + "- ")
        elif tag == "tr":
            self._break(1)
            self._cells_in_row.append(0)
        elif tag in ("td", "th"):
            if self._cells_in_row:
                if self._cells_in_row[-1]:
                    self._trim_trailing_space()
                    self._emit(" | ")
                self._cells_in_row[-1] += 1
        elif tag in ("p", "blockquote", "table", "figure", "hr", "dl"):
            self._break(2)
        elif tag in _BLOCK_TAGS:
            self._break(1)

    def _close(self, tag: str) -> None:
        if tag in _HEADING_TAGS:
            words = "".join(self._heading or ()).split()
            self._heading = None
            if words:
                title = " ".join(words)
                if tag == "h1" and self.first_h1 is None:
                    self.first_h1 = title
                self._emit("#" * _HEADING_TAGS[tag] + " " + title)
            self._break(2)
        elif tag == "pre":
            self._pre -= 1
            self._break(2)
        elif tag in ("ul", "ol"):
            self._list_depth -= 1
            self._break(2 if self._list_depth == 0 else 1)
        elif tag == "tr":
            if self._cells_in_row:
                self._cells_in_row.pop()
            self._break(1)
        elif tag in ("p", "blockquote", "table", "figure", "hr", "dl"):
            self._break(2)
        elif tag in _BLOCK_TAGS:
            self._break(1)

    def _trim_trailing_space(self) -> None:
        if self._parts and self._parts[-1].endswith(" "):
            self._parts[-1] = self._parts[-1].rstrip(" ")

    def result(self) -> str:
        lines = "".join(self._parts).split("\n")
        text = "\n".join(line.rstrip() for line in lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

# PDFium is not thread-safe: one document at a time in the whole process.
_PDFIUM_LOCK = threading.Lock()
_PDF_CONTROL = re.compile(r"[\x00-\x01\x03-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# PDFium marks a hyphen it thinks was added for line breaking with U+0002.
_PDF_SOFT_HYPHEN = re.compile(r"\x02[ \t]*\r?\n?")
NO_TEXT_LAYER = "no text layer: scanned? needs OCR"


def _load_pdf(path: Path, data: bytes) -> _Extracted:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    page_texts: list[str] = []
    unreadable = 0
    with _PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as error:
            code = getattr(error, "err_code", None)
            if code == pdfium_c.FPDF_ERR_PASSWORD:
                raise LoadError(path, "encrypted PDF: it needs a password to open") from None
            if code == pdfium_c.FPDF_ERR_SECURITY:
                raise LoadError(path, "encrypted PDF with an unsupported security scheme") from None
            if code == pdfium_c.FPDF_ERR_SUCCESS:
                raise LoadError(path, "the PDF has no pages") from None
            raise LoadError(path, "corrupt or not a PDF file") from None
        try:
            title = pdf.get_metadata_value("Title")
            for index in range(len(pdf)):
                try:
                    page_texts.append(_pdf_page_text(pdf, index))
                except pdfium.PdfiumError:
                    logger.warning("%s: page %d cannot be read", path, index + 1)
                    unreadable += 1
                    page_texts.append("")
        finally:
            pdf.close()
    if unreadable == len(page_texts):
        raise LoadError(path, "corrupt PDF: no page can be read")
    if not any(t.strip() for t in page_texts):
        raise LoadError(path, NO_TEXT_LAYER)
    empty = sum(1 for t in page_texts if not t.strip())
    if empty:
        logger.info("%s: %d of %d pages have no text layer", path, empty, len(page_texts))
    pages: list[int] = []
    parts: list[str] = []
    offset = 0
    for page_text in page_texts:
        if parts:
            parts.append("\n\n")
            offset += 2
        pages.append(offset)
        parts.append(page_text)
        offset += len(page_text)
    return _Extracted("".join(parts), title=title, pages=tuple(pages), page_count=len(pages))


def _pdf_page_text(pdf: Any, index: int) -> str:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            raw = textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()
    text = _normalise_newlines(_PDF_SOFT_HYPHEN.sub("", raw))
    text = _PDF_CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


# ---------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.I)
# Runs' children that carry no text of the document body.
_DOCX_SKIPPED = frozenset(
    f"{_W}{name}"
    for name in _word_list(
        "del moveFrom instrText delText delInstrText footnoteReference endnoteReference "
        "commentReference drawing pict object rPr pPr"
    )
) | {"{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"}
_PAGE_BREAK = "\x0c"  # marks a page start while the text is assembled


def _load_docx(path: Path, data: bytes) -> _Extracted:
    if data.startswith(_OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise LoadError(path, "encrypted Word document: it needs a password to open")
        raise LoadError(path, "an old Word (.doc) file named .docx: save it as .docx first")
    if not data.startswith(b"PK"):
        raise LoadError(path, "corrupt or not a Word document (.docx)")
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as error:
        logger.info("%s: %s", path, error)
        raise LoadError(path, "corrupt or not a Word document (.docx)") from None
    except Exception as error:  # lxml errors for damaged XML parts
        logger.info("%s: %r", path, error)
        raise LoadError(path, "corrupt Word document (.docx)") from None
    styles = {style.style_id: style.name or "" for style in document.styles}
    blocks: list[str] = []
    headings: list[str] = []
    _docx_blocks(document.element.body, styles, blocks, headings)
    # A paragraph holding only a page break passes the break on to the next block.
    kept: list[str] = []
    marks = ""
    for block in blocks:
        if block.strip(_PAGE_BREAK + " \t\n"):
            kept.append(marks + block)
            marks = ""
        else:
            marks += _PAGE_BREAK * block.count(_PAGE_BREAK)
    text, pages = _split_page_marks(_normalise_newlines("\n\n".join(kept)))
    title = (document.core_properties.title or "").strip() or (headings[0] if headings else None)
    return _Extracted(text, title=title, pages=pages, page_count=len(pages) if pages else None)


def _docx_blocks(
    container: Any, styles: dict[str, str], out: list[str], headings: list[str]
) -> None:
    """Paragraphs and tables of a body, cell or content control, in document order."""
    for child in container.iterchildren():
        tag = child.tag
        if tag == f"{_W}p":
            out.append(_docx_paragraph(child, styles, headings))
        elif tag == f"{_W}tbl":
            out.append(_docx_table(child, styles, headings))
        elif tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins"):
            _docx_blocks(child, styles, out, headings)


def _docx_paragraph(paragraph: Any, styles: dict[str, str], headings: list[str]) -> str:
    text = _docx_run_text(paragraph)
    style_id = paragraph.xpath("string(./w:pPr/w:pStyle/@w:val)")
    style_name = styles.get(style_id, style_id)
    level = 1 if style_name.lower() == "title" else None
    match = _HEADING_STYLE.match(style_name)
    if match:
        level = min(int(match.group(1)), 6)
    body = text.replace(_PAGE_BREAK, "")
    marks = _PAGE_BREAK if _PAGE_BREAK in text else ""
    if level is not None and body.strip():
        title = " ".join(body.split())
        headings.append(title)
        # A heading stays on one line; a page break inside it moves to its start.
        return marks + "#" * level + " " + title
    is_list = bool(paragraph.xpath("./w:pPr/w:numPr")) or style_name.lower().startswith("list")
    if is_list and body.strip():
        return "- " + text.lstrip()
    return text


def _docx_table(table: Any, styles: dict[str, str], headings: list[str]) -> str:
    rows = []
    for row in table.iterchildren(f"{_W}tr"):
        cells = []
        for cell in row.iterchildren(f"{_W}tc"):
            parts: list[str] = []
            _docx_blocks(cell, styles, parts, headings)
            cells.append(" ".join(" ".join(p.split()) for p in parts if p.strip()))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _docx_run_text(paragraph: Any) -> str:
    """The visible text of a paragraph, with page breaks as ``_PAGE_BREAK``."""
    out: list[str] = []
    stack = list(reversed(list(paragraph.iterchildren())))
    while stack:
        element = stack.pop()
        tag = element.tag
        if not isinstance(tag, str) or tag in _DOCX_SKIPPED:
            continue
        if tag == f"{_W}t":
            out.append(element.text or "")
        elif tag == f"{_W}tab":
            out.append("\t")
        elif tag == f"{_W}br":
            page = element.get(f"{_W}type") == "page"
            out.append(_PAGE_BREAK if page else "\n")
        elif tag == f"{_W}cr":
            out.append("\n")
        elif tag == f"{_W}lastRenderedPageBreak":
            out.append(_PAGE_BREAK)
        elif tag == f"{_W}noBreakHyphen":
            out.append("-")
        else:
            stack.extend(reversed(list(element.iterchildren())))
    return "".join(out)


def _split_page_marks(raw: str) -> tuple[str, tuple[int, ...]]:
    """Remove page marks; return the text and page start offsets (empty if none).

    A page starts at the first character after its mark, so an explicit break and
    Word's "last rendered" break for the same page give one start.
    """
    if _PAGE_BREAK not in raw:
        return raw, ()
    pieces = raw.split(_PAGE_BREAK)
    text_parts: list[str] = []
    starts = [0]
    length = 0
    for number, piece in enumerate(pieces):
        if number:
            starts.append(length)
        text_parts.append(piece)
        length += len(piece)
    text = "".join(text_parts)
    snapped: list[int] = []
    for start in starts:
        position = start
        while position < len(text) and text[position].isspace():
            position += 1
        if position < len(text) and (not snapped or position > snapped[-1]):
            snapped.append(position)
    if snapped:
        snapped[0] = 0
    return text, tuple(snapped) if len(snapped) > 1 else ()


_EXTRACTORS: dict[str, Callable[[Path, bytes], _Extracted]] = {
    "text": _load_text,
    "markdown": _load_markdown,
    "csv": _load_text,
    "json": _load_json,
    "html": _load_html,
    "pdf": _load_pdf,
    "docx": _load_docx,
}
