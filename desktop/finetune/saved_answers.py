"""A chat answer as a training example.

The user chooses whether the retrieved sources stay in the user turn. Kept, the example
teaches the model to answer from sources the way RAG will give them to it, so the user
turn is written by the chat prompt's own code (``sources_message``: numbered
``<source id=…>`` blocks, then the question). Stripped, it teaches the model to answer
the bare question on its own, so nothing may still point at sources: the system prompt
loses its instructions about them and the reply its [n] markers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from desktop.chat.citations import strip_citations
from desktop.chat.prompt import (
    GROUNDED_SYSTEM_PROMPT,
    PLAIN_SYSTEM_PROMPT,
    format_sources,
    sources_message,
)
from desktop.finetune.examples import Message, TrainingExample

if TYPE_CHECKING:
    from desktop.retrieval.search import RetrievedChunk

SAVED_ANSWERS = "Saved answers"
CHAT_TAG = "from-chat"

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ABOUT_SOURCES = re.compile(r"\bsources?\b|\bcit(?:e|es|ing|ation)s?\b|<source|\[\d", re.I)


def user_turn(question: str, sources: Sequence[RetrievedChunk], keep_context: bool) -> str:
    if not keep_context or not sources:
        return question.strip()
    return sources_message(question, format_sources(sources))


def system_without_sources(system_prompt: str) -> str:
    """The system prompt with every sentence about sources or citing them dropped (the
    grounded prompt becomes the plain one); what is left if anything, else the plain
    prompt."""
    if system_prompt.strip() == GROUNDED_SYSTEM_PROMPT:
        return PLAIN_SYSTEM_PROMPT
    kept = [s for s in _SENTENCE.split(system_prompt.strip()) if not _ABOUT_SOURCES.search(s)]
    return " ".join(kept) or PLAIN_SYSTEM_PROMPT


@dataclass(frozen=True)
class ChatOrigin:
    """Where a saved answer came from, so the editor can keep or strip the sources."""

    example_id: int | None
    question: str
    answer: str
    system_prompt: str | None
    sources: tuple[RetrievedChunk, ...] = ()
    keep_context: bool = False

    @property
    def has_context(self) -> bool:
        return bool(self.sources)

    def example(self, keep_context: bool | None = None) -> TrainingExample:
        keep = self.keep_context if keep_context is None else keep_context
        keep = keep and self.has_context
        answer = self.answer.strip()
        messages = [
            Message("user", user_turn(self.question, self.sources, keep)),
            Message("assistant", answer if keep else strip_citations(answer)),
        ]
        if self.system_prompt and self.system_prompt.strip():
            system = self.system_prompt if keep else system_without_sources(self.system_prompt)
            messages.insert(0, Message("system", system))
        return TrainingExample(tuple(messages), tags=(CHAT_TAG,))

    def switch(self, current: TrainingExample, keep_context: bool) -> TrainingExample:
        """``current`` (as the user may have edited it) with the sources kept or stripped:
        the user turn is rebuilt; the system prompt and the reply change where they still
        read as saved, and a stripped reply never keeps an [n] marker."""
        before, after = self.example(), self.example(keep_context)
        old = {m.role: m.text for m in before.messages}
        new = {m.role: m.text for m in after.messages}
        messages = []
        for message in current.messages:
            text = message.text
            if message.role == "user":
                text = new["user"]
            elif message.role == "system" and "system" in new and text == old.get("system"):
                text = new["system"]
            elif message.role == "assistant":
                if text == old["assistant"]:
                    text = new["assistant"]
                elif not keep_context:
                    text = strip_citations(text)
            messages.append(message if text == message.text else replace(message, content=text))
        return replace(current, messages=tuple(messages))


def chat_example(
    question: str,
    answer: str,
    *,
    system_prompt: str | None,
    sources: Sequence[RetrievedChunk] = (),
    keep_context: bool = False,
) -> TrainingExample:
    origin = ChatOrigin(None, question, answer, system_prompt, tuple(sources), keep_context)
    return origin.example()
