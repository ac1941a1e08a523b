"""The Markdown report: answers, evidence, recommendation and date, in tables that
survive whatever text the evidence holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from desktop.decision.checklist import Answer, Answers, comparison_table, recommend
from desktop.decision.evidence import (
    ChunkingConfig,
    DecisionInputs,
    EvaluationSets,
    Evidence,
    FormatRigidity,
    FragmentedTerm,
    KnowledgeChange,
    LabelledExamples,
    RetrievalLatency,
    SystemPromptSavings,
    VocabularyFragmentation,
)
from desktop.decision.report import cell, report_markdown

EVIDENCE = Evidence(
    chat_model="gpt-4.1-mini",
    knowledge=KnowledgeChange(40, 3, 9, 120.0, 2),
    format=FormatRigidity(30, 24, 0, 24, 0.8, json_keys="answer, confidence"),
    latency=RetrievalLatency(25, 41.0, 88.0),
    vocabulary=VocabularyFragmentation(
        "o200k_base", 9_000, 1_200, 1.4, 1.0, 1.4, (FragmentedTerm("apixaban", 4, 7),)
    ),
    examples=LabelledExamples(1, 70, 64, "support | v2", 64),
    prompt=SystemPromptSavings(700, 3_000, 2_100_000),
    evaluation=EvaluationSets(0),
    chunking=ChunkingConfig("fixed_words", True, True, 300),
    inputs=DecisionInputs(400.0, 3_000, "secret instructions"),
)


def test_report_has_the_date_recommendation_answers_evidence_and_table() -> None:
    answers = Answers({"change": Answer.YES, "attribution": Answer.YES, "format": Answer.YES})
    recommendation = recommend(EVIDENCE, answers)
    assert recommendation.choice == "both"
    text = report_markdown(
        EVIDENCE, answers, recommendation, comparison_table(EVIDENCE), date(2026, 11, 23)
    )
    assert "Date: 2026-11-23" in text
    assert f"**Both**, confidence {recommendation.confidence:.0%}" in text
    assert "Both: fine-tune for format and style, retrieve for facts." in text
    for reason in recommendation.reasons:
        assert reason.text.split(" — ")[0] in text
    assert "- **No evaluation set yet**:" in text
    assert "- **Chunking left at a naive default**:" in text
    checklist = text.split("## The checklist")[1].split("## Comparison")[0]
    rows = [line for line in checklist.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 9  # header and one row per question
    assert rows[1].startswith("| 1 | Does the knowledge change often? | Yes | 9 of 40 documents")
    assert "| Not sure |" in rows[2 + 1]  # question 3, not answered
    assert "support \\| v2" in text  # a pipe in a name does not break the table
    comparison = text.split("## Comparison")[1].split("## Inputs")[0]
    assert "| Latency | A search and a longer prompt on every request |" in comparison
    assert "retrieval median 41 ms, p95 88 ms (25 searches); budget 400 ms" in comparison
    assert "- Latency budget: 400 ms" in text
    assert "- System prompt: 700 tokens (text not included)" in text
    assert "secret instructions" not in text
    assert "| apixaban | 4 | 7 |" in text


def test_report_of_a_saved_recommendation_recomputes_the_cards() -> None:
    answers = Answers()
    saved = replace(recommend(EVIDENCE, answers), cards=())
    text = report_markdown(EVIDENCE, answers, saved, comparison_table(EVIDENCE), date(2027, 1, 2))
    assert "| 9 | Can the chosen provider still fine-tune? |" in text
    assert "Date: 2027-01-02" in text


def test_cells_never_break_a_row() -> None:
    assert cell("a | b\nc") == "a \\| b c"
    assert cell(None) == "—"
    assert cell("  ") == "—"
    assert cell("back\\slash") == "back\\\\slash"
