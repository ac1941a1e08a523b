"""A chat answer as a training example (Qt-free).

The user chooses whether the retrieved context stays in the user turn: kept, the
example teaches the model to answer from sources the way RAG will give them to it (the
same "Sources: … Question: …" layout the chat prompt uses); stripped, it teaches the
model to answer the bare question on its own."""

from __future__ import annotations

from dataclasses import dataclass

from desktop.finetune.examples import Message, TrainingExample

SAVED_ANSWERS = "Saved answers"
CHAT_TAG = "from-chat"


def user_turn(question: str, context: str | None, keep_context: bool) -> str:
    question = question.strip()
    if not keep_context or not context or not context.strip():
        return question
    sources = context.strip()
    if not sources.startswith("Sources:"):
        sources = "Sources:\n" + sources
    return f"{sources}\n\nQuestion: {question}"


def chat_example(
    question: str,
    answer: str,
    *,
    system_prompt: str | None,
    context: str | None,
    keep_context: bool,
) -> TrainingExample:
    messages = [
        Message("user", user_turn(question, context, keep_context)),
        Message("assistant", answer.strip()),
    ]
    if system_prompt and system_prompt.strip():
        messages.insert(0, Message("system", system_prompt))
    return TrainingExample(tuple(messages), tags=(CHAT_TAG,))


@dataclass(frozen=True)
class ChatOrigin:
    """Where a saved answer came from, so the editor can keep or strip the context."""

    example_id: int
    question: str
    context: str | None
    keep_context: bool

    @property
    def has_context(self) -> bool:
        return bool(self.context and self.context.strip())
