"""Drafting question-and-answer examples from library chunks with a chat model.

A progress generator: it yields ``Progress`` before each chunk and each
``ProposedExample`` as soon as its reply is parsed, so a reviewer can accept examples
while the rest are still being written. A reply that cannot be parsed (or a chunk
the server refuses) is yielded as a ``ChunkFailure`` and the run goes on. A cancel
stops before the next request; everything yielded so far stays with the caller.
Errors that no other chunk would escape (a wrong key, an unknown model, the server
down after the client's retries) propagate as the ``openai`` exceptions they are.

The prompt asks for questions a user would really ask and answers grounded only in
the chunk, as one JSON object; JSON mode (``response_format``) is requested because
OpenAI and most compatible servers honour it, and the reply is still parsed
leniently (code fences, text around the JSON, other key names) because not all do.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from desktop.finetune.examples import Message, TrainingExample
from desktop.progress import CancelToken, Progress

if TYPE_CHECKING:
    from desktop.library.repository import StoredChunk
    from desktop.library.service import LibraryService

logger = logging.getLogger(__name__)

GENERATION_INSTRUCTIONS = """\
You write training data for an assistant that answers questions about a set of documents.

You are given one passage from those documents. Write {count} question-and-answer pairs \
about it.

Questions:
- Write what a real user would ask, in their own words, as if they had never seen the \
passage. Never mention "the passage", "the text" or "the document".
- Cover different facts of the passage; do not ask the same thing twice.

Answers:
- Use only what the passage states. Do not add facts, numbers or advice from elsewhere, \
and do not guess. If the passage gives only part of an answer, answer only that part.
- Answer directly and completely in a few sentences, in the language of the passage.

Return only a JSON object of this form, with no other text:
{{"examples": [{{"question": "...", "answer": "..."}}]}}"""

_QUESTION_KEYS = ("question", "q", "user", "prompt", "input", "instruction")
_ANSWER_KEYS = ("answer", "a", "assistant", "response", "output", "completion")
_LIST_KEYS = ("examples", "pairs", "qa_pairs", "questions", "items", "data", "qa")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class HasText(Protocol):
    @property
    def text(self) -> str: ...


Chunk = str | HasText


class ReplyParseError(ValueError):
    """A model reply without usable question-answer pairs."""


@dataclass(frozen=True)
class ProposedExample:
    """A drafted example awaiting review, and the chunk it came from."""

    chunk_index: int
    example: TrainingExample


@dataclass(frozen=True)
class ChunkFailure:
    """A chunk that produced no examples, with the reason and the raw reply."""

    chunk_index: int
    reason: str
    reply: str = ""


@dataclass(frozen=True)
class GenerationResult:
    proposed: tuple[ProposedExample, ...]
    failures: tuple[ChunkFailure, ...]
    chunks_done: int
    cancelled: bool


GenerationEvent = Progress | ProposedExample | ChunkFailure


def chunk_text(chunk: Chunk) -> str:
    return chunk if isinstance(chunk, str) else str(chunk.text)


def _chunk_label(chunk: Chunk, index: int) -> str:
    if isinstance(chunk, str):
        return f"chunk {index + 1}"
    parts = []
    document = getattr(chunk, "document_id", None)
    if document is not None:
        parts.append(f"document {document}")
    number = getattr(chunk, "index", None)
    parts.append(f"chunk {number + 1 if isinstance(number, int) else index + 1}")
    page = getattr(chunk, "page", None)
    if page is not None:
        parts.append(f"page {page}")
    headings = getattr(chunk, "heading_path", ())
    if headings:
        parts.append(" › ".join(headings))
    return ", ".join(parts)


def build_request(
    model: str,
    text: str,
    *,
    per_chunk: int,
    instructions: str = GENERATION_INSTRUCTIONS,
    json_mode: bool = True,
    temperature: float | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create`` for one chunk (pure)."""
    request: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": instructions.format(count=per_chunk)},
            {"role": "user", "content": f"Passage:\n<<<\n{text}\n>>>"},
        ],
    }
    if json_mode:
        request["response_format"] = {"type": "json_object"}
    if temperature is not None:
        request["temperature"] = temperature
    return request


def _first_json(text: str) -> Any:
    """The first JSON value in ``text``, allowing fences and prose around it."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            return json.loads(candidate)
        except ValueError:
            pass
        for start, char in enumerate(candidate):
            if char in "{[":
                try:
                    return decoder.raw_decode(candidate, start)[0]
                except ValueError:
                    continue
    raise ReplyParseError("the reply contains no JSON")


def _pick(item: dict[str, Any], keys: Sequence[str]) -> str | None:
    lowered = {str(k).lower(): v for k, v in item.items()}
    for key in keys:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _items(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if _pick(data, _QUESTION_KEYS) and _pick(data, _ANSWER_KEYS):
            return [data]
        lowered = {str(k).lower(): v for k, v in data.items()}
        for key in _LIST_KEYS:
            if isinstance(lowered.get(key), list):
                return list(lowered[key])
        for value in data.values():
            if isinstance(value, list):
                return value
    return []


def parse_pairs(reply: str) -> list[tuple[str, str]]:
    """Question-answer pairs from a model reply; raises ReplyParseError when none."""
    pairs = []
    for item in _items(_first_json(reply)):
        if isinstance(item, dict):
            question, answer = _pick(item, _QUESTION_KEYS), _pick(item, _ANSWER_KEYS)
        elif isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            question, answer = item[0].strip() or None, item[1].strip() or None
        else:
            continue
        if question and answer:
            pairs.append((question, answer))
    if not pairs:
        raise ReplyParseError("the reply has no question-answer pairs")
    return pairs


def make_example(
    question: str,
    answer: str,
    *,
    system_prompt: str | None,
    tags: Sequence[str] = ("generated",),
    notes: str = "",
) -> TrainingExample:
    messages = [Message("user", question), Message("assistant", answer)]
    if system_prompt:
        messages.insert(0, Message("system", system_prompt))
    return TrainingExample(tuple(messages), tags=tuple(tags), notes=notes)


def generate_examples(
    client: Any,
    model: str,
    chunks: Iterable[Chunk],
    *,
    per_chunk: int = 2,
    system_prompt: str | None = None,
    cancel: CancelToken | None = None,
    instructions: str = GENERATION_INSTRUCTIONS,
    json_mode: bool = True,
    temperature: float | None = None,
    tags: Sequence[str] = ("generated",),
) -> Generator[GenerationEvent, None, GenerationResult]:
    """Draft ``per_chunk`` examples from each chunk with ``client`` (an ``openai.OpenAI``).

    ``system_prompt`` is the system message written into each drafted example (the
    prompt the fine-tuned model will be used with), not the drafting instructions.
    Yields ``Progress``, ``ProposedExample`` and ``ChunkFailure``; returns a summary.
    """
    if per_chunk < 1:
        raise ValueError("per_chunk must be at least 1")
    import openai  # already loaded by whoever made the client; kept off module import

    chunk_list = list(chunks)
    total = len(chunk_list)
    proposed: list[ProposedExample] = []
    failures: list[ChunkFailure] = []
    done = 0
    for index, chunk in enumerate(chunk_list):
        if cancel is not None and cancel.cancelled:
            break
        yield Progress(index, total, f"Drafting from chunk {index + 1} of {total}")
        text = chunk_text(chunk)
        if not text.strip():
            failure = ChunkFailure(index, "the chunk is empty")
            failures.append(failure)
            yield failure
            done += 1
            continue
        request = build_request(
            model,
            text,
            per_chunk=per_chunk,
            instructions=instructions,
            json_mode=json_mode,
            temperature=temperature,
        )
        try:
            response = client.chat.completions.create(**request)
        except openai.BadRequestError as exc:  # this chunk only (too long, filtered...)
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = body.get("message") if isinstance(body.get("message"), str) else exc.message
            failure = ChunkFailure(index, f"the server refused this chunk: {detail}")
            failures.append(failure)
            yield failure
            done += 1
            continue
        done += 1
        reply, finish = _reply(response)
        try:
            pairs = parse_pairs(reply)
        except ReplyParseError as exc:
            reason = str(exc)
            if finish == "length":
                reason += " (the reply was cut off at the token limit)"
            logger.info("Chunk %d: %s", index, reason)
            failure = ChunkFailure(index, reason, reply)
            failures.append(failure)
            yield failure
            continue
        if len(pairs) > per_chunk:
            logger.debug("Chunk %d: %d pairs, keeping %d", index, len(pairs), per_chunk)
        label = _chunk_label(chunk, index)
        for question, answer in pairs[:per_chunk]:
            example = make_example(
                question,
                answer,
                system_prompt=system_prompt,
                tags=tags,
                notes=f"Drafted by {model} from {label}.",
            )
            item = ProposedExample(index, example)
            proposed.append(item)
            yield item
    cancelled = cancel is not None and cancel.cancelled and done < total
    yield Progress(done, total, "Cancelled" if cancelled else "Done")
    return GenerationResult(tuple(proposed), tuple(failures), done, cancelled)


def _reply(response: Any) -> tuple[str, str | None]:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return "", None
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    if content is None:
        refusal = getattr(message, "refusal", None)
        return (f"(refused: {refusal})" if refusal else ""), getattr(choice, "finish_reason", None)
    return str(content), getattr(choice, "finish_reason", None)


# -- drafting from the library ---------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """A document and the chunks chosen from it (None: all of them)."""

    document_id: int
    chunk_ids: frozenset[int] | None


@dataclass(frozen=True)
class ChunkLabels:
    """Yielded first by ``draft_from_library``: a label for each chunk it drafts from."""

    labels: tuple[str, ...]


def library_chunk_label(document: str, chunk: StoredChunk) -> str:
    where = f"{document} · chunk {chunk.index + 1}"
    if chunk.page:
        where += f" · p. {chunk.page}"
    return where


def draft_from_library(
    library: LibraryService,
    client: Callable[[], Any],
    selection: Sequence[Selection],
    titles: dict[int, str],
    *,
    model: str,
    per_chunk: int,
    system_prompt: str | None,
    cancel: CancelToken | None = None,
) -> Generator[Any, None, GenerationResult]:
    """Read the chosen chunks from the library's front door, then ``generate_examples``
    over them with a client made by ``client`` (closed at the end)."""
    chunks: list[StoredChunk] = []
    for chosen in selection:
        for chunk in library.chunks(chosen.document_id):
            if chosen.chunk_ids is None or chunk.id in chosen.chunk_ids:
                chunks.append(chunk)
    yield ChunkLabels(tuple(library_chunk_label(titles.get(c.document_id, "?"), c) for c in chunks))
    made = client()
    try:
        return (
            yield from generate_examples(
                made,
                model,
                chunks,
                per_chunk=per_chunk,
                system_prompt=system_prompt,
                cancel=cancel,
            )
        )
    finally:
        made.close()
