"""Where eval questions come from and what they lead to: leakage flagged both ways, a
dataset's validation split held out, chat answers saved, questions drafted from the
library, the offline sweep (which leaves the library alone) and applying its best row,
comparing runs."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from desktop.context import AppContext
from desktop.evaluation import metrics
from desktop.evaluation.compare import compare_runs, history, is_right, mode_figures
from desktop.evaluation.drafting import DraftedQuestion, SourceChunk, spread
from desktop.evaluation.records import (
    EvalQuestion,
    EvalRun,
    ExpectedSource,
    QuestionResult,
    RunConfig,
)
from desktop.evaluation.service import EvaluationError, EvaluationService
from desktop.evaluation.sweep import ScratchBM25, SweepGrid, SweepRow
from desktop.finetune.edits import AddExamples
from desktop.finetune.examples import Message, TrainingExample
from desktop.finetune.generate import ChunkFailure
from desktop.progress import drive, run_to_end
from desktop.retrieval.search import RetrievedChunk
from desktop.retrieval.service import RetrievalService
from tests.helpers.fake_openai import FakeOpenAI

PORT = "Which TCP port does the Hub listen on?"


def example(question: str, answer: str, split: str = "train") -> TrainingExample:
    return TrainingExample(
        (Message("user", question), Message("assistant", answer)),
        split=split,  # type: ignore[arg-type]
    )


@pytest.fixture
def evaluation(chat_context: AppContext) -> EvaluationService:
    return chat_context.evaluation()


def test_leakage_is_flagged_in_the_eval_set_and_in_the_dataset(
    chat_context: AppContext, evaluation: EvaluationService
) -> None:
    made = evaluation.create_set("Support")
    evaluation.store.add_questions(
        made.id,
        [EvalQuestion("How long do refunds take?", "14 days"), EvalQuestion(PORT, "47120")],
    )
    finetune = chat_context.finetune()
    dataset = finetune.create_dataset("Replies")
    finetune.apply(
        AddExamples(
            dataset.id,
            [
                example("Hello", "Hi"),
                example(f"Quick one: {PORT.lower()} Thanks!", "47120"),  # pasted in
                example("How long do refunds take?", "14 days", split="validation"),
            ],
        )
    )
    port_id = evaluation.questions("Support")[1].id
    leaks = evaluation.leaks("Support")
    assert list(leaks) == [port_id]  # the held-out example is not trained on
    assert [leak.describe() for leak in leaks[port_id]] == ["“Replies” example 2"]
    # The other way: the dataset builder's check names the eval question.
    examples = finetune.examples(dataset.id)
    analysis = finetune.analyse(examples, model="gpt-4.1-mini", epochs=None, price_per_million=None)
    flagged = [
        (n, i.message)
        for n, found in enumerate(analysis.issues)
        for i in found
        if i.category == "leakage"
    ]
    assert flagged == [
        (
            1,
            f"a user message matches eval question 2 of “Support” ({PORT!r}): "
            "the evaluation would measure memory, not skill",
        )
    ]
    finetune.close()


def test_a_validation_split_is_held_out_as_an_eval_set_with_its_format(
    chat_context: AppContext, evaluation: EvaluationService
) -> None:
    finetune = chat_context.finetune()
    dataset = finetune.create_dataset("JSON replies")
    reply = json.dumps({"answer": "14 days", "category": "billing"})
    finetune.apply(
        AddExamples(
            dataset.id,
            [
                example("Train question?", reply),
                example("When is my refund paid?", reply, split="validation"),
                example(
                    "Which port?",
                    json.dumps({"answer": "47120", "category": "setup"}),
                    split="validation",
                ),
            ],
        )
    )
    made, count = evaluation.hold_out("JSON replies")
    assert (made.name, count) == ("JSON replies (held out)", 2)
    assert made.format.kind == "template" and made.format.json_keys == ("answer", "category")
    questions = evaluation.questions(made.id)
    assert [q.question for q in questions] == ["When is my refund paid?", "Which port?"]
    assert questions[0].answer == reply and questions[0].origin.endswith("example 2")
    again, _ = evaluation.hold_out("JSON replies")
    assert again.name == "JSON replies (held out) (2)"
    empty = finetune.create_dataset("No split")
    finetune.apply(AddExamples(empty.id, [example("q", "a")]))
    with pytest.raises(EvaluationError, match="has no validation examples: split it first"):
        evaluation.hold_out("No split")
    finetune.close()


def test_a_chat_answer_becomes_a_question_with_its_sources(evaluation: EvaluationService) -> None:
    source = RetrievedChunk(
        1,
        7,
        3,
        "Refunds",
        "/docs/refunds.md",
        None,
        (),
        12,
        40,
        "within 14 days",
        0.9,
        0.9,
        None,
        1,
        None,
        None,
        False,
    )
    question = evaluation.question_from_chat(" When? ", "Within 14 days [1].", [source])
    assert (question.question, question.answer) == ("When?", "Within 14 days [1].")
    assert question.sources == (ExpectedSource("Refunds", "within 14 days", 12, 40),)
    assert question.tags == ("from chat",)


def test_questions_are_drafted_from_chunks_with_the_chunk_as_source(
    chat_context: AppContext, evaluation: EvaluationService, fake_openai: FakeOpenAI
) -> None:
    def reply(body: dict[str, Any]) -> str:
        passage = body["messages"][-1]["content"]
        if "47120" in passage:
            return "no JSON here"
        return json.dumps({"examples": [{"question": "What is in it?", "answer": "Facts."}]})

    fake_openai.chat_reply = reply
    events: list[object] = []
    drafts = drive(evaluation.draft(3), events.append)
    assert len(drafts) == 2
    assert len([e for e in events if isinstance(e, ChunkFailure)]) == 1
    first = drafts[0]
    assert isinstance(first, DraftedQuestion)
    chunk = first.chunk
    assert first.question.sources == (
        ExpectedSource(chunk.document, chunk.text, chunk.start, chunk.end),
    )
    assert first.question.tags == ("drafted",)
    instructions = fake_openai.requests_to("/v1/chat/completions")[0].json["messages"][0]
    assert "test questions" in instructions["content"]


def test_drafting_spreads_over_the_library() -> None:
    chunks = [SourceChunk("d", 1, n, n + 1, "word " * (30 if n % 2 else 3)) for n in range(10)]
    chosen = spread(chunks, 2)
    assert [c.start for c in chosen] == [1, 5]  # only the long chunks, evenly apart
    assert len(spread(chunks, 50)) == 5


def test_the_sweep_leaves_the_library_alone_and_rebuilds_only_what_changed(
    chat_context: AppContext, retrieval: RetrievalService, evaluation: EvaluationService
) -> None:
    made = evaluation.create_set("Support")
    evaluation.store.add_questions(
        made.id,
        [
            EvalQuestion(
                "When is money returned?",
                "14 days",
                (ExpectedSource("refunds.md", "within 14 days"),),
            ),
            EvalQuestion(PORT, "47120", (ExpectedSource("ports.md", "TCP port 47120"),)),
            EvalQuestion("What is LFS-4012?", "the shelf quota is exhausted"),
            EvalQuestion("Unanswerable?", "", answerable=False),
        ],
    )
    library = chat_context.library()
    before = [(c.id, c.text) for c in library.chunks()]
    config_before = library.chunking()
    grid = SweepGrid(
        ("recursive_tokens", "fixed_words"),
        (16, 64),
        ("minilm-l6-v2-static256",),
        ("lexical", "vector", "hybrid"),
        (1, 3),
    )
    result = drive(evaluation.sweep("Support", grid))
    assert len(result.rows) == grid.configurations() == 2 * 2 * 3 * 2
    assert result.builds == {"chunkings": 4, "embeddings": 4}
    assert (result.questions, result.skipped) == (3, 1)
    lexical = [r for r in result.rows if r.mode == "lexical"]
    assert lexical and all(r.embedder == "" for r in lexical)
    best = result.best(metrics.HIT_1)
    assert best is not None and best.metrics[metrics.HIT_1] == 1.0
    assert [(c.id, c.text) for c in library.chunks()] == before  # nothing re-chunked
    assert library.chunking() == config_before
    assert evaluation.sweeps("Support")[0].data["rows"][0] == result.rows[0].to_json()
    # Applying a row goes through the library's re-chunk and the settings.
    chosen = SweepRow("fixed_words", 16, "minilm-l6-v2-static256", "vector", 3, 0, {})
    message = run_to_end(evaluation.apply_configuration(chosen))
    assert "Re-chunked the library with fixed_words 16" in message
    assert chat_context.library().chunking().strategy.name == "fixed_words"
    settings = chat_context.settings
    assert (settings.search_mode, settings.search_k, settings.local_model) == (
        "vector",
        3,
        "minilm-l6-v2-static256",
    )


def test_bm25_of_the_sweep_ranks_by_rare_words() -> None:
    bm25 = ScratchBM25(["the cat sat", "the dog sat", "a cat and a cat", "nothing here"])
    ranked = bm25.search("cat sat", 10)
    assert [i for i, _ in ranked][:2] == [0, 2]  # both words, then "cat" twice
    assert bm25.search("zebra", 5) == []


def _run(
    run_id: int,
    mode: str,
    at: float,
    metrics_: dict[str, Any],
    answered: int = 20,
    judge: bool = False,
) -> EvalRun:
    return EvalRun(
        run_id,
        1,
        "Support",
        "h",
        RunConfig(mode, model="m", judge_model="j" if judge else ""),
        "complete",
        answered,
        metrics_,
        "",
        at,
        at + 1,
        answered=answered,
    )


def _result(question_id: int, **metrics_: float) -> QuestionResult:
    return QuestionResult(
        question_id, question_id, f"q{question_id}", "r", True, "ok", "a", metrics=metrics_
    )


def test_comparison_finds_the_questions_that_changed() -> None:
    base = _run(1, "base", 10.0, {"f1": 0.2, "format_adherence": 0.1})
    rag = _run(2, "rag", 20.0, {"f1": 0.7, "hit@5": 0.9})
    results = [
        [_result(1, f1=0.1), _result(2, f1=0.9), _result(3, f1=0.0)],
        [_result(1, f1=0.8), _result(2, f1=0.9), _result(3, f1=0.1)],
    ]
    comparison = compare_runs([base, rag], results)
    assert comparison.keys == ("f1", "format_adherence", "hit@5")
    assert [row.question_id for row in comparison.changed()] == [1]
    assert comparison.rows[0].right == (False, True)
    assert comparison.value(1, "hit@5") == 0.9 and comparison.value(0, "hit@5") is None
    assert is_right(replace(_result(4), status="failed"), base) is None
    retrieval = _run(3, "retrieval", 5.0, {})
    assert is_right(_result(5, **{"hit@k": 1.0}), retrieval) is True


def test_history_and_the_figures_the_decide_tab_cites() -> None:
    runs = [
        _run(1, "rag", 10.0, {"f1": 0.5}),
        _run(2, "rag", 30.0, {"f1": 0.6, "correct": 0.8}, judge=True),
        _run(3, "ft", 20.0, {"f1": 0.4, "format_adherence": 0.95}),
        _run(4, "base", 25.0, {"f1": 0.9}, answered=5),  # too few questions to cite
        replace(_run(5, "ft-rag", 26.0, {"f1": 0.9}), stale=True),  # the set changed since
    ]
    assert [p.value for p in history(runs, "f1")["rag"]] == [0.5, 0.6]
    figures = mode_figures(runs)
    assert [(f.mode, f.metric, f.value) for f in figures] == [
        ("rag", "correct", 0.8),
        ("ft", "f1", 0.4),
    ]
    assert figures[1].format_adherence == 0.95
