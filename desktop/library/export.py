"""Chunks as JSONL, one object a line, for other tools (and for checking by eye)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from desktop.library.repository import Library


def chunk_records(
    library: Library, document_ids: Iterable[int] | None = None
) -> Iterator[dict[str, Any]]:
    documents = {d.id: d for d in library.documents()}
    ids = list(document_ids) if document_ids is not None else list(documents)
    for document_id in ids:
        document = documents[document_id]
        for chunk in library.chunks(document_id):
            yield {
                "document": document.title,
                "document_id": document_id,
                "source_path": document.source_path,
                "index": chunk.index,
                "start": chunk.start,
                "end": chunk.end,
                "tokens": chunk.token_count,
                "page": chunk.page,
                "headings": list(chunk.heading_path),
                "text": chunk.text,
            }


def write_jsonl_atomic(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write to a temporary file beside ``path`` and rename it into place: a failure
    never leaves half a file. Returns the number of lines written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def export_chunks(library: Library, path: Path, document_ids: Iterable[int] | None = None) -> int:
    return write_jsonl_atomic(path, chunk_records(library, document_ids))
