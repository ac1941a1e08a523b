"""Drafting eval questions from the library with the chat model: the dataset builder's
generation (``desktop.finetune.generate``) with instructions for test questions, each
question grounded in one chunk, that chunk recorded as its expected source (document
and passage with its offsets). Drafts are reviewed before they are kept."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.evaluation.records import EvalQuestion, ExpectedSource
from desktop.finetune.generate import ChunkFailure, ProposedExample, generate_examples
from desktop.progress import CancelToken, Progress

EVAL_INSTRUCTIONS = """\
You write test questions for an assistant that answers questions about a set of \
documents.

You are given one passage from those documents. Write {count} question(s) about it, \
each with a short reference answer.

Questions:
- Write what a real user would ask, in their own words, as if they had never seen the \
passage. Never mention "the passage", "the text" or "the document".
- Each question must have one clear answer that the passage states.

Answers:
- As short as the fact allows: a number, a name, a phrase or one sentence, using only \
what the passage states.

Return only a JSON object of this form, with no other text:
{{"examples": [{{"question": "...", "answer": "..."}}]}}"""

MIN_CHUNK_WORDS = 25
"""Chunks shorter than this hold too little to ask about (headings, table rows)."""


@dataclass(frozen=True)
class SourceChunk:
    """A library chunk a question may be drafted from."""

    document: str
    document_id: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class DraftedQuestion:
    chunk: SourceChunk
    question: EvalQuestion


def spread(chunks: Sequence[SourceChunk], count: int) -> list[SourceChunk]:
    """``count`` chunks spread evenly over the library (long enough to ask about), in
    library order: deterministic, so the same library drafts from the same chunks."""
    usable = [c for c in chunks if len(c.text.split()) >= MIN_CHUNK_WORDS] or list(chunks)
    if count >= len(usable):
        return usable
    step = len(usable) / count
    return [usable[int(i * step)] for i in range(count)]


def draft_questions(
    client: Callable[[], Any],
    model: str,
    chunks: Sequence[SourceChunk],
    *,
    per_chunk: int = 1,
    cancel: CancelToken | None = None,
) -> Generator[Progress | DraftedQuestion | ChunkFailure, None, list[DraftedQuestion]]:
    """Yields progress, each drafted question as its reply is read, and the chunks that
    gave none (with the reason); returns the drafts."""
    made = client()
    drafted: list[DraftedQuestion] = []
    try:
        events = generate_examples(
            made,
            model,
            [c.text for c in chunks],
            per_chunk=per_chunk,
            cancel=cancel,
            instructions=EVAL_INSTRUCTIONS,
            tags=("drafted",),
        )
        for event in events:
            if isinstance(event, ProposedExample):
                chunk = chunks[event.chunk_index]
                messages = {m.role: m.content for m in event.example.messages}
                item = DraftedQuestion(
                    chunk,
                    EvalQuestion(
                        question=str(messages.get("user") or ""),
                        answer=str(messages.get("assistant") or ""),
                        sources=(
                            ExpectedSource(chunk.document, chunk.text, chunk.start, chunk.end),
                        ),
                        tags=("drafted",),
                        origin=f"drafted by {model} from {chunk.document}",
                    ),
                )
                drafted.append(item)
                yield item
            else:
                yield event
    finally:
        made.close()
    return drafted
