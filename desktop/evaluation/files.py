"""Eval sets in and out of files: JSONL and CSV with a column mapping, SQuAD-style JSON
(v1 and v2), and JSONL out.

Reading never stops at a bad line: a line that cannot become a question is reported
with its number and the reason, and the rest import (the dataset import's readers do
the line work: ``iter_json_lines`` for JSONL, ``parse_csv`` for CSV). SQuAD v2's
unanswerable questions become questions whose right answer is "not in the documents"
(``answerable`` false), scored apart."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.evaluation.records import NOT_IN_DOCUMENTS, EvalQuestion, ExpectedSource
from desktop.files import write_jsonl_atomic
from desktop.finetune.jsonl import Column, csv_header, iter_json_lines, parse_csv
from desktop.finetune.validation import Issue

FORMATS = ("auto", "jsonl", "csv", "squad")
PARTS = ("question", "answer", "source", "passage", "tags", "answerable", "alternatives")
"""What a mapping can name: a field (JSONL) or a column (CSV) for each part."""

FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "question": ("question", "query", "q", "prompt", "input", "user"),
    "answer": ("answer", "reference", "expected", "ideal", "ground_truth", "target", "output"),
    "source": ("sources", "source", "document", "doc", "file", "expected_source"),
    "passage": ("passage", "evidence", "quote", "context_passage"),
    "tags": ("tags", "tag", "labels", "category"),
    "answerable": ("answerable",),
    "alternatives": ("alternatives", "answers", "other_answers"),
}
"""The fields a JSONL line is read from when no mapping names them (first found)."""

IMPORT_ERROR = "eval_import"


@dataclass
class ReadQuestions:
    """What a file held: the questions, the line each came from, and what could not be
    read (``Issue``s naming the line, or the SQuAD article and question)."""

    questions: list[EvalQuestion] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)
    format: str = "jsonl"

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(Issue(line, -1, IMPORT_ERROR, "error", message))


def detect_format(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if suffix == ".json" and head == b"{":
        try:
            parsed = json.loads(data.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            return "jsonl"
        if isinstance(parsed, dict) and isinstance(parsed.get("data"), list):
            return "squad"
    return "jsonl"


def read_questions(
    path: Path,
    format: str = "auto",
    *,
    mapping: Mapping[str, str] | None = None,
    has_header: bool = True,
) -> ReadQuestions:
    """Read ``path`` as ``format`` ("auto" decides by the name and the content)."""
    data = Path(path).read_bytes()
    chosen = detect_format(Path(path), data) if format == "auto" else format
    origin = Path(path).name
    if chosen == "squad":
        return parse_squad(data, origin)
    if chosen == "csv":
        return parse_csv_questions(data, mapping or {}, origin, has_header=has_header)
    if chosen != "jsonl":
        raise ValueError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    return parse_jsonl_questions(data, origin, mapping=mapping)


# -- JSONL -----------------------------------------------------------------------------


def _pick(record: Mapping[str, Any], part: str, mapping: Mapping[str, str] | None) -> Any:
    if mapping and part in mapping:
        return record.get(mapping[part])
    lowered = {str(k).lower(): v for k, v in record.items()}
    for name in FIELD_NAMES[part]:
        if name in lowered:
            return lowered[name]
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    text = _text(value)
    return tuple(t.strip() for t in text.replace(";", ",").split(",") if t.strip())


def _sources(value: Any, passage: str) -> tuple[ExpectedSource, ...]:
    found: list[ExpectedSource] = []
    items = value if isinstance(value, list) else [value] if value is not None else []
    for item in items:
        source = ExpectedSource.from_json(item)
        if source is not None:
            found.append(source)
    if passage:
        if found and not found[0].passage:
            found[0] = ExpectedSource(found[0].document, passage)
        elif not found:
            found.append(ExpectedSource("", passage))
    return tuple(found)


def question_from_record(
    record: Any, origin: str, mapping: Mapping[str, str] | None = None
) -> EvalQuestion:
    """One question from a JSON object; raises ValueError with the reason."""
    if not isinstance(record, dict):
        raise ValueError(f"the line is {type(record).__name__}, not a JSON object")
    question = _text(_pick(record, "question", mapping))
    if not question:
        wanted = mapping.get("question") if mapping else " / ".join(FIELD_NAMES["question"])
        raise ValueError(f"no question (looked for the field {wanted})")
    answer = _pick(record, "answer", mapping)
    alternatives = _pick(record, "alternatives", mapping)
    answers = [_text(a) for a in alternatives] if isinstance(alternatives, list) else []
    if isinstance(answer, list):  # {"answers": [...]} read as the answer field
        answers = [_text(a) for a in answer] + answers
        answer = answers.pop(0) if answers else ""
    answerable_value = _pick(record, "answerable", mapping)
    answerable = answerable_value is not False and _text(answerable_value).lower() not in (
        "false",
        "no",
        "0",
    )
    text = _text(answer)
    if not answerable and not text:
        text = NOT_IN_DOCUMENTS
    return EvalQuestion(
        question=question,
        answer=text,
        alternatives=tuple(dict.fromkeys(a for a in answers if a and a != text)),
        sources=_sources(
            _pick(record, "source", mapping), _text(_pick(record, "passage", mapping))
        ),
        answerable=answerable and text.lower() != NOT_IN_DOCUMENTS,
        tags=_tags(_pick(record, "tags", mapping)),
        origin=origin,
    )


def parse_jsonl_questions(
    data: bytes, origin: str, *, mapping: Mapping[str, str] | None = None
) -> ReadQuestions:
    read = ReadQuestions(format="jsonl")
    for number, value, reason in iter_json_lines(data):
        if reason is not None:
            read.problem(number, reason)
            continue
        try:
            question = question_from_record(value, f"{origin} line {number}", mapping)
        except ValueError as exc:
            read.problem(number, str(exc))
            continue
        read.questions.append(question)
        read.lines.append(number)
    return read


# -- CSV ---------------------------------------------------------------------------------

_CSV_ROLES = {"question": "user", "answer": "assistant", "passage": "system", "source": "notes"}
"""The dataset CSV reader's parts that carry each eval part (``tags`` is ``tags``)."""


def parse_csv_questions(
    data: bytes, mapping: Mapping[str, str], origin: str, *, has_header: bool = True
) -> ReadQuestions:
    """CSV through the dataset import's reader: ``mapping`` names the column of each
    part ("question" and "answer" required; "source", "passage", "tags" optional; a
    column is a header name or ``#N`` for the N-th). An answer of "not in the documents"
    marks an unanswerable question."""
    read = ReadQuestions(format="csv")
    for part in ("question", "answer"):
        if part not in mapping:
            raise ValueError(f"the CSV mapping needs a column for the {part}")
    unknown = set(mapping) - {*_CSV_ROLES, "tags"}
    if unknown:
        raise ValueError(
            f"a CSV mapping cannot name {', '.join(sorted(unknown))} "
            "(parts: question, answer, source, passage, tags)"
        )
    roles: dict[str, Column] = {}
    for part, column in mapping.items():
        number = column[1:] if column.startswith("#") else ""
        roles[_CSV_ROLES.get(part, part)] = Column(int(number) - 1 if number.isdigit() else column)
    parsed = parse_csv(data, roles, has_header=has_header)
    parts = {f"the {role} column": f"the {part} column" for part, role in _CSV_ROLES.items()}
    for problem in parsed.problems:
        if problem.severity == "error":
            message = problem.message
            for said, meant in parts.items():
                message = message.replace(said, meant)
            read.problem(problem.line, message)
    for example, line in zip(parsed.examples, parsed.lines, strict=True):
        texts = {m.role: m.content for m in example.messages if isinstance(m.content, str)}
        question = texts.get("user", "").strip()
        if not question:
            read.problem(line, "the question cell is empty")
            continue
        answer = texts.get("assistant", "").strip()
        sources = _sources(example.notes.strip() or None, texts.get("system", "").strip())
        read.questions.append(
            EvalQuestion(
                question=question,
                answer=answer,
                sources=sources,
                answerable=answer.lower() != NOT_IN_DOCUMENTS,
                tags=example.tags,
                origin=f"{origin} line {line}",
            )
        )
        read.lines.append(line)
    read.problems.sort(key=lambda p: p.line or 0)
    return read


def csv_columns(path: Path) -> list[str]:
    return csv_header(Path(path))


# -- SQuAD ---------------------------------------------------------------------------------


def parse_squad(data: bytes, origin: str) -> ReadQuestions:
    """SQuAD v1.1/v2.0: ``data`` → articles (``title``) → ``paragraphs`` (``context``) →
    ``qas``. The expected source is the article (by title) and the paragraph as passage;
    the reference is the first answer, the others its alternatives. v2's
    ``is_impossible`` questions have no source and "not in the documents" as answer."""
    read = ReadQuestions(format="squad")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        read.problem(None, f"not UTF-8 text (byte {exc.start + 1})")
        return read
    except json.JSONDecodeError as exc:
        read.problem(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")
        return read
    articles = document.get("data") if isinstance(document, dict) else None
    if not isinstance(articles, list):
        read.problem(None, "not SQuAD-style JSON: no top-level 'data' list of articles")
        return read
    for a, article in enumerate(articles, start=1):
        if not isinstance(article, dict):
            read.problem(None, f"article {a} is not an object")
            continue
        title = _text(article.get("title")) or f"article {a}"
        for p, paragraph in enumerate(article.get("paragraphs") or [], start=1):
            if not isinstance(paragraph, dict):
                read.problem(None, f"{title}, paragraph {p} is not an object")
                continue
            context = _text(paragraph.get("context"))
            for n, qa in enumerate(paragraph.get("qas") or [], start=1):
                where = f"{title}, paragraph {p}, question {_text(_get(qa, 'id')) or n}"
                try:
                    read.questions.append(_squad_question(qa, title, context, origin, where))
                except ValueError as exc:
                    read.problem(None, f"{where}: {exc}")
                    continue
                read.lines.append(None)
    return read


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _squad_question(qa: Any, title: str, context: str, origin: str, where: str) -> EvalQuestion:
    if not isinstance(qa, dict):
        raise ValueError("not an object")
    question = _text(qa.get("question"))
    if not question:
        raise ValueError("no question")
    impossible = qa.get("is_impossible") is True
    answers = [_text(_get(a, "text")) for a in qa.get("answers") or []]
    answers = list(dict.fromkeys(a for a in answers if a))
    if impossible:
        return EvalQuestion(
            question=question,
            answer=NOT_IN_DOCUMENTS,
            answerable=False,
            tags=("unanswerable",),
            origin=f"{origin}: {where}",
        )
    if not answers:
        raise ValueError("no answers (and not marked is_impossible)")
    return EvalQuestion(
        question=question,
        answer=answers[0],
        alternatives=tuple(answers[1:]),
        sources=(ExpectedSource(title, context),) if context else (ExpectedSource(title),),
        origin=f"{origin}: {where}",
    )


# -- export ----------------------------------------------------------------------------------


def export_questions(questions: Sequence[EvalQuestion], path: Path) -> int:
    """One JSON object a line (``EvalQuestion.to_json``), written atomically; reading the
    file back gives the same questions."""
    return write_jsonl_atomic(Path(path), (q.to_json() for q in questions))
