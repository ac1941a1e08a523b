"""Every search and answer's retrieval time, kept for the Decide tab's latency evidence."""

from __future__ import annotations

import time
from collections.abc import Sequence

from desktop.workspace import Workspace


class SearchLog:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def record(
        self, kind: str, mode: str, k: int, latency_ms: float, results: int, at: float | None = None
    ) -> None:
        with self.workspace.transaction() as tx:
            tx.execute(
                "INSERT INTO search_log(at, kind, mode, k, latency_ms, results) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (time.time() if at is None else at, kind, mode, k, latency_ms, results),
            )

    def latencies(
        self,
        since: float | None = None,
        limit: int | None = None,
        kinds: Sequence[str] = ("search", "answer"),
    ) -> list[float]:
        """Retrieval times in ms, most recent first."""
        marks = ",".join("?" * len(kinds))
        sql = f"SELECT latency_ms FROM search_log WHERE kind IN ({marks})"
        params: list[object] = list(kinds)
        if since is not None:
            sql += " AND at >= ?"
            params.append(since)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [float(row[0]) for row in self.workspace.connection().execute(sql, params)]
