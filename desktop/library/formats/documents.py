"""Book and word-processor formats: EPUB (zipfile + lxml; ebooklib is AGPL), RTF
(striprtf) and OpenDocument text (.odt, lxml over content.xml). EPUB chapters are
"pages" that start with their table-of-contents title as a heading."""

from __future__ import annotations

import logging
import posixpath
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from desktop.library.formats.common import (
    Extracted,
    LoadError,
    LoadOptions,
    join_pages,
    open_zip,
)
from desktop.library.formats.html import html_text

logger = logging.getLogger(__name__)

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "x": "http://www.w3.org/1999/xhtml",
}
# Font obfuscation is not DRM: the text stays readable.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_EPUB = "an EPUB e-book"


def _xml(data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(data, parser)


def load_epub(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    from lxml.etree import XMLSyntaxError

    with open_zip(path, data, options, _EPUB) as archive:
        names = set(archive.namelist())
        try:
            if "META-INF/encryption.xml" in names:
                encryption = _xml(archive.read("META-INF/encryption.xml"))
                methods = {e.get("Algorithm") for e in encryption.iter("{*}EncryptionMethod")}
                if methods - _FONT_OBFUSCATION:
                    raise LoadError(path, "a DRM-protected EPUB: its text is encrypted")
            container = _xml(archive.read("META-INF/container.xml"))
            rootfile = container.find(".//c:rootfile", _NS)
            if rootfile is None:
                raise LoadError(path, "damaged EPUB e-book: no package document")
            package_path = rootfile.get("full-path") or ""
            package = _xml(archive.read(package_path))
            return _epub_text(path, archive, package, posixpath.dirname(package_path), options)
        except (KeyError, XMLSyntaxError, ValueError) as error:
            logger.info("%s: %r", path, error)
            raise LoadError(path, "damaged or not an EPUB e-book") from None


def _epub_text(
    path: Path, archive: Any, package: Any, base: str, options: LoadOptions
) -> Extracted:
    title = package.findtext(".//dc:title", default="", namespaces=_NS).strip()
    manifest = {item.get("id"): item for item in package.iterfind(".//opf:manifest/opf:item", _NS)}

    def href(item: Any, folder: str = base) -> str:
        return posixpath.normpath(posixpath.join(folder, unquote(item.get("href") or "")))

    toc = _epub_toc(archive, package, manifest, href)
    texts: list[str] = []
    for reference in package.iterfind(".//opf:spine/opf:itemref", _NS):
        options.check_cancelled()
        item = manifest.get(reference.get("idref"))
        if item is None or item.get("media-type") not in ("application/xhtml+xml", "text/html"):
            continue
        chapter_path = href(item)
        markup = archive.read(chapter_path).decode("utf-8", "replace")
        body, _ = html_text(markup)
        if not body.strip():
            continue
        heading = toc.get(chapter_path)
        if heading and not body.lstrip().startswith("#"):
            body = f"# {heading}\n\n{body}"
        texts.append(body)
    if not texts:
        return Extracted("", title=title, metadata={"empty_reason": "the e-book has no text"})
    text, pages = join_pages(texts)
    return Extracted(text, title=title or None, pages=pages, page_count=len(pages))


def _epub_toc(archive: Any, package: Any, manifest: dict[str, Any], href: Any) -> dict[str, str]:
    """Chapter file → its title in the table of contents (EPUB 3 nav, else EPUB 2 NCX)."""
    toc: dict[str, str] = {}
    nav = next((i for i in manifest.values() if "nav" in (i.get("properties") or "").split()), None)
    if nav is not None:
        document = _xml(archive.read(href(nav)))
        folder = posixpath.dirname(href(nav))
        for link in document.iterfind(".//x:nav//x:a", _NS):
            target = unquote((link.get("href") or "").split("#")[0])
            name = " ".join("".join(link.itertext()).split())
            if target and name:
                toc.setdefault(posixpath.normpath(posixpath.join(folder, target)), name)
        return toc
    spine = package.find(".//opf:spine", _NS)
    ncx_id = spine.get("toc") if spine is not None else None
    if ncx_id in manifest:
        ncx = _xml(archive.read(href(manifest[ncx_id])))
        folder = posixpath.dirname(href(manifest[ncx_id]))
        for point in ncx.iterfind(".//ncx:navPoint", _NS):
            content = point.find("ncx:content", _NS)
            if content is None:
                continue
            target = unquote((content.get("src") or "").split("#")[0])
            name = " ".join(point.findtext("ncx:navLabel/ncx:text", "", _NS).split())
            if target and name:
                toc.setdefault(posixpath.normpath(posixpath.join(folder, target)), name)
    return toc


# ---------------------------------------------------------------------------
# RTF
# ---------------------------------------------------------------------------


def load_rtf(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    if not data.lstrip()[:5] == b"{\\rtf":
        raise LoadError(path, "not an RTF document (it does not start with {\\rtf)")
    from striprtf.striprtf import rtf_to_text

    try:
        text = rtf_to_text(data.decode("latin-1"), encoding="cp1252", errors="replace")
    except Exception as error:  # striprtf rarely raises; a damaged group table can
        logger.info("%s: %r", path, error)
        raise LoadError(path, "corrupt RTF document") from None
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return Extracted("\n".join(lines).strip("\n"))


# ---------------------------------------------------------------------------
# OpenDocument text
# ---------------------------------------------------------------------------

_T = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODT_SKIPPED = {
    _T + name
    for name in (
        "tracked-changes",
        "note",
        "soft-page-break",
        "bookmark-ref",
        "sequence-decls",
        "table-of-content",
    )
}
_ODT = "an OpenDocument text (.odt)"


def load_odt(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    from lxml.etree import XMLSyntaxError

    with open_zip(path, data, options, _ODT) as archive:
        try:
            manifest = archive.read("META-INF/manifest.xml")
        except KeyError:
            raise LoadError(path, f"corrupt or not {_ODT}") from None
        if b"encryption-data" in manifest:
            raise LoadError(path, "password-protected OpenDocument text: it needs a password")
        try:
            root = _xml(archive.read("content.xml"))
            meta = _xml(archive.read("meta.xml")) if "meta.xml" in archive.namelist() else None
        except (KeyError, XMLSyntaxError) as error:
            logger.info("%s: %r", path, error)
            raise LoadError(path, "damaged OpenDocument text (.odt)") from None
    body = root.find(f"{_OFFICE}body/{_OFFICE}text")
    if body is None:
        raise LoadError(path, f"not {_ODT}: no text body")
    blocks: list[str] = []
    _odt_blocks(body, blocks)
    title = (
        meta.findtext(".//{http://purl.org/dc/elements/1.1/}title") if meta is not None else None
    )
    if not title:
        title = next((b.lstrip("# ") for b in blocks if b.startswith("# ")), None)
    return Extracted("\n\n".join(blocks), title=title)


def _odt_inline(element: Any) -> str:
    out = [element.text or ""]
    for child in element:
        if child.tag in _ODT_SKIPPED:
            pass
        elif child.tag == _T + "s":
            out.append(" " * int(child.get(_T + "c", "1") or 1))
        elif child.tag == _T + "tab":
            out.append("\t")
        elif child.tag == _T + "line-break":
            out.append("\n")
        else:
            out.append(_odt_inline(child))
        out.append(child.tail or "")
    return "".join(out)


def _odt_blocks(element: Any, out: list[str], list_depth: int = 0) -> None:
    for child in element:
        tag = child.tag
        if tag == _T + "h":
            level = int(child.get(_T + "outline-level", "1") or 1)
            heading = " ".join(_odt_inline(child).split())
            if heading:
                out.append("#" * min(max(level, 1), 6) + " " + heading)
        elif tag == _T + "p":
            line = _odt_inline(child).strip()
            if line:
                out.append(("  " * (list_depth - 1) + "- " + line) if list_depth else line)
        elif tag == _T + "list":
            _odt_blocks(child, out, list_depth + 1)
        elif tag == _TABLE + "table":
            rows = []
            for row in child.iter(_TABLE + "table-row"):
                cells = [" ".join(_odt_inline(c).split()) for c in row.iter(_TABLE + "table-cell")]
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                out.append("\n".join(rows))
        elif tag in _ODT_SKIPPED:
            continue
        else:  # list items, sections, frames...
            _odt_blocks(child, out, list_depth)
