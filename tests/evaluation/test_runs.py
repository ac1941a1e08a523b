"""Runs through the evaluation's front door against the fake server: every mode, faults
per question, requests in flight, cancel and resume without double counting, staleness,
the judge, the estimate."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from desktop.context import AppContext
from desktop.evaluation.edits import UpdateQuestions
from desktop.evaluation.records import NOT_IN_DOCUMENTS, EvalQuestion, ExpectedSource, FormatSpec
from desktop.evaluation.runner import QuestionDone
from desktop.evaluation.service import EvaluationError, EvaluationService
from desktop.progress import CancelToken, drive
from desktop.retrieval.search_log import SearchLog
from desktop.retrieval.service import RetrievalService
from tests.helpers.fake_openai import FakeOpenAI

QUESTIONS = [
    EvalQuestion(
        "How long until my money is back?",
        "within 14 days",
        (ExpectedSource("refunds.md", "returned within 14 days"),),
    ),
    EvalQuestion(
        "Which TCP port does the Hub listen on?",
        "47120",
        (ExpectedSource("ports.md", "TCP port 47120"),),
    ),
    EvalQuestion(
        "What does LFS-4012 mean?",
        "the shelf quota is exhausted",
        (ExpectedSource("errors.md"),),
    ),
    EvalQuestion("Who is the CEO?", NOT_IN_DOCUMENTS, answerable=False),
]


@pytest.fixture
def evaluation(chat_context: AppContext, retrieval: RetrievalService) -> EvaluationService:
    service = chat_context.evaluation()
    made = service.create_set("Support")
    service.store.add_questions(made.id, QUESTIONS)
    return service


def run(service: EvaluationService, mode: str, **options: Any) -> Any:
    config = service.config(mode, **options)
    started = service.start_run("Support", config)
    drive(service.run_questions(started.id), stops_itself=True)
    return service.run_view(started.id)


def test_retrieval_alone_needs_no_chat_model_and_logs_no_search(
    evaluation: EvaluationService, chat_context: AppContext, fake_openai: FakeOpenAI
) -> None:
    # No provider at all: the chat could not answer, retrieval is scored anyway.
    chat_context.save_settings(
        chat_context.settings.replace(provider="openai", base_url="https://api.openai.com/v1")
    )
    view = run(evaluation, "retrieval", k=2)
    metrics = view.run.metrics
    assert view.run.status == "complete" and view.run.answered == 4
    assert {"hit@1", "hit@5", "mrr", "ndcg@10", "recall@k"} <= set(metrics)
    assert metrics["hit@5"] == 1.0  # three documents, three questions with a source
    assert 0 < metrics["mrr"] <= 1
    assert "exact_match" not in metrics and "f1" not in metrics
    first = view.results[0]
    assert first.retrieved[0].score > 0 and first.retrieved[0].relevant is not None
    assert not fake_openai.requests_to("/v1/chat/completions")
    assert SearchLog(chat_context.workspace).latencies(kinds=("search", "answer", "eval")) == []


def test_a_rag_run_answers_every_question_and_scores_it(
    evaluation: EvaluationService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_reply = lambda body: (
        "The documents do not say."
        if "CEO" in body["messages"][-1]["content"]
        else "within 14 days [1]"
    )
    evaluation.set_format("Support", FormatSpec("json"))
    view = run(evaluation, "rag", k=2)
    metrics = view.run.metrics
    assert (view.run.answered, view.run.failed, view.run.status) == (4, 0, "complete")
    assert metrics["exact_match"] == pytest.approx(0.0)
    # "within 14 days [1]" → within 14 days 1: 3 of 4 tokens shared with the reference,
    # P 3/4, R 1, F1 6/7; the other two answerable questions share nothing.
    assert metrics["f1"] == pytest.approx((6 / 7) / 3, abs=1e-4)
    assert metrics["refused_unanswerable"] == 1.0
    assert metrics["said_unknown"] == 0.25
    assert metrics["format_adherence"] == 0.0  # plain text where JSON was declared
    assert view.results[0].format_violation.startswith("plain text, not JSON (it begins “")
    assert metrics["tokens_per_answer"] > 0 and metrics["cost_per_answer_usd"] > 0
    assert metrics["latency_median_ms"] > 0
    data = json.loads(json.dumps(view.to_json()))
    assert [r["status"] for r in data["results"]] == ["ok"] * 4
    assert data["results"][0]["answer"] == "within 14 days [1]"
    assert data["results"][0]["retrieved"][0]["text"]
    # The prompt carried the sources the run retrieved (k=2).
    sent = [
        r.json["messages"][-1]["content"] for r in fake_openai.requests_to("/v1/chat/completions")
    ]
    refunds = next(text for text in sent if "money" in text)
    assert refunds.count("<source id=") == 2


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"status": 401}, "rejected the API key"),
        ({"status": 500}, "server error"),
        ({"cut_stream_after": 2}, "cut off"),
        ({"delay": 3.0}, "did not answer within"),
    ],
)
def test_a_failed_question_is_marked_with_the_reason_and_the_run_goes_on(
    evaluation: EvaluationService,
    chat_context: AppContext,
    fake_openai: FakeOpenAI,
    fault: dict[str, Any],
    words: str,
) -> None:
    chat_context.save_settings(chat_context.settings.replace(request_timeout=1.0))
    fake_openai.inject("/v1/chat/completions", **fault)
    view = run(evaluation, "base", concurrency=1)
    assert view.run.status == "complete"
    assert [r.status for r in view.results] == ["failed", "ok", "ok", "ok"]
    assert words in view.results[0].error, view.results[0].error
    assert view.run.metrics["failed"] == 1 and view.run.metrics["answered"] == 3


def test_an_unknown_model_fails_every_question_with_a_readable_reason(
    evaluation: EvaluationService,
) -> None:
    view = run(evaluation, "base", model="gpt-retired-2024")
    assert view.run.failed == 4
    assert all("retired or unknown" in r.error for r in view.results)


def test_a_429_is_waited_out_with_its_retry_after(
    evaluation: EvaluationService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/chat/completions", 429, retry_after=0.2)
    view = run(evaluation, "base", concurrency=1)
    assert view.run.answered == 4
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 5


def test_at_least_eight_questions_are_in_flight(
    chat_context: AppContext, retrieval: RetrievalService, fake_openai: FakeOpenAI
) -> None:
    service = chat_context.evaluation()
    made = service.create_set("Many")
    service.store.add_questions(made.id, [EvalQuestion(f"Question {n}?", "x") for n in range(8)])
    fake_openai.inject("/v1/chat/completions", delay=4.0, times=8)  # under the 5 s timeout
    started = service.start_run("Many", service.config("base"))
    assert started.config.concurrency == 8  # the setting's default
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (drive(service.run_questions(started.id), stops_itself=True), done.set())
    )
    worker.start()
    deadline = time.monotonic() + 20
    while len(fake_openai.requests_to("/v1/chat/completions")) < 8:
        assert time.monotonic() < deadline, "eight requests never went out together"
        time.sleep(0.05)
    assert service.run(started.id).answered == 0  # all eight sent before any answer came
    worker.join(30)
    assert done.is_set() and service.run(started.id).answered == 8


def test_a_stopped_run_keeps_its_answers_and_resumes_without_counting_twice(
    evaluation: EvaluationService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/chat/completions", delay=0.3, times=100)
    config = evaluation.config("base", concurrency=2)
    started = evaluation.start_run("Support", config)
    cancel = CancelToken()

    def stop_after_first(event: object) -> None:
        if isinstance(event, QuestionDone):
            cancel.cancel()

    outcome = drive(
        evaluation.run_questions(started.id, cancel), stop_after_first, stops_itself=True
    )
    stopped = evaluation.run(started.id)
    assert outcome.status == stopped.status == "stopped" and stopped.resumable
    assert 1 <= stopped.answered < 4  # the one in flight was let finish, nothing more asked
    asked = len(fake_openai.requests_to("/v1/chat/completions"))
    assert asked == stopped.answered
    drive(evaluation.run_questions(started.id), stops_itself=True)
    finished = evaluation.run_view(started.id)
    assert finished.run.status == "complete" and finished.run.answered == 4
    assert sorted(r.question_id for r in finished.results) == sorted(
        q.id for q in evaluation.questions("Support")
    )
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 4  # no question twice
    with pytest.raises(EvaluationError, match="complete already"):
        drive(evaluation.run_questions(started.id))


def test_a_run_whose_set_changed_is_stale_and_cannot_be_resumed(
    evaluation: EvaluationService,
) -> None:
    started = evaluation.start_run("Support", evaluation.config("retrieval", limit=2))
    assert started.planned == 2
    first = evaluation.questions("Support")[0]
    evaluation.apply(UpdateQuestions(first.id or 0, [replace(first, answer="two weeks")]))
    assert evaluation.run(started.id).stale
    with pytest.raises(EvaluationError, match="changed since run"):
        drive(evaluation.run_questions(started.id))


def test_the_judge_scores_in_format_replies_and_leaves_the_rest_unjudged(
    evaluation: EvaluationService, fake_openai: FakeOpenAI
) -> None:
    def reply(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        if body.get("response_format"):  # the judge
            if "for What does LFS-4012 mean?" in prompt:
                return "Looks right to me!"
            correct = prompt.startswith("Grade 47120")  # the answer comes first here
            return json.dumps({"correct": correct, "faithful": True, "reason": f"saw {correct}"})
        return "47120 [1]" if "Question: Which TCP port" in prompt else "I am not sure [1]"

    fake_openai.chat_reply = reply
    prompt = "Grade {answer} for {question} against {reference} and {sources}. JSON please."
    view = run(evaluation, "rag", judge_model="gpt-4.1-mini", judge_prompt=prompt)
    assert view.run.config.judge_prompt == prompt  # kept with the run
    judged = {r.question: r.judge for r in view.results}
    lfs = judged["What does LFS-4012 mean?"]
    assert lfs is not None and lfs.status == "unjudged" and lfs.correct is None
    assert lfs.reply == "Looks right to me!"
    port = judged["Which TCP port does the Hub listen on?"]
    assert port is not None and port.correct is True and port.reason == "saw True"
    assert view.run.metrics["unjudged"] == 1
    assert view.run.metrics["correct"] == pytest.approx(1 / 3, abs=1e-4)  # 1 of 3 judged
    assert view.run.metrics["faithful"] == 1.0
    with pytest.raises(ValueError, match="needs \\{question\\}"):
        evaluation.config("rag", judge_model="gpt-4.1-mini", judge_prompt="Grade {answer}")


def test_the_estimate_comes_before_the_run(evaluation: EvaluationService) -> None:
    rag = evaluation.estimate("Support", evaluation.config("rag", judge_model="gpt-4.1-mini"))
    assert rag.questions == 4 and rag.prompt_tokens > 4 * 120 and rag.judge_tokens > 0
    assert rag.cost_usd is not None and rag.cost_usd > 0
    assert "about $" in rag.describe()
    local = evaluation.estimate("Support", evaluation.config("base", model="llama3.2"))
    assert local.cost_usd is None and "cost unknown" in local.describe()
    alone = evaluation.estimate("Support", evaluation.config("retrieval", limit=1))
    assert (alone.questions, alone.total_tokens, alone.cost_usd) == (1, 0, 0.0)


def test_fine_tuned_modes_need_a_fine_tuned_model(evaluation: EvaluationService) -> None:
    with pytest.raises(EvaluationError, match="needs a fine-tuned model"):
        evaluation.config("ft")
    assert evaluation.config("ft-rag", model="ft:gpt-4.1-mini:org::abc").model.startswith("ft:")


def test_a_run_keeps_the_reranker_in_force_and_is_run_with_it(
    evaluation: EvaluationService, chat_context: AppContext, retrieval: RetrievalService
) -> None:
    """The reranker is part of the retrieval settings a run measures: it is recorded with
    the run, named in its description, and used for it even if the settings change before
    the run goes (or resumes)."""
    chat_context.save_settings(
        chat_context.settings.replace(rerank="maxsim", rerank_candidates=10, rerank_window=32)
    )
    config = evaluation.config("retrieval")
    assert config.search["rerank"] == "maxsim"
    assert (config.search["rerank_candidates"], config.search["rerank_window"]) == (10, 32)
    assert "reranked (maxsim)" in config.describe()
    started = evaluation.start_run("Support", config)
    chat_context.save_settings(chat_context.settings.replace(rerank="off"))
    used: list[tuple[str | None, int | None]] = []
    search = retrieval.search

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append((kwargs.get("rerank"), kwargs.get("rerank_window")))
        return search(*args, **kwargs)

    retrieval.search = spy  # type: ignore[method-assign]
    drive(evaluation.run_questions(started.id), stops_itself=True)
    assert used and set(used) == {("maxsim", 32)}
    assert evaluation.run(started.id).config.rerank == "maxsim"

    chat_context.save_settings(chat_context.settings.replace(rerank="off"))
    plain = evaluation.config("retrieval")
    assert plain.search["rerank"] == "off" and "reranked" not in plain.describe()


def test_a_run_records_the_threshold_that_applies_not_auto(
    evaluation: EvaluationService, chat_context: AppContext
) -> None:
    """With the threshold on "auto" a run keeps the number its embedder called for, so
    it is measured again the same way even if a model's own threshold changes."""
    from desktop.settings import AUTO_THRESHOLD

    chat_context.save_settings(chat_context.settings.replace(similarity_threshold=AUTO_THRESHOLD))
    assert evaluation.config("retrieval").search["threshold"] == 0.4  # the static model's
    chat_context.save_settings(chat_context.settings.replace(similarity_threshold=0.25))
    assert evaluation.config("retrieval").search["threshold"] == 0.25
