"""Document loaders: a file on disk becomes its text plus the metadata the library shows.

Every failure a user can meet (an encrypted PDF, a scan without text, a binary file
with a .txt name, a zip bomb...) is a ``LoadError`` whose reason can be shown as it is.
Text is returned with "\\n" line endings; headings are marked with Markdown "#"
for the formats that have them (Markdown, HTML, DOCX, slides, sheets, e-books, ODT),
so that the Structure chunking strategy can use them. Structure that is not a heading
(PDF pages, slides, sheets, messages of a mailbox) becomes the document's "pages".

The formats added for issue 17 live in ``desktop.library.formats``; a container (an
e-mail) hands back its attached files as ``parts``, loaded here as child documents.
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import io
import json
import logging
import os
import re
import stat
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from desktop.library.formats import documents, images, mail, plain, sheets, slides
from desktop.library.formats.common import (
    Extracted,
    LoadError,
    LoadOptions,
    Part,
    _word_list,
    check_zip,
    decode_text,
    join_pages,
    megabytes,
    normalise_newlines,
)
from desktop.library.formats.html import load_html

logger = logging.getLogger(__name__)

_NAMED_FORMATS = {
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
    ".pptx": "slides",
    ".xlsx": "spreadsheet",
    ".xlsm": "spreadsheet",
    ".ods": "spreadsheet",
    ".eml": "email",
    ".msg": "email",
    ".mbox": "email",
    ".epub": "epub",
    ".rtf": "rtf",
    ".odt": "odt",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
    ".log": "log",
    ".yaml": "config",
    ".yml": "config",
    ".toml": "config",
    ".ini": "config",
    ".cfg": "config",
    ".conf": "config",
    ".properties": "config",
    ".env": "config",
}
#: File extension (lower case, with the dot) → document format; source code by the
#: languages the code loader names.
SUPPORTED_EXTENSIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        **_NAMED_FORMATS,
        **{ext: "code" for ext in plain.LANGUAGES if ext not in _NAMED_FORMATS},
    }
)
FORMATS: tuple[str, ...] = tuple(dict.fromkeys(SUPPORTED_EXTENSIONS.values()))
_PART_DEPTH = 3  # attachments of attachments of attachments, no deeper


@dataclass(frozen=True, kw_only=True)
class LoadedDocument:
    """A loaded file. ``pages`` are offsets into ``text`` where each page starts.

    ``metadata`` holds what the format knows beyond the text (e-mail headers, the
    programming language, hidden sheets, which pages were read by OCR and how
    confidently). ``children`` are the documents attached to it (an e-mail's
    attachments), each with its ``part`` name; ``part_errors`` name the attachments that
    could not be read, with the reason."""

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
    metadata: Mapping[str, Any] = field(default_factory=dict)
    part: str = ""
    children: tuple[LoadedDocument, ...] = ()
    part_errors: tuple[tuple[str, str], ...] = ()


def format_of(path: Path) -> str | None:
    """The format a file's name says, or None (a name without extension is sniffed)."""
    return SUPPORTED_EXTENSIONS.get(path.suffix.lower())


def unsupported_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if not suffix:
        return "no file extension and the content is not text"
    return f"unsupported format “{suffix}”"


def load_document(
    path: Path, *, max_bytes: int | None = None, options: LoadOptions | None = None
) -> LoadedDocument:
    """Read one file and extract its text; raise ``LoadError`` with a readable reason."""
    options = options or LoadOptions()
    if max_bytes is not None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        options = replace(options, max_bytes=max_bytes)
    path = Path(path)
    max_bytes = options.max_bytes
    fmt = format_of(path)
    if fmt is None and path.suffix:
        raise LoadError(path, unsupported_reason(path) + "; supported: " + supported_list())
    try:
        info = path.stat()
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except OSError as error:
        raise LoadError(path, f"cannot read the file ({_os_reason(error)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise LoadError(path, "not a regular file")
    if info.st_size == 0:
        raise LoadError(path, "empty file")
    if info.st_size > max_bytes:
        raise LoadError(
            path,
            f"file too large ({megabytes(info.st_size)}; the limit is {megabytes(max_bytes)})",
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise LoadError(path, f"cannot read the file ({_os_reason(error)})") from None
    if not data:
        raise LoadError(path, "empty file")
    if len(data) > max_bytes:
        raise LoadError(path, f"file too large (over the {megabytes(max_bytes)} limit)")
    if fmt is None:
        fmt = _sniff_extensionless(path, data)
    return load_bytes(path, data, fmt, options, modified_time=info.st_mtime)


def load_bytes(
    path: Path,
    data: bytes,
    fmt: str,
    options: LoadOptions,
    *,
    modified_time: float,
    part: str = "",
    depth: int = 0,
) -> LoadedDocument:
    """Extract a document of ``fmt`` from bytes (a file's, or an attachment's)."""
    extracted = _EXTRACTORS[fmt](path, data, options)
    text = normalise_newlines(extracted.text)
    if not text.strip():
        raise LoadError(path, extracted.metadata.get("empty_reason") or "no text in the file")
    if len(text) > options.max_text_chars:
        raise LoadError(
            path,
            f"too much text ({len(text):,} characters; the limit is "
            f"{options.max_text_chars:,}, setting max_text_chars)",
        )
    name = Path(part).name if part else ""
    title = (extracted.title or "").strip() or (Path(name).stem if name else path.stem)
    children: list[LoadedDocument] = []
    errors: list[tuple[str, str]] = []
    if depth < _PART_DEPTH:
        for attached in extracted.parts:
            label = f"{part} › {attached.name}" if part else attached.name
            child, problem = _load_part(path, attached, label, options, modified_time, depth)
            if child is not None:
                children.append(_without_children(child))
                children.extend(child.children)
                errors.extend(child.part_errors)
            if problem:
                errors.append((label, problem))
    metadata = {k: v for k, v in extracted.metadata.items() if k != "empty_reason"}
    return LoadedDocument(
        path=path,
        title=" ".join(title.split()),
        format=fmt,
        text=text,
        pages=extracted.pages,
        page_count=extracted.page_count,
        encoding=extracted.encoding,
        size_bytes=len(data),
        modified_time=modified_time,
        content_hash=hashlib.sha256(data).hexdigest(),
        metadata=metadata,
        part=part,
        children=tuple(children),
        part_errors=tuple(errors),
    )


def _without_children(document: LoadedDocument) -> LoadedDocument:
    if not document.children and not document.part_errors:
        return document
    return replace(document, children=(), part_errors=())


def _load_part(
    path: Path, attached: Part, label: str, options: LoadOptions, modified: float, depth: int
) -> tuple[LoadedDocument | None, str]:
    if attached.error:
        return None, attached.error
    name = Path(attached.name)
    fmt = format_of(name)
    if fmt is None:
        fmt = None if name.suffix else plain.sniff_text(attached.data)
        if fmt is None:
            return None, unsupported_reason(name)
    if not attached.data:
        return None, "empty attachment"
    if len(attached.data) > options.max_bytes:
        return None, f"attachment too large ({megabytes(len(attached.data))})"
    try:
        child = load_bytes(
            path, attached.data, fmt, options, modified_time=modified, part=label, depth=depth + 1
        )
    except LoadError as error:
        return None, error.reason
    except Exception as error:  # a broken attachment never stops its message
        logger.warning("%s › %s: %r", path, attached.name, error)
        return None, f"cannot be read ({type(error).__name__})"
    return child, ""


def supported_list() -> str:
    return (
        ", ".join(
            sorted({ext for ext in SUPPORTED_EXTENSIONS if format_of(Path("x" + ext)) != "code"})
        )
        + " and source code"
    )


def _os_reason(error: OSError) -> str:
    if error.errno == errno.ENAMETOOLONG:
        return "the path is too long for the system"
    if error.errno == errno.ELOOP:
        return "a link that points back to itself (symlink loop)"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return error.strerror or str(error)


def _sniff_extensionless(path: Path, data: bytes) -> str:
    fmt = plain.sniff_text(data)
    if fmt is None:
        raise LoadError(path, unsupported_reason(path))
    return fmt


def display_path(path: Path | str) -> str:
    """A path as text that can always be shown and stored: bytes that are not UTF-8
    (a file name from an old archive) are written as \\xNN escapes."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def name_is_text(path: Path | str) -> bool:
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def iter_supported_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Supported files among ``paths``, folders searched recursively.

    Within a folder: sorted by relative path, hidden files and folders (".name",
    or hidden on Windows) and Office lock files ("~$name") left out, folder
    symlinks not followed, file links leaving the folder not followed. A file named
    explicitly is yielded if its type is supported, hidden or not. A path that does not
    exist raises FileNotFoundError.
    """
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = walk_folder(path).files
        elif path.is_file():
            candidates = [path] if format_of(path) is not None else []
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


@dataclass
class FolderScan:
    """What a folder holds for an import: the files to try, the files passed over with
    the reason (an unknown format, a link leaving the folder), and what could not be
    looked at (an unreadable folder, a path too long, a link loop)."""

    files: list[Path] = field(default_factory=list)
    passed_over: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def walk_folder(root: Path) -> FolderScan:
    """The files below ``root`` to import (sorted; hidden and lock files left out)."""
    scan = FolderScan()
    real_root = Path(os.path.realpath(root))
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        _scan_entry(entry, real_root, stack, scan)
                    except OSError as error:
                        scan.warnings.append((display_path(entry.path), _os_reason(error)))
        except OSError as error:
            scan.warnings.append(
                (display_path(folder), f"cannot list the folder ({_os_reason(error)})")
            )
    scan.files.sort(key=lambda p: p.relative_to(root).parts)
    scan.passed_over.sort()
    return scan


def _scan_entry(
    entry: os.DirEntry[str], real_root: Path, stack: list[Path], scan: FolderScan
) -> None:
    if _is_hidden(entry):
        return
    shown = display_path(entry.path)
    if entry.is_dir(follow_symlinks=False):
        stack.append(Path(entry.path))
        return
    if entry.is_symlink():
        try:
            target = Path(os.path.realpath(entry.path, strict=True))
        except OSError as error:
            if error.errno == errno.ELOOP:
                scan.warnings.append(
                    (shown, "a link that points back to itself (symlink loop): not followed")
                )
            else:
                scan.warnings.append((shown, "a link to a file or folder that does not exist"))
            return
        if target.is_dir():
            scan.passed_over.append((shown, "a link to a folder: not followed"))
            return
        if not target.is_relative_to(real_root):
            scan.passed_over.append(
                (
                    shown,
                    f"a link to a file outside the imported folder ({display_path(target)}): "
                    "not followed (import that file itself if you want it)",
                )
            )
            return
    if not entry.is_file() or entry.name.startswith("~$"):
        return
    path = Path(entry.path)
    if format_of(path) is not None:
        scan.files.append(path)
    elif not path.suffix:
        scan.files.append(path)  # sniffed when loaded: text is imported, binary reported
    else:
        scan.passed_over.append((shown, unsupported_reason(path)))


# ---------------------------------------------------------------------------
# Plain text, Markdown, CSV, JSON
# ---------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.M)
_ATX_HEADING = re.compile(r"^[ ]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_SETEXT_HEADING = re.compile(r"^[ ]{0,3}(\S[^\n]*)\n[ ]{0,3}=+[ \t]*$", re.M)
_FENCE_LINE = re.compile(r"^[ ]{0,3}(?:```|~~~)", re.M)
_SETEXT_UNDERLINE = re.compile(r"\n[ ]{0,3}=+[ \t]*(?:\n|\Z)")


def _load_text(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    text, encoding = decode_text(path, data)
    return Extracted(text, encoding=encoding)


def _load_markdown(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    text, encoding = decode_text(path, data)
    return Extracted(text, title=_markdown_title(normalise_newlines(text)), encoding=encoding)


def _markdown_title(text: str) -> str | None:
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_MATTER_TITLE.search(front.group(1))
        if found:
            return found.group(1).strip().strip("\"'")
    top = text[:65_536]  # a title is near the top; don't scan a whole book for it
    fences = [m.start() for m in _FENCE_LINE.finditer(top)] if "```" in top or "~~~" in top else []

    def first(found: Iterator[re.Match[str]]) -> re.Match[str] | None:
        # A heading inside a code block (after an odd number of fence lines) is no title.
        return next((m for m in found if bisect.bisect_right(fences, m.start()) % 2 == 0), None)

    # The first heading of each kind, not all of them (a long note has many); the setext
    # pattern tries every line: only run it when an "===" line exists.
    atx = first(_ATX_HEADING.finditer(top))
    setext = first(_SETEXT_HEADING.finditer(top)) if _SETEXT_UNDERLINE.search(top) else None
    found = [m for m in (atx, setext) if m is not None]
    return min(found, key=lambda m: m.start()).group(1).strip() if found else None


def _load_json(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    text, encoding = decode_text(path, data)
    if path.suffix.lower() == ".jsonl":
        records = []
        for number, line in enumerate(normalise_newlines(text).split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append(_pretty_json(json.loads(line)))
            except json.JSONDecodeError as error:
                raise LoadError(path, f"not valid JSON Lines: line {number}: {error.msg}") from None
        return Extracted("\n\n".join(records), encoding=encoding)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LoadError(
            path, f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise LoadError(path, "JSON nested too deeply to read") from None
    return Extracted(_pretty_json(value), encoding=encoding)


def _pretty_json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

# PDFium is not thread-safe: every call into it, in the whole process, holds this lock
# (objects may outlive a call: the lock serialises calls, not documents).
_PDFIUM_LOCK = threading.Lock()
_PDF_CONTROL = re.compile(r"[\x00-\x01\x03-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# PDFium marks a hyphen it thinks was added for line breaking with U+0002.
_PDF_SOFT_HYPHEN = re.compile(r"\x02[ \t]*\r?\n?")
NO_TEXT_LAYER = "no text layer (a scan?) and OCR is off for this import"
OCR_FOUND_NOTHING = "OCR found no text on its {pages}"


def _load_pdf(path: Path, data: bytes, options: LoadOptions) -> Extracted:
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
    ocr: list[dict[str, Any]] = []
    try:
        with _PDFIUM_LOCK:
            title = pdf.get_metadata_value("Title")
            for index in range(len(pdf)):
                try:
                    page_texts.append(_pdf_page_text(pdf, index))
                except pdfium.PdfiumError:
                    logger.warning("%s: page %d cannot be read", path, index + 1)
                    unreadable += 1
                    page_texts.append("")
        if unreadable == len(page_texts):
            raise LoadError(path, "corrupt PDF: no page can be read")
        scanned = [i for i, t in enumerate(page_texts) if not t.strip()]
        if scanned and options.ocr:
            ocr = _ocr_pdf_pages(path, pdf, scanned, page_texts, options)
    finally:
        with _PDFIUM_LOCK:
            pdf.close()
    if not any(t.strip() for t in page_texts):
        if not options.ocr:
            raise LoadError(path, NO_TEXT_LAYER)
        raise LoadError(path, OCR_FOUND_NOTHING.format(pages=_pages_phrase(len(page_texts))))
    text, pages = join_pages(page_texts)
    metadata: dict[str, Any] = {}
    if ocr:
        for entry in ocr:
            start = pages[entry["page"] - 1]
            entry["start"], entry["end"] = start, start + len(page_texts[entry["page"] - 1])
        metadata["ocr"] = ocr
    return Extracted(text, title=title, pages=pages, page_count=len(pages), metadata=metadata)


def _pages_phrase(count: int) -> str:
    return "scanned page" if count == 1 else f"{count} scanned pages"


def _ocr_pdf_pages(
    path: Path, pdf: Any, scanned: list[int], page_texts: list[str], options: LoadOptions
) -> list[dict[str, Any]]:
    """Read the pages without a text layer with OCR, one at a time (rendered under the
    PDFium lock, read outside it); their text goes into ``page_texts``."""
    from desktop.library import ocr

    try:
        engine = ocr.engine()
    except ocr.OcrUnavailable as error:
        logger.warning("%s: %s", path, error)
        return []
    found: list[dict[str, Any]] = []
    for number, index in enumerate(scanned, start=1):
        options.check_cancelled()
        options.report(f"OCR page {index + 1} ({number} of {len(scanned)} scanned)")
        with _PDFIUM_LOCK:
            page = pdf[index]
            try:
                bitmap = page.render(scale=ocr.RENDER_DPI / 72)
                try:
                    pixels = bitmap.to_numpy()[:, :, 2::-1].copy()  # BGR(A) -> RGB
                finally:
                    bitmap.close()
            finally:
                page.close()
        result = engine.read(pixels)
        if result.text.strip():
            page_texts[index] = result.text
            found.append(
                {
                    "page": index + 1,
                    "confidence": round(result.confidence, 4),
                    "turned": result.turned,
                }
            )
    return found


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
    text = normalise_newlines(_PDF_SOFT_HYPHEN.sub("", raw))
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


def _load_docx(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    if data.startswith(_OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise LoadError(path, "encrypted Word document: it needs a password to open")
        raise LoadError(path, "an old Word (.doc) file named .docx: save it as .docx first")
    if not data.startswith(b"PK"):
        raise LoadError(path, "corrupt or not a Word document (.docx)")
    check_zip(path, data, options, "a Word document (.docx)")
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
    text, pages = _split_page_marks(normalise_newlines("\n\n".join(kept)))
    title = (document.core_properties.title or "").strip() or (headings[0] if headings else None)
    return Extracted(text, title=title, pages=pages, page_count=len(pages) if pages else None)


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


_EXTRACTORS: dict[str, Callable[[Path, bytes, LoadOptions], Extracted]] = {
    "text": _load_text,
    "markdown": _load_markdown,
    "csv": _load_text,
    "json": _load_json,
    "html": load_html,
    "pdf": _load_pdf,
    "docx": _load_docx,
    "slides": slides.load_pptx,
    "spreadsheet": sheets.load_spreadsheet,
    "email": mail.load_email,
    "epub": documents.load_epub,
    "rtf": documents.load_rtf,
    "odt": documents.load_odt,
    "image": images.load_image,
    "log": plain.load_log,
    "config": plain.load_code,
    "code": plain.load_code,
}
