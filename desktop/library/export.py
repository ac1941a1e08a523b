"""Chunks as JSONL, one object a line, for other tools (and for checking by eye)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from desktop.files import write_jsonl_atomic, write_text_atomic
from desktop.library.repository import Library

__all__ = ["chunk_records", "export_chunks", "write_jsonl_atomic", "write_text_atomic"]


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


def export_chunks(library: Library, path: Path, document_ids: Iterable[int] | None = None) -> int:
    return write_jsonl_atomic(path, chunk_records(library, document_ids))
