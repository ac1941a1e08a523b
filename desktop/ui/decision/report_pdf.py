"""The decision report written to disk: the Markdown as it is, and a PDF laid out by
Qt's own text engine (no extra dependency). Both are written to a temporary file
beside the target and renamed, so a failed export never leaves half a report."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import (
    QColor,
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextDocument,
    QTextFrameFormat,
    QTextTable,
)

PDF_RESOLUTION = 300
REPORT_STYLE = (
    "body { font-size: 10pt; } h1 { font-size: 18pt; } h2 { font-size: 14pt; } "
    "h3 { font-size: 12pt; } table { border-collapse: collapse; } "
    "th { background: #e8e8e8; } td, th { padding: 3px; border: 1px solid #999; }"
)


def _atomic(target: Path, write: Callable[[Path], None]) -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def write_markdown(markdown: str, path: Path) -> Path:
    return _atomic(path, lambda temp: temp.write_text(markdown, encoding="utf-8"))


def report_document(markdown: str) -> QTextDocument:
    """The report as a text document: Qt parses the Markdown (tables included)."""
    document = QTextDocument()
    document.setDefaultStyleSheet(REPORT_STYLE)
    document.setMarkdown(markdown)
    # Markdown tables come without borders: give every table a thin grid to read.
    for child in document.rootFrame().childFrames():
        if isinstance(child, QTextTable):
            fmt = child.format()
            fmt.setBorder(0.5)
            fmt.setBorderBrush(QColor("#999999"))
            fmt.setBorderStyle(QTextFrameFormat.BorderStyle.BorderStyle_Solid)
            fmt.setBorderCollapse(True)
            fmt.setCellPadding(3)
            fmt.setCellSpacing(0)
            child.setFormat(fmt)
    return document


def write_pdf(markdown: str, path: Path, *, title: str = "RAG or fine-tuning") -> Path:
    """Lay the report out on A4 pages and print it to ``path``. GUI thread only (fonts)."""

    def write(temp: Path) -> None:
        writer = QPdfWriter(str(temp))
        writer.setTitle(title)
        writer.setCreator("RAGTune")
        writer.setResolution(PDF_RESOLUTION)
        writer.setPageLayout(
            QPageLayout(
                QPageSize(QPageSize.PageSizeId.A4),
                QPageLayout.Orientation.Portrait,
                QMarginsF(15, 15, 15, 15),
                QPageLayout.Unit.Millimeter,
            )
        )
        document = report_document(markdown)
        document.print_(writer)
        del writer  # closes the file

    return _atomic(path, write)
