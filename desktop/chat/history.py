"""Conversations in the workspace: listed, renamed, deleted, exported as Markdown."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from desktop.workspace import Workspace


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    created_at: float
    updated_at: float
    turns: int


@dataclass(frozen=True)
class StoredTurn:
    id: int
    conversation_id: int
    position: int
    question: str
    answer: str
    status: str
    note: str
    model: str
    mode: str
    sources: list[dict[str, Any]]
    citations: list[int]
    prompt: dict[str, Any]
    usage: dict[str, Any]
    latency_ms: float | None
    retrieval_ms: float | None
    created_at: float


def _turn(row: Any) -> StoredTurn:
    return StoredTurn(
        id=row["id"],
        conversation_id=row["conversation_id"],
        position=row["position"],
        question=row["question"],
        answer=row["answer"],
        status=row["status"],
        note=row["note"],
        model=row["model"],
        mode=row["mode"],
        sources=json.loads(row["sources"]),
        citations=json.loads(row["citations"]),
        prompt=json.loads(row["prompt"]),
        usage=json.loads(row["usage"]),
        latency_ms=row["latency_ms"],
        retrieval_ms=row["retrieval_ms"],
        created_at=row["created_at"],
    )


class ChatHistory:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def conversations(self) -> list[Conversation]:
        rows = self.workspace.connection().execute(
            "SELECT c.id, c.title, c.created_at, c.updated_at, COUNT(t.id) FROM conversations c "
            "LEFT JOIN chat_turns t ON t.conversation_id = c.id GROUP BY c.id "
            "ORDER BY c.updated_at DESC, c.id DESC"
        )
        return [Conversation(*row) for row in rows]

    def create(self, title: str = "New conversation") -> int:
        now = time.time()
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO conversations(title, created_at, updated_at) VALUES (?, ?, ?)",
                (title, now, now),
            )
            return int(cursor.lastrowid or 0)

    def rename(self, conversation_id: int, title: str) -> None:
        title = title.strip()
        if not title:
            raise ValueError("a conversation needs a title")
        with self.workspace.transaction() as tx:
            tx.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete(self, conversation_id: int) -> None:
        with self.workspace.transaction() as tx:
            tx.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def turns(self, conversation_id: int) -> list[StoredTurn]:
        rows = self.workspace.connection().execute(
            "SELECT * FROM chat_turns WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        )
        return [_turn(row) for row in rows]

    def turn(self, turn_id: int) -> StoredTurn | None:
        row = (
            self.workspace.connection()
            .execute("SELECT * FROM chat_turns WHERE id = ?", (turn_id,))
            .fetchone()
        )
        return _turn(row) if row else None

    def add_turn(
        self,
        conversation_id: int,
        *,
        question: str,
        answer: str,
        status: str,
        note: str,
        model: str,
        mode: str,
        sources: list[dict[str, Any]],
        citations: list[int],
        prompt: dict[str, Any],
        usage: dict[str, Any],
        latency_ms: float | None,
        retrieval_ms: float | None,
    ) -> int:
        now = time.time()
        with self.workspace.transaction() as tx:
            position = tx.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM chat_turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()[0]
            cursor = tx.execute(
                "INSERT INTO chat_turns(conversation_id, position, question, answer, status, "
                "note, model, mode, sources, citations, prompt, usage, latency_ms, "
                "retrieval_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    position,
                    question,
                    answer,
                    status,
                    note,
                    model,
                    mode,
                    json.dumps(sources, ensure_ascii=False),
                    json.dumps(citations),
                    json.dumps(prompt, ensure_ascii=False),
                    json.dumps(usage),
                    latency_ms,
                    retrieval_ms,
                    now,
                ),
            )
            title = tx.execute(
                "SELECT title FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()[0]
            new_title = (
                question.strip().splitlines()[0][:60]
                if (position == 0 and title == "New conversation")
                else title
            )
            tx.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                (now, new_title, conversation_id),
            )
            return int(cursor.lastrowid or 0)

    def export_markdown(self, conversation_id: int) -> str:
        row = (
            self.workspace.connection()
            .execute("SELECT title, created_at FROM conversations WHERE id = ?", (conversation_id,))
            .fetchone()
        )
        if row is None:
            raise KeyError(f"conversation {conversation_id} does not exist")
        lines = [
            f"# {row['title']}",
            "",
            f"_Exported from RAGTune, {time.strftime('%Y-%m-%d %H:%M')}_",
            "",
        ]
        for turn in self.turns(conversation_id):
            lines += [f"## Q: {turn.question}", "", turn.answer or "_(no answer)_", ""]
            if turn.note:
                lines += [f"> {turn.note}", ""]
            mode = "with retrieval" if turn.mode == "rag" else "model alone"
            lines.append(f"_{turn.model}, {mode}_")
            lines.append("")
            if turn.sources:
                lines.append("Sources:")
                for number, source in enumerate(turn.sources, start=1):
                    used = "cited" if number in turn.citations else "retrieved, not cited"
                    where = source["document"] + (
                        f", p. {source['page']}" if source.get("page") else ""
                    )
                    score = source.get("cosine")
                    score_text = f", cosine {score:.3f}" if isinstance(score, float) else ""
                    lines.append(f"{number}. {where} ({used}{score_text})")
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"
