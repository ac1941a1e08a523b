"""The decision report as a PDF laid out by Qt's own text engine (no extra dependency),
written to a temporary file beside the target and renamed, so a failed export never
leaves half a report. (The Markdown report is the decision service's.)"""

from __future__ import annotations

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

from desktop.files import write_atomic

PDF_RESOLUTION = 300
REPORT_STYLE = (
    "body { font-size: 10pt; } h1 { font-size: 18pt; } h2 { font-size: 14pt; } "
    "h3 { font-size: 12pt; } table { border-collapse: collapse; } "
    "th { background: #e8e8e8; } td, th { padding: 3px; border: 1px solid #999; }"
)


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

    return write_atomic(path, write)
