"""The evaluation's repository: eval sets, their questions, runs and results, sweeps.
The only module that names the evaluation's tables; every multi-row change is one
transaction."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.evaluation.records import (
    EvalQuestion,
    EvalRun,
    EvalSet,
    ExpectedSource,
    FormatSpec,
    QuestionResult,
    RunConfig,
    questions_hash,
)
from desktop.workspace import Workspace


class EvalSetError(ValueError):
    """An eval set that cannot be found or made, with a reason a user can act on."""


@dataclass(frozen=True)
class RemovedQuestion:
    """A deleted question with its id and place, so an undo puts it back as it was."""

    set_id: int
    question: EvalQuestion


@dataclass(frozen=True)
class DeletedSet:
    id: int
    name: str
    format: FormatSpec
    created_at: float
    questions: tuple[EvalQuestion, ...]
    runs: tuple[int, ...] = ()
    """Runs of the set, linked to it again when it is restored."""


@dataclass(frozen=True)
class SweepRecord:
    id: int
    set_id: int | None
    set_name: str
    created_at: float
    data: Mapping[str, Any]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _fields(q: EvalQuestion) -> tuple[Any, ...]:
    """question, answer, alternatives, answerable, sources, tags, origin: as stored."""
    return (
        q.question,
        q.answer,
        _json(list(q.alternatives)),
        int(q.answerable),
        _json([s.to_json() for s in q.sources]),
        _json(list(q.tags)),
        q.origin,
    )


def _question(row: sqlite3.Row) -> EvalQuestion:
    sources = tuple(
        s for s in (ExpectedSource.from_json(x) for x in json.loads(row["sources"])) if s
    )
    return EvalQuestion(
        question=row["question"],
        answer=row["answer"],
        sources=sources,
        answerable=bool(row["answerable"]),
        alternatives=tuple(json.loads(row["alternatives"])),
        tags=tuple(json.loads(row["tags"])),
        origin=row["origin"],
        id=row["id"],
        position=row["position"],
    )


class EvalStore:
    def __init__(self, workspace: Workspace, *, clock: Callable[[], float] = time.time) -> None:
        self.workspace = workspace
        self.clock = clock

    def _conn(self) -> sqlite3.Connection:
        return self.workspace.connection()

    # -- sets --------------------------------------------------------------------------

    def sets(self) -> list[EvalSet]:
        rows = self._conn().execute(
            "SELECT s.*, (SELECT count(*) FROM eval_questions q WHERE q.set_id = s.id) AS n "
            "FROM eval_sets s ORDER BY s.name COLLATE NOCASE"
        )
        return [self._set(row) for row in rows]

    @staticmethod
    def _set(row: sqlite3.Row) -> EvalSet:
        return EvalSet(
            id=row["id"],
            name=row["name"],
            format=FormatSpec.from_json(json.loads(row["format"])),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            question_count=row["n"],
        )

    def get_set(self, set_id: int) -> EvalSet:
        row = (
            self._conn()
            .execute(
                "SELECT s.*, (SELECT count(*) FROM eval_questions q WHERE q.set_id = s.id) AS n "
                "FROM eval_sets s WHERE s.id = ?",
                (set_id,),
            )
            .fetchone()
        )
        if row is None:
            raise EvalSetError(f"eval set {set_id} no longer exists")
        return self._set(row)

    def set_by_name(self, name: str) -> EvalSet | None:
        row = (
            self._conn()
            .execute("SELECT id FROM eval_sets WHERE name = ? COLLATE NOCASE", (name.strip(),))
            .fetchone()
        )
        return None if row is None else self.get_set(row["id"])

    def create_set(self, name: str, format: FormatSpec | None = None) -> EvalSet:
        name = " ".join(name.split())
        if not name:
            raise EvalSetError("an eval set needs a name")
        if self.set_by_name(name) is not None:
            raise EvalSetError(f"an eval set named {name!r} exists already")
        now = self.clock()
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO eval_sets(name, format, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (name, _json((format or FormatSpec()).to_json()), now, now),
            )
        return self.get_set(int(cursor.lastrowid or 0))

    def rename_set(self, set_id: int, name: str) -> str:
        """Returns the previous name."""
        name = " ".join(name.split())
        found = self.set_by_name(name)
        if found is not None and found.id != set_id:
            raise EvalSetError(f"an eval set named {name!r} exists already")
        previous = self.get_set(set_id).name
        with self.workspace.transaction() as tx:
            tx.execute(
                "UPDATE eval_sets SET name = ?, updated_at = ? WHERE id = ?",
                (name, self.clock(), set_id),
            )
        return previous

    def set_format(self, set_id: int, format: FormatSpec) -> FormatSpec:
        """Returns the previous format."""
        previous = self.get_set(set_id).format
        with self.workspace.transaction() as tx:
            tx.execute(
                "UPDATE eval_sets SET format = ?, updated_at = ? WHERE id = ?",
                (_json(format.to_json()), self.clock(), set_id),
            )
        return previous

    def delete_set(self, set_id: int) -> DeletedSet:
        found = self.get_set(set_id)
        questions = tuple(self.questions(set_id))
        runs = tuple(
            int(row[0])
            for row in self._conn().execute("SELECT id FROM eval_runs WHERE set_id = ?", (set_id,))
        )
        with self.workspace.transaction() as tx:
            tx.execute("DELETE FROM eval_sets WHERE id = ?", (set_id,))
        return DeletedSet(found.id, found.name, found.format, found.created_at, questions, runs)

    def restore_set(self, deleted: DeletedSet) -> None:
        now = self.clock()
        with self.workspace.transaction() as tx:
            tx.execute(
                "INSERT INTO eval_sets(id, name, format, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    deleted.id,
                    deleted.name,
                    _json(deleted.format.to_json()),
                    deleted.created_at,
                    now,
                ),
            )
            self._insert(tx, deleted.id, deleted.questions, keep_ids=True)
            tx.execute(
                "UPDATE eval_runs SET set_id = ? WHERE id IN (SELECT value FROM json_each(?))",
                (deleted.id, _json(list(deleted.runs))),
            )

    # -- questions -----------------------------------------------------------------------

    def questions(self, set_id: int) -> list[EvalQuestion]:
        rows = self._conn().execute(
            "SELECT * FROM eval_questions WHERE set_id = ? ORDER BY position, id", (set_id,)
        )
        return [_question(row) for row in rows]

    def question(self, question_id: int) -> EvalQuestion | None:
        row = (
            self._conn()
            .execute("SELECT * FROM eval_questions WHERE id = ?", (question_id,))
            .fetchone()
        )
        return None if row is None else _question(row)

    def _insert(
        self,
        tx: sqlite3.Connection,
        set_id: int,
        questions: Sequence[EvalQuestion],
        *,
        keep_ids: bool = False,
    ) -> list[int]:
        now = self.clock()
        if keep_ids:
            start = 0
        else:
            row = tx.execute(
                "SELECT coalesce(max(position) + 1, 0) FROM eval_questions WHERE set_id = ?",
                (set_id,),
            ).fetchone()
            start = int(row[0])
        ids = []
        for offset, q in enumerate(questions):
            cursor = tx.execute(
                "INSERT INTO eval_questions(id, set_id, position, question, answer, alternatives, "
                "answerable, sources, tags, origin, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    q.id if keep_ids else None,
                    set_id,
                    q.position if keep_ids else start + offset,
                    *_fields(q),
                    now,
                ),
            )
            ids.append(int(cursor.lastrowid or 0))
        tx.execute("UPDATE eval_sets SET updated_at = ? WHERE id = ?", (now, set_id))
        return ids

    def add_questions(self, set_id: int, questions: Sequence[EvalQuestion]) -> list[int]:
        self.get_set(set_id)
        with self.workspace.transaction() as tx:
            return self._insert(tx, set_id, questions)

    def update_questions(self, questions: Sequence[EvalQuestion]) -> list[EvalQuestion]:
        """Write the questions (by id); returns them as they were before."""
        before = [self.question(q.id) for q in questions if q.id is not None]
        now = self.clock()
        with self.workspace.transaction() as tx:
            for q in questions:
                tx.execute(
                    "UPDATE eval_questions SET question = ?, answer = ?, alternatives = ?, "
                    "answerable = ?, sources = ?, tags = ?, origin = ?, updated_at = ? "
                    "WHERE id = ?",
                    (*_fields(q), now, q.id),
                )
            tx.execute(
                "UPDATE eval_sets SET updated_at = ? WHERE id IN "
                "(SELECT set_id FROM eval_questions WHERE id IN (SELECT value FROM json_each(?)))",
                (now, _json([q.id for q in questions])),
            )
        return [q for q in before if q is not None]

    def remove_questions(self, question_ids: Iterable[int]) -> list[RemovedQuestion]:
        ids = list(question_ids)
        rows = self._conn().execute(
            "SELECT * FROM eval_questions WHERE id IN (SELECT value FROM json_each(?))",
            (_json(ids),),
        )
        removed = [RemovedQuestion(row["set_id"], _question(row)) for row in rows]
        with self.workspace.transaction() as tx:
            tx.execute(
                "DELETE FROM eval_questions WHERE id IN (SELECT value FROM json_each(?))",
                (_json(ids),),
            )
        return removed

    def restore_questions(self, removed: Sequence[RemovedQuestion]) -> None:
        with self.workspace.transaction() as tx:
            for item in removed:
                self._insert(tx, item.set_id, [item.question], keep_ids=True)

    def set_hash(self, set_id: int) -> str:
        return questions_hash(self.questions(set_id))

    def all_questions(self) -> list[tuple[EvalSet, EvalQuestion]]:
        """Every question of every set (the leakage check of the dataset builder)."""
        sets = {s.id: s for s in self.sets()}
        rows = self._conn().execute("SELECT * FROM eval_questions ORDER BY set_id, position, id")
        return [(sets[row["set_id"]], _question(row)) for row in rows if row["set_id"] in sets]

    # -- runs ---------------------------------------------------------------------------

    def create_run(
        self, set_id: int, set_name: str, set_hash: str, config: RunConfig, planned: int
    ) -> int:
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO eval_runs(set_id, set_name, set_hash, mode, model, config, status, "
                "planned, created_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                (
                    set_id,
                    set_name,
                    set_hash,
                    config.mode,
                    config.model,
                    _json(config.to_json()),
                    planned,
                    self.clock(),
                ),
            )
        return int(cursor.lastrowid or 0)

    _RUN_COLUMNS = (
        "r.*, (SELECT count(*) FROM eval_results x WHERE x.run_id = r.id AND x.status = 'ok') "
        "AS answered, (SELECT count(*) FROM eval_results x WHERE x.run_id = r.id "
        "AND x.status != 'ok') AS failed"
    )

    def _run(self, row: sqlite3.Row, hashes: Mapping[int, str]) -> EvalRun:
        set_id = row["set_id"]
        return EvalRun(
            id=row["id"],
            set_id=set_id,
            set_name=row["set_name"],
            set_hash=row["set_hash"],
            config=RunConfig.from_json(json.loads(row["config"])),
            status=row["status"],
            planned=row["planned"],
            metrics=json.loads(row["metrics"]),
            error=row["error"],
            created_at=row["created_at"],
            finished_at=row["finished_at"],
            answered=row["answered"],
            failed=row["failed"],
            stale=set_id is None or hashes.get(set_id) != row["set_hash"],
        )

    def runs(self, set_id: int | None = None) -> list[EvalRun]:
        """Newest first; each marked stale when its set changed since."""
        sql = f"SELECT {self._RUN_COLUMNS} FROM eval_runs r"
        params: tuple[Any, ...] = ()
        if set_id is not None:
            sql += " WHERE r.set_id = ?"
            params = (set_id,)
        rows = self._conn().execute(sql + " ORDER BY r.created_at DESC, r.id DESC", params)
        rows = list(rows)
        hashes = {s: self.set_hash(s) for s in {row["set_id"] for row in rows} if s is not None}
        return [self._run(row, hashes) for row in rows]

    def run(self, run_id: int) -> EvalRun | None:
        row = (
            self._conn()
            .execute(f"SELECT {self._RUN_COLUMNS} FROM eval_runs r WHERE r.id = ?", (run_id,))
            .fetchone()
        )
        if row is None:
            return None
        hashes = {row["set_id"]: self.set_hash(row["set_id"])} if row["set_id"] else {}
        return self._run(row, hashes)

    def set_run_status(
        self,
        run_id: int,
        status: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        error: str = "",
    ) -> None:
        finished = None if status == "running" else self.clock()
        with self.workspace.transaction() as tx:
            tx.execute(
                "UPDATE eval_runs SET status = ?, error = ?, finished_at = ?, "
                "metrics = coalesce(?, metrics) WHERE id = ?",
                (status, error, finished, None if metrics is None else _json(metrics), run_id),
            )

    def delete_run(self, run_id: int) -> None:
        with self.workspace.transaction() as tx:
            tx.execute("DELETE FROM eval_runs WHERE id = ?", (run_id,))

    def save_result(self, run_id: int, result: QuestionResult) -> bool:
        """One row per (run, question): an answered question is never written twice (a
        resumed run skips it; a crash between the answer and this write loses only that
        answer). A failed one is replaced when it is tried again. True when written."""
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO eval_results(run_id, question_id, position, status, data, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(run_id, question_id) DO UPDATE SET status = excluded.status, "
                "data = excluded.data, created_at = excluded.created_at "
                "WHERE eval_results.status != 'ok'",
                (
                    run_id,
                    result.question_id,
                    result.position,
                    result.status,
                    _json(result.to_json()),
                    self.clock(),
                ),
            )
        return cursor.rowcount > 0

    def results(self, run_id: int) -> list[QuestionResult]:
        rows = self._conn().execute(
            "SELECT data FROM eval_results WHERE run_id = ? ORDER BY position, question_id",
            (run_id,),
        )
        return [QuestionResult.from_json(json.loads(row["data"])) for row in rows]

    def answered_ids(self, run_id: int) -> set[int]:
        rows = self._conn().execute(
            "SELECT question_id FROM eval_results WHERE run_id = ? AND status = 'ok'", (run_id,)
        )
        return {int(row[0]) for row in rows}

    # -- sweeps -------------------------------------------------------------------------

    def save_sweep(self, set_id: int, set_name: str, data: Mapping[str, Any]) -> int:
        with self.workspace.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO eval_sweeps(set_id, set_name, created_at, data) VALUES (?, ?, ?, ?)",
                (set_id, set_name, self.clock(), _json(data)),
            )
        return int(cursor.lastrowid or 0)

    def sweeps(self, set_id: int | None = None) -> list[SweepRecord]:
        sql = "SELECT * FROM eval_sweeps"
        params: tuple[Any, ...] = ()
        if set_id is not None:
            sql += " WHERE set_id = ?"
            params = (set_id,)
        rows = self._conn().execute(sql + " ORDER BY created_at DESC, id DESC", params)
        return [
            SweepRecord(r["id"], r["set_id"], r["set_name"], r["created_at"], json.loads(r["data"]))
            for r in rows
        ]
