"""The document text with chunk boundaries drawn on it: chunks in alternating colours,
overlaps (text that two chunks share) in a third, the selected chunk outlined."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

CHUNK_COLOURS = (QColor("#dbeafe"), QColor("#dcfce7"))
OVERLAP_COLOUR = QColor("#fde68a")
SELECTED_COLOUR = QColor("#fb923c")
# Text read by OCR: purple text with a wavy underline over the chunk colours; red below 90%.
OCR_COLOUR = QColor("#7c3aed")
OCR_LOW_COLOUR = QColor("#dc2626")
OCR_LOW_CONFIDENCE = 0.9


def utf16_positions(text: str) -> np.ndarray:
    """Qt counts positions in UTF-16 code units, Python in code points: entry i is the
    Qt position of code point i (one extra entry for the end)."""
    widths = np.fromiter(
        (2 if ord(c) > 0xFFFF else 1 for c in text), dtype=np.int64, count=len(text)
    )
    positions = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum(widths, out=positions[1:])
    return positions


def overlaps(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges covered by two consecutive chunks."""
    return [(b0, a1) for (_, a1), (b0, _) in pairwise(spans) if b0 < a1]


class ChunkTextView(QPlainTextEdit):
    chunk_clicked = Signal(int)  # row of the chunk under the cursor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self._text = ""
        self._spans: list[tuple[int, int]] = []
        self._positions = np.zeros(1, dtype=np.int64)
        self._base: list[QTextEdit.ExtraSelection] = []
        self._ocr: list[QTextEdit.ExtraSelection] = []
        self._ocr_spans: list[tuple[int, int, float]] = []
        self._selected: int | None = None
        self.cursorPositionChanged.connect(self._cursor_moved)

    def set_document(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self._positions = utf16_positions(text)
            self.setPlainText(text)
        self._spans = []
        self._selected = None
        self._base = []
        self._ocr = []
        self._ocr_spans = []
        self.setExtraSelections([])

    def set_ocr_spans(self, spans: Sequence[tuple[int, int, float]]) -> None:
        """Mark text read by OCR: (start, end, confidence 0..1), code-point offsets."""
        self._ocr_spans = [(s, e, c) for s, e, c in spans if 0 <= s < e < len(self._positions)]
        self._ocr = []
        for start, end, confidence in self._ocr_spans:
            fmt = QTextCharFormat()
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            colour = OCR_LOW_COLOUR if confidence < OCR_LOW_CONFIDENCE else OCR_COLOUR
            fmt.setUnderlineColor(colour)
            fmt.setForeground(colour)
            fmt.setToolTip(f"Read by OCR, confidence {confidence:.0%}")
            self._ocr.append(self._span(start, end, fmt))
        self.setExtraSelections([*self._base, *self._ocr])

    def ocr_marks(self) -> list[tuple[int, int, str]]:
        """What is marked as OCR'd, in code-point offsets: (start, end, colour name)."""
        to_code_points = {int(q): i for i, q in enumerate(self._positions)}
        return [
            (
                to_code_points[s.cursor.selectionStart()],
                to_code_points[s.cursor.selectionEnd()],
                s.format.underlineColor().name(),
            )
            for s in self._ocr
        ]

    def set_chunks(self, spans: Sequence[tuple[int, int]]) -> None:
        """Spans are (start, end) code-point offsets into the text, in chunk order."""
        self._spans = list(spans)
        self._selected = None
        selections = []
        for number, (start, end) in enumerate(self._spans):
            selections.append(self._selection(start, end, CHUNK_COLOURS[number % 2]))
        for start, end in overlaps(self._spans):
            selections.append(self._selection(start, end, OVERLAP_COLOUR))
        self._base = selections
        self.setExtraSelections([*selections, *self._ocr])

    def _span(self, start: int, end: int, fmt: QTextCharFormat) -> QTextEdit.ExtraSelection:
        """An extra selection over code points [start, end) drawn with ``fmt``."""
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.document())
        cursor.setPosition(int(self._positions[start]))
        cursor.setPosition(int(self._positions[end]), QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        selection.format = fmt
        return selection

    def _selection(
        self, start: int, end: int, colour: QColor, outline: bool = False
    ) -> QTextEdit.ExtraSelection:
        fmt = QTextCharFormat()
        fmt.setBackground(colour)
        if outline:
            fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
            fmt.setFontUnderline(True)
            fmt.setUnderlineColor(SELECTED_COLOUR)
        return self._span(start, end, fmt)

    def highlighted_spans(self) -> list[tuple[int, int, str]]:
        """What is drawn, back in code-point offsets: (start, end, colour name)."""
        to_code_points = {int(q): i for i, q in enumerate(self._positions)}
        drawn = []
        for selection in [*self._base, *self.extraSelections()[len(self._base) :]]:
            if selection.format.underlineStyle() == QTextCharFormat.UnderlineStyle.WaveUnderline:
                continue
            cursor = selection.cursor
            drawn.append(
                (
                    to_code_points[cursor.selectionStart()],
                    to_code_points[cursor.selectionEnd()],
                    selection.format.background().color().name(),
                )
            )
        return drawn

    def select_chunk(self, row: int) -> None:
        if not 0 <= row < len(self._spans) or self._spans[row][1] >= len(self._positions):
            return  # a stale row from a table that is being reset
        self._selected = row
        start, end = self._spans[row]
        marked = self._selection(start, end, SELECTED_COLOUR.lighter(150), outline=True)
        self.setExtraSelections([*self._base, marked, *self._ocr])
        cursor = QTextCursor(self.document())
        cursor.setPosition(int(self._positions[start]))
        self.blockSignals(True)
        self.setTextCursor(cursor)
        self.blockSignals(False)
        self.centerCursor()

    def _cursor_moved(self) -> None:
        if not self._spans:
            return
        position = self.textCursor().position()
        offset = int(np.searchsorted(self._positions, position, side="right")) - 1
        for row, (start, end) in enumerate(self._spans):
            if start <= offset < end:
                self.chunk_clicked.emit(row)
                return
