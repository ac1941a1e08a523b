"""Eval sets from JSONL, CSV and SQuAD JSON, with a line-by-line report; and back out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.evaluation.files import export_questions, parse_squad, read_questions
from desktop.evaluation.records import NOT_IN_DOCUMENTS, ExpectedSource

SQUAD_V2 = {
    "version": "v2.0",
    "data": [
        {
            "title": "Super_Bowl_50",
            "paragraphs": [
                {
                    "context": "Super Bowl 50 was an American football game. The American "
                    "Football Conference (AFC) champion Denver Broncos defeated the Carolina "
                    "Panthers.",
                    "qas": [
                        {
                            "id": "56be4db0acb8001400a502ec",
                            "question": "Which NFL team represented the AFC at Super Bowl 50?",
                            "answers": [
                                {"text": "Denver Broncos", "answer_start": 108},
                                {"text": "Denver Broncos", "answer_start": 108},
                                {"text": "the Denver Broncos", "answer_start": 104},
                            ],
                            "is_impossible": False,
                        },
                        {
                            "id": "5ad3ed86604f3c001a3ff7a6",
                            "question": "Which NFL team won Super Bowl 51?",
                            "answers": [],
                            "plausible_answers": [{"text": "Denver Broncos", "answer_start": 1}],
                            "is_impossible": True,
                        },
                        {"id": "broken", "question": "", "answers": []},
                    ],
                },
                "not a paragraph",
            ],
        }
    ],
}


def test_jsonl_reports_bad_lines_by_number_and_imports_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "question": "How long do refunds take?",
                        "answer": "14 days",
                        "source": "refund-policy.txt",
                        "tags": "refunds, money",
                    }
                ),
                "{not json",
                json.dumps(["a list"]),
                json.dumps({"answer": "no question here"}),
                "",
                json.dumps(
                    {
                        "query": "Which port?",
                        "reference": "47120",
                        "sources": [{"document": "ports.md", "passage": "port 47120"}],
                    }
                ),
                json.dumps({"question": "Who won in 2030?", "answerable": False}),
            ]
        ),
        encoding="utf-8",
    )
    read = read_questions(path)
    assert read.format == "jsonl"
    assert [(p.line, p.message) for p in read.problems] == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes (column 2)"),
        (3, "the line is list, not a JSON object"),
        (4, "no question (looked for the field question / query / q / prompt / input / user)"),
    ]
    assert read.lines == [1, 6, 7]
    first, second, third = read.questions
    assert (first.question, first.answer, first.tags) == (
        "How long do refunds take?",
        "14 days",
        ("refunds", "money"),
    )
    assert first.sources == (ExpectedSource("refund-policy.txt"),)
    assert first.origin == "set.jsonl line 1"
    assert second.sources == (ExpectedSource("ports.md", "port 47120"),)
    assert (third.answer, third.answerable) == (NOT_IN_DOCUMENTS, False)


def test_a_jsonl_mapping_names_the_fields(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        json.dumps({"id": "q1", "q_text": "Which port?", "doc": "ports.md", "quote": "47120"}),
        encoding="utf-8",
    )
    mapping = {"question": "q_text", "source": "doc", "passage": "quote", "answer": "quote"}
    (question,) = read_questions(path, "jsonl", mapping=mapping).questions
    assert question.question == "Which port?" and question.answer == "47120"
    assert question.sources == (ExpectedSource("ports.md", "47120"),)


def test_csv_goes_through_the_dataset_reader_with_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "Q,A,Doc,Tags\n"
        "How long do refunds take?,14 days,refund-policy.txt,refunds\n"
        '"Multi-line\nquestion?",yes,,\n'
        ",orphan answer,,\n"
        "Who won in 2030?,not in the documents,,\n"
        "short row\n",
        encoding="utf-8",
    )
    read = read_questions(
        path, mapping={"question": "Q", "answer": "A", "source": "Doc", "tags": "Tags"}
    )
    assert read.format == "csv"
    assert [q.question for q in read.questions] == [
        "How long do refunds take?",
        "Multi-line\nquestion?",
        "Who won in 2030?",
    ]
    assert read.questions[0].sources == (ExpectedSource("refund-policy.txt"),)
    assert read.questions[0].tags == ("refunds",)
    assert not read.questions[2].answerable
    assert [(p.line, p.message) for p in read.problems] == [
        (5, "the question cell is empty"),
        (7, "the row has 1 field(s); the answer column is field 2"),
    ]
    with pytest.raises(ValueError, match="needs a column for the answer"):
        read_questions(path, mapping={"question": "Q"})


def test_squad_v2_keeps_unanswerable_questions(tmp_path: Path) -> None:
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(SQUAD_V2), encoding="utf-8")
    read = read_questions(path)
    assert read.format == "squad"
    answerable, impossible = read.questions
    assert answerable.answer == "Denver Broncos"
    assert answerable.alternatives == ("the Denver Broncos",)
    assert answerable.sources[0].document == "Super_Bowl_50"
    assert answerable.sources[0].passage.startswith("Super Bowl 50 was")
    assert (impossible.answer, impossible.answerable, impossible.sources) == (
        NOT_IN_DOCUMENTS,
        False,
        (),
    )
    assert [p.message for p in read.problems] == [
        "Super_Bowl_50, paragraph 1, question broken: no question",
        "Super_Bowl_50, paragraph 2 is not an object",
    ]
    broken = parse_squad(b'{"data": [', "x.json")
    assert broken.problems[0].line == 1 and "not valid JSON" in broken.problems[0].message


def test_export_reads_back_as_the_same_questions(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SQUAD_V2), encoding="utf-8")
    questions = read_questions(path).questions
    out = tmp_path / "out" / "set.jsonl"
    assert export_questions(questions, out) == 2
    again = read_questions(out).questions
    strip = [q.content_key() for q in questions]
    assert [q.content_key() for q in again] == strip
    assert out.read_text(encoding="utf-8").count("\n") == 2
