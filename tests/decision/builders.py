"""Workspaces built row by row for the decision tests: documents with a modification
history, datasets, recorded searches, all at times the test chooses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from desktop.workspace import Workspace

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = 86_400.0


def days_ago(days: float) -> float:
    return (NOW - timedelta(days=days)).timestamp()


class Builder:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.events: list[tuple[int | None, str, str, float]] = []

    def run(self, kind: str, days: float) -> int:
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO import_runs(started_at, finished_at, kind) VALUES (?, ?, ?)",
                (days_ago(days), days_ago(days) + 5, kind),
            )
        return int(cursor.lastrowid or 0)

    def document(self, path: str, text: str, days: float, chunk_words: int = 0) -> int:
        at = days_ago(days)
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO documents(source_path, title, format, size_bytes, modified_time, "
                "content_hash, imported_at, updated_at, text) "
                "VALUES (?, ?, 'txt', ?, ?, ?, ?, ?, ?)",
                (path, path, len(text.encode()), at, f"hash-{path}", at, at, text),
            )
            document_id = int(cursor.lastrowid or 0)
            if chunk_words:
                words = text.split()
                for index, start in enumerate(range(0, len(words), chunk_words)):
                    piece = " ".join(words[start : start + chunk_words])
                    tx.execute(
                        "INSERT INTO chunks(document_id, idx, char_start, char_end, text, "
                        "token_count, text_hash) VALUES (?, ?, 0, ?, ?, ?, ?)",
                        (
                            document_id,
                            index,
                            len(piece),
                            piece,
                            len(piece.split()),
                            f"{path}{index}",
                        ),
                    )
        return document_id

    def event(self, run_id: int | None, path: str, kind: str, days: float) -> None:
        with self.workspace.transaction() as tx:
            tx.execute(
                "INSERT INTO library_events(run_id, source_path, kind, at) VALUES (?, ?, ?, ?)",
                (run_id, path, kind, days_ago(days)),
            )
        self.events.append((run_id, path, kind, days_ago(days)))

    def search(self, latency_ms: float, days: float, kind: str = "search") -> None:
        with self.workspace.transaction() as tx:
            tx.execute(
                "INSERT INTO search_log(at, kind, mode, k, latency_ms, results) "
                "VALUES (?, ?, 'hybrid', 5, ?, 5)",
                (days_ago(days), kind, latency_ms),
            )

    def dataset(self, name: str, records: Sequence[Any]) -> int:
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO datasets(name, created_at) VALUES (?, ?)", (name, days_ago(5))
            )
            dataset_id = int(cursor.lastrowid or 0)
            for position, record in enumerate(records):
                tx.execute(
                    "INSERT INTO training_examples(dataset_id, position, data, updated_at) "
                    "VALUES (?, ?, ?, ?)",
                    (dataset_id, position, json.dumps(record), days_ago(5)),
                )
        return dataset_id


def chat(answer: str, question: str = "What is it?", system: str | None = "Be brief.") -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return {"messages": messages}
