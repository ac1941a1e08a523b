"""PowerPoint (.pptx) through python-pptx: each slide is a "page" that starts with its
title as a heading, then its text, tables and speaker notes."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from desktop.library.formats.common import (
    Extracted,
    LoadError,
    LoadOptions,
    check_zip,
    join_pages,
    ole_office_error,
)

logger = logging.getLogger(__name__)
KIND = "a PowerPoint presentation (.pptx)"


def load_pptx(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    ole_office_error(path, data, "PowerPoint presentation", ".ppt", ".pptx")
    check_zip(path, data, options, KIND)
    from lxml.etree import XMLSyntaxError
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    try:
        deck = Presentation(io.BytesIO(data))
        slides = list(deck.slides)
    except (PackageNotFoundError, KeyError, ValueError, XMLSyntaxError) as error:
        logger.info("%s: %r", path, error)
        raise LoadError(path, f"corrupt or not {KIND}") from None
    except Exception as error:  # damaged parts raise whatever the XML layer raises
        logger.info("%s: %r", path, error)
        raise LoadError(path, "damaged PowerPoint presentation (.pptx)") from None
    texts: list[str] = []
    hidden: list[int] = []
    titles: list[str] = []
    for number, slide in enumerate(slides, start=1):
        try:
            text, title, is_hidden = _slide_text(slide, number)
        except Exception as error:
            logger.info("%s: slide %d: %r", path, number, error)
            text, title, is_hidden = f"# Slide {number}\n\n(this slide cannot be read)", "", False
        texts.append(text)
        titles.append(title)
        if is_hidden:
            hidden.append(number)
    text, pages = join_pages(texts)
    title = (deck.core_properties.title or "").strip() or next((t for t in titles if t), None)
    metadata: dict[str, Any] = {"slides": len(slides)}
    if hidden:
        metadata["hidden_slides"] = hidden
    return Extracted(text, title=title, pages=pages, page_count=len(pages), metadata=metadata)


def _slide_text(slide: Any, number: int) -> tuple[str, str, bool]:
    title_shape = slide.shapes.title
    title = " ".join((title_shape.text_frame.text if title_shape is not None else "").split())
    is_hidden = slide._element.get("show") == "0"
    heading = f"# {title}" if title else f"# Slide {number}"
    if is_hidden:
        heading += " (hidden slide)"
    blocks = [heading]
    title_id = title_shape.shape_id if title_shape is not None else None
    for shape in _shapes(slide.shapes):
        if shape.shape_id == title_id:
            continue
        block = _shape_text(shape)
        if block.strip():
            blocks.append(block)
    # Reading notes_slide creates one: ask has_notes_slide first.
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            blocks.append("Notes: " + notes.text.strip())
    return "\n\n".join(blocks), title, is_hidden


def _shapes(shapes: Any) -> list[Any]:
    """Shapes in reading order (top to bottom, left to right), groups opened."""
    out = []
    for shape in shapes:
        if shape.shape_type is not None and int(shape.shape_type) == 6:  # GROUP
            out.extend(_shapes(shape.shapes))
        else:
            out.append(shape)
    return sorted(out, key=lambda s: ((s.top or 0) // 20000, s.left or 0))


def _shape_text(shape: Any) -> str:
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = []
        for row in shape.table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            if any(cells):
                rows.append(" | ".join(cells))
        return "\n".join(rows)
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        lines = []
        for paragraph in shape.text_frame.paragraphs:
            line = "".join(run.text for run in paragraph.runs).strip() or paragraph.text.strip()
            if not line:
                continue
            level = paragraph.level or 0
            is_bullet = level > 0 or len(shape.text_frame.paragraphs) > 1
            lines.append(("  " * level + "- " + line) if is_bullet else line)
        return "\n".join(lines)
    return ""
