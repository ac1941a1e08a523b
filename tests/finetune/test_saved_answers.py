"""A chat answer as a training example: kept, its sources in the chat prompt's layout;
stripped, nothing left that points at a source."""

from __future__ import annotations

from desktop.chat.prompt import GROUNDED_SYSTEM_PROMPT, PLAIN_SYSTEM_PROMPT, build_prompt
from desktop.finetune.examples import Message
from desktop.finetune.saved_answers import ChatOrigin, chat_example, system_without_sources
from desktop.finetune.validation import check_example
from tests.chat.test_prompt import chunk

SOURCES = [chunk(1, "Refunds take 14 days.", "manual.md"), chunk(2, "To the card.", "manual.md")]
QUESTION = "How do refunds work?"
ANSWER = "They take 14 days [1] and go to the card [2]."


def test_kept_sources_are_the_user_turn_the_chat_sends() -> None:
    example = chat_example(
        QUESTION, ANSWER, system_prompt=GROUNDED_SYSTEM_PROMPT, sources=SOURCES, keep_context=True
    )
    sent = build_prompt(QUESTION, SOURCES, model="gpt-4o-mini").messages
    assert example.messages[0].text == sent[0]["content"] == GROUNDED_SYSTEM_PROMPT
    assert example.question == sent[-1]["content"]
    assert example.answer == ANSWER
    assert check_example(example) == []


def test_stripped_sources_leave_nothing_that_points_at_them() -> None:
    example = chat_example(QUESTION, ANSWER, system_prompt=GROUNDED_SYSTEM_PROMPT, sources=SOURCES)
    assert [m.text for m in example.messages] == [
        PLAIN_SYSTEM_PROMPT,
        QUESTION,
        "They take 14 days and go to the card.",
    ]
    assert check_example(example) == []
    custom = "You are Acme's support bot. Cite the sources you use. Answer in English."
    assert system_without_sources(custom) == "You are Acme's support bot. Answer in English."
    assert system_without_sources("Use only the sources.") == PLAIN_SYSTEM_PROMPT


def test_switching_keeps_what_the_user_edited() -> None:
    origin = ChatOrigin(1, QUESTION, ANSWER, GROUNDED_SYSTEM_PROMPT, tuple(SOURCES), False)
    saved = origin.example()
    edited = saved.__class__(
        (Message("system", "My own prompt."), *saved.messages[1:]), tags=saved.tags
    )
    kept = origin.switch(edited, True)
    assert kept.system_prompt == "My own prompt."  # the user's, not put back
    assert kept.answer == ANSWER  # unchanged since saved: its citations come back
    assert kept.question.startswith('Sources:\n<source id="1" document="manual.md" page="2"')
    assert origin.switch(kept, False).question == QUESTION
