"""The judge: a chat model asked whether an answer is correct against the reference and,
in the RAG modes, faithful to the retrieved sources. Optional; its prompt is shown and
can be edited, and the prompt used is kept with the run.

A verdict counts only when the reply is the JSON object the prompt asks for, with a
true/false ``correct``; anything else is "unjudged" (with the reply kept), never read
as a score. A call that fails is unjudged too, with the reason."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from desktop.evaluation.records import JudgeVerdict

DEFAULT_JUDGE_PROMPT = """\
You grade an answer to a question. Compare it with the reference answer, and with the \
sources the answer was given, if any.

Question:
{question}

Reference answer:
{reference}

Sources given to the answer (may be empty):
{sources}

Answer to grade:
{answer}

Reply with only a JSON object, no other text:
{"correct": true or false, "faithful": true, false or null, "reason": "one short sentence"}

"correct": the answer states what the reference states; wording may differ, and extra \
detail is fine unless it contradicts the reference. If the reference says the documents \
do not answer the question, the answer is correct only if it says so too.
"faithful": every claim in the answer is supported by the sources; null when no sources \
were given."""

PLACEHOLDERS = ("{question}", "{reference}", "{answer}", "{sources}")
REQUIRED_PLACEHOLDERS = ("{question}", "{answer}")
MAX_SOURCE_CHARS = 2000
_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL)


class JudgePromptError(ValueError):
    pass


def check_prompt(prompt: str) -> None:
    missing = [p for p in REQUIRED_PLACEHOLDERS if p not in prompt]
    if missing:
        raise JudgePromptError(
            f"the judge prompt needs {' and '.join(missing)}: they are replaced by the "
            "question and the answer to grade"
        )


def judge_messages(
    prompt: str, question: str, reference: str, answer: str, sources: Sequence[str]
) -> list[dict[str, str]]:
    """Placeholders are replaced literally (the prompt's JSON braces stay as they are)."""
    numbered = "\n\n".join(
        f"[{n}] {text[:MAX_SOURCE_CHARS]}" for n, text in enumerate(sources, start=1)
    )
    text = (
        prompt.replace("{question}", question)
        .replace("{reference}", reference or "(none)")
        .replace("{sources}", numbered or "(none)")
        .replace("{answer}", answer)
    )
    return [{"role": "user", "content": text}]


def _flag(value: Any) -> bool | str | None:
    """True/False/None from a JSON value; "bad" when it is none of those."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no"):
        return value.strip().lower() in ("true", "yes")
    return "bad"


def parse_verdict(reply: str, *, wants_faithful: bool) -> JudgeVerdict:
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        data = json.loads(text)
    except ValueError:
        return JudgeVerdict("unjudged", reason="the judge did not reply with JSON", reply=reply)
    if not isinstance(data, dict) or "correct" not in data:
        return JudgeVerdict("unjudged", reason="the judge's reply has no 'correct'", reply=reply)
    correct = _flag(data.get("correct"))
    faithful = _flag(data.get("faithful"))
    if not isinstance(correct, bool):
        return JudgeVerdict(
            "unjudged", reason="the judge's 'correct' is not true or false", reply=reply
        )
    if faithful == "bad":
        return JudgeVerdict(
            "unjudged", reason="the judge's 'faithful' is not true, false or null", reply=reply
        )
    reason = data.get("reason")
    return JudgeVerdict(
        "judged",
        correct=correct,
        faithful=faithful if wants_faithful else None,  # type: ignore[arg-type]
        reason=str(reason) if isinstance(reason, str) else "",
        reply=reply,
    )


def judge_answer(
    client: Any,
    model: str,
    prompt: str,
    *,
    question: str,
    reference: str,
    answer: str,
    sources: Sequence[str],
    wants_faithful: bool,
    explain: Callable[[BaseException], str],
) -> JudgeVerdict:
    """One judge call (the SDK's retries honour 429 Retry-After); never raises for the
    server's faults: a failed call is unjudged with the reason."""
    import openai

    request: dict[str, Any] = {
        "model": model,
        "messages": judge_messages(prompt, question, reference, answer, sources),
        "response_format": {"type": "json_object"},
        "temperature": 0,
    }
    try:
        response = client.chat.completions.create(**request)
    except openai.OpenAIError as exc:
        return JudgeVerdict("unjudged", reason=f"the judge call failed: {explain(exc)}")
    choices = getattr(response, "choices", None) or []
    content = getattr(getattr(choices[0], "message", None), "content", None) if choices else None
    if not content:
        return JudgeVerdict("unjudged", reason="the judge sent an empty reply")
    return parse_verdict(str(content), wants_faithful=wants_faithful)
