"""Spreadsheets (.xlsx, .xlsm, .ods) through python-calamine: each sheet is a "page"
that starts with its name as a heading, its rows written the way a CSV file is. Hidden
sheets are kept and marked (their data is often what the visible ones compute from)."""

from __future__ import annotations

import csv
import datetime
import io
import logging
from pathlib import Path
from typing import Any

from desktop.library.formats.common import (
    Extracted,
    LoadError,
    LoadOptions,
    join_pages,
    ole_office_error,
    open_zip,
)

logger = logging.getLogger(__name__)


def load_spreadsheet(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    ods = path.suffix.lower() == ".ods" or data[30:77].startswith(b"mimetypeapplication/vnd.oasis")
    kind = "an OpenDocument spreadsheet (.ods)" if ods else "an Excel workbook (.xlsx)"
    ole_office_error(path, data, "Excel workbook", ".xls", path.suffix.lower() or ".xlsx")
    if not data.startswith(b"PK"):
        raise LoadError(path, f"corrupt or not {kind}")
    with open_zip(path, data, options, kind) as archive:
        if ods and _odf_encrypted(archive):
            raise LoadError(path, "password-protected OpenDocument spreadsheet")
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetVisibleEnum

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = list(workbook.sheets_metadata)
    except PasswordError:
        raise LoadError(path, "encrypted workbook: it needs a password to open") from None
    except (CalamineError, ValueError, OSError) as error:
        logger.info("%s: %r", path, error)
        raise LoadError(path, f"corrupt or not {kind}") from None
    texts: list[str] = []
    described: list[dict[str, Any]] = []
    for sheet in sheets:
        options.check_cancelled()
        hidden = sheet.visible != SheetVisibleEnum.Visible
        try:
            rows = workbook.get_sheet_by_name(sheet.name).to_python(skip_empty_area=True)
        except (CalamineError, ValueError) as error:
            logger.info("%s: sheet %s: %r", path, sheet.name, error)
            raise LoadError(
                path, f"damaged workbook: sheet “{sheet.name}” cannot be read"
            ) from None
        body = _rows_text(rows)
        heading = f"# {sheet.name}" + (" (hidden sheet)" if hidden else "")
        texts.append(heading + ("\n\n" + body if body else ""))
        described.append({"name": sheet.name, "hidden": hidden, "rows": len(rows)})
    if not any(entry["rows"] for entry in described):
        return Extracted("", metadata={"empty_reason": "every sheet is empty"})
    text, pages = join_pages(texts)
    return Extracted(text, pages=pages, page_count=len(pages), metadata={"sheets": described})


def _odf_encrypted(archive: Any) -> bool:
    try:
        return b"encryption-data" in archive.read("META-INF/manifest.xml")
    except KeyError:
        return False


def _rows_text(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        cells = [_cell(value) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            writer.writerow(cells)
    return out.getvalue().rstrip("\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ", timespec="seconds").removesuffix(" 00:00:00")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    return str(value).strip()
