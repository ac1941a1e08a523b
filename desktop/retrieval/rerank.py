"""Reranking: a second, closer look at the first search's best candidates.

The first stage (vector, BM25, fused) scores each chunk from one vector or one bag of
words; a reranker reads the question and each candidate together and orders the top
``rerank_candidates`` again. Its score is one more column of the breakdown
(``RetrievedChunk.rerank``); the similarity threshold still applies to the cosine, so
reranking changes the order and which chunks reach the top k, never hides a chunk that the
panel does not show.

Rerankers:

``maxsim`` (the offline default)
    Late interaction (ColBERT's MaxSim) with the bundled MiniLM: the question and the
    candidate are each run through the model, and every question token is matched with
    the candidate token most similar to it in context; the score is the mean of those
    best cosines. It stands in for a cross-encoder: no package on PyPI, npm or Debian
    ships cross-encoder reranker weights to convert and bundle (checked for issue 14),
    and this needs no model beyond the one the app already ships. To fit the latency
    budget each candidate is read through a window of ``window`` tokens, the one holding
    most of the question's content words (``window=0``: the whole chunk, about 2.5 times
    the cost). The model is English: questions in other languages gain little from it.
    Figures: tests/benchmarks/bench_ranking.py.
``llm`` (opt-in, never the default)
    The configured chat model orders the candidates (a listwise prompt). It costs a
    request per question, sends the candidates to the provider, and needs a network.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from desktop.retrieval.lexical import QUESTION_WORDS

log = logging.getLogger(__name__)

RERANKERS = ("off", "maxsim", "llm")
DEFAULT_CANDIDATES = 25
DEFAULT_WINDOW = 64
MAXSIM_MODEL = "minilm-l6-v2-int8"
# Token matrices kept between questions (float16); a follow-up question often meets the
# same candidates again.
CACHE_BYTES = 48 * 2**20

FloatArray = npt.NDArray[np.float32]


class RerankError(RuntimeError):
    """A reranker could not score the candidates (the message is for the user)."""


class Reranker(Protocol):
    @property
    def name(self) -> str:
        """Short, for the score breakdown ("MaxSim (MiniLM, offline)")."""
        ...

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        """One score per passage, higher is better; comparable within one call only."""
        ...


def rerank_order(scores: Sequence[float]) -> list[int]:
    """Positions of ``scores`` best first; a tie keeps the first stage's order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


class MaxSimReranker:
    """Late interaction over the bundled MiniLM's token vectors (see the module text).

    The model loads on first use; ``scores`` may then be called from several threads.
    Each text is its own onnxruntime call (the int8 model's activations are scaled per
    call, so a batch would make one text's vectors depend on its neighbours), run on
    ``threads`` texts at once."""

    def __init__(
        self,
        model: str = MAXSIM_MODEL,
        *,
        window: int = DEFAULT_WINDOW,
        threads: int = 2,
        root: Path | None = None,
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        from desktop.retrieval.local_embedder import models_dir

        self.directory = (root if root is not None else models_dir()) / model
        self.model = model
        self.window = window
        self.threads = max(1, threads)
        self.cache_bytes = cache_bytes
        self._lock = threading.Lock()
        self._loaded: _MaxSimModel | None = None
        self._preloading = False
        self._cache: OrderedDict[tuple[int, ...], npt.NDArray[np.float16]] = OrderedDict()
        self._cached_bytes = 0

    @property
    def name(self) -> str:
        span = f"{self.window}-token window" if self.window else "whole chunk"
        return f"MaxSim (MiniLM, offline, {span})"

    def load(self) -> None:
        self._model()

    def load_in_background(self) -> None:
        """Start loading the model on a thread, so that it overlaps other start-up work
        (a one-shot ``ragtune search`` imports the openai SDK meanwhile: ~0.5 s of Python
        while onnxruntime builds its session in native code). A failure is left for the
        first ``scores`` to raise and report."""
        if self._loaded is not None or self._preloading:
            return
        self._preloading = True

        def run() -> None:
            with contextlib.suppress(Exception):
                self._model()

        # Not a daemon: a process that ends meanwhile (a search of an empty library) waits
        # for it, as onnxruntime torn down while it builds a session aborts the process.
        threading.Thread(target=run, name="rerank-load", daemon=False).start()

    def _model(self) -> _MaxSimModel:
        loaded = self._loaded
        if loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = _MaxSimModel(self.directory, self.threads)
                loaded = self._loaded
        return loaded

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        model = self._model()
        query_ids = model.token_ids([query])[0]
        if not query_ids:
            return [0.0] * len(passages)
        content = model.content_ids(query_ids)
        windows = [self._window(ids, content) for ids in model.token_ids(passages)]
        query_vectors = model.encode(query_ids)
        matrices = self._encode_all(model, windows)
        return [
            float((query_vectors @ matrix.T).max(axis=1).mean()) if len(matrix) else 0.0
            for matrix in matrices
        ]

    def _window(self, ids: list[int], content: set[int]) -> tuple[int, ...]:
        """The ``window`` tokens of ``ids`` holding most of the question's content words
        (the earliest such window on a tie)."""
        size = self.window
        if not size or len(ids) <= size:
            return tuple(ids)
        step = max(1, size // 4)
        starts = [*range(0, len(ids) - size + 1, step), len(ids) - size]
        hits = np.cumsum([0, *(token in content for token in ids)])
        best = max(starts, key=lambda s: (int(hits[s + size] - hits[s]), -s))
        return tuple(ids[best : best + size])

    def _encode_all(
        self, model: _MaxSimModel, windows: list[tuple[int, ...]]
    ) -> list[npt.NDArray[np.float32]]:
        found: dict[tuple[int, ...], npt.NDArray[np.float32]] = {}
        with self._lock:
            for window in windows:
                cached = self._cache.get(window)
                if cached is not None:
                    self._cache.move_to_end(window)
                    found[window] = cached.astype(np.float32)
        missing = list(dict.fromkeys(w for w in windows if w not in found and w))
        if missing:
            if self.threads > 1 and len(missing) > 1:
                with ThreadPoolExecutor(
                    min(self.threads, len(missing)), thread_name_prefix="rerank"
                ) as pool:
                    encoded = list(pool.map(lambda w: model.encode(list(w)), missing))
            else:
                encoded = [model.encode(list(w)) for w in missing]
            with self._lock:
                for window, matrix in zip(missing, encoded, strict=True):
                    # Scored as cached (float16), so a score never depends on the cache.
                    kept = matrix.astype(np.float16)
                    found[window] = kept.astype(np.float32)
                    self._remember(window, kept)
        empty = np.zeros((0, model.dimensions), dtype=np.float32)
        return [found.get(w, empty) for w in windows]

    def _remember(self, window: tuple[int, ...], matrix: npt.NDArray[np.float16]) -> None:
        if window in self._cache:
            return
        self._cache[window] = matrix
        self._cached_bytes += matrix.nbytes
        while self._cached_bytes > self.cache_bytes and self._cache:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= dropped.nbytes


class _MaxSimModel:
    """The bundled encoder's token vectors: ids -> last hidden state, unit length, the
    [CLS] and [SEP] rows left out."""

    def __init__(self, directory: Path, threads: int) -> None:
        from tokenizers import Tokenizer

        from desktop.onnx import cpu_session

        try:
            config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
            if config.get("kind") != "onnx":
                raise RerankError(f"{directory.name} is not a transformer model")
            self.tokenizer = Tokenizer.from_file(str(directory / config["tokenizer_file"]))
            self.tokenizer.no_padding()
            self.tokenizer.no_truncation()
            special = config["special_tokens"]
            ids = [self.tokenizer.token_to_id(special[k]) for k in ("cls", "sep")]
            if None in ids:
                raise RerankError(f"{directory.name}: the tokenizer lacks [CLS] or [SEP]")
            self.cls_id, self.sep_id = (int(i) for i in ids)
            self.max_tokens = int(config["max_tokens"])
            self.dimensions = int(config["dimensions"])
            self.session = cpu_session(directory / config["model_file"], 1)
            self.output = config.get("output", self.session.get_outputs()[0].name)
        except (OSError, KeyError, ValueError) as error:
            raise RerankError(
                f"The reranking model in {directory} cannot be loaded ({error}); "
                "set rerank to off (Settings, or `ragtune settings set rerank off`)."
            ) from error
        self.inputs = {i.name for i in self.session.get_inputs()}
        vocabulary = self.tokenizer.get_vocab()
        self._content = np.zeros(max(vocabulary.values()) + 1, dtype=bool)
        for token, token_id in vocabulary.items():
            word = token.removeprefix("##")
            self._content[token_id] = bool(re.fullmatch(r"\w+", word)) and (
                word not in QUESTION_WORDS
            )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word pieces, cut to the model's window."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids[: self.max_tokens] for e in encodings]

    def content_ids(self, ids: Sequence[int]) -> set[int]:
        return {t for t in ids if self._content[t]}

    def encode(self, ids: Sequence[int]) -> FloatArray:
        row = np.asarray([[self.cls_id, *ids, self.sep_id]], dtype=np.int64)
        feed = {"input_ids": row, "attention_mask": np.ones_like(row)}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(row)
        hidden = self.session.run([self.output], feed)[0][0, 1:-1]
        norms = np.linalg.norm(hidden, axis=1, keepdims=True)
        np.maximum(norms, 1e-12, out=norms)
        return np.ascontiguousarray(hidden / norms, dtype=np.float32)


LLM_PASSAGE_CHARS = 700


class LLMReranker:
    """The chat model orders the candidates (opt-in: a paid request per question, and
    the candidates leave the machine). ``ask(prompt) -> reply text`` is injected, so the
    domain needs no client of its own."""

    def __init__(self, ask: Callable[[str], str], model: str) -> None:
        self.ask = ask
        self.model = model

    @property
    def name(self) -> str:
        return f"{self.model} (listwise, your provider)"

    def prompt(self, query: str, passages: Sequence[str]) -> str:
        blocks = "\n\n".join(
            f"[{number}] {' '.join(text.split())[:LLM_PASSAGE_CHARS]}"
            for number, text in enumerate(passages, start=1)
        )
        return (
            "Order the passages by how well each answers the question, best first. "
            'Reply with JSON only, as {"ranking": [numbers]}, listing every passage '
            "number once.\n\n"
            f"Question: {query}\n\nPassages:\n{blocks}"
        )

    def scores(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        reply = self.ask(self.prompt(query, passages))
        ranking = parse_ranking(reply, len(passages))
        n = len(passages)
        scores = [0.0] * n
        for position, number in enumerate(ranking):
            scores[number - 1] = (n - position) / n
        return scores


def parse_ranking(reply: str, count: int) -> list[int]:
    """The passage numbers of a listwise reply, best first, each once and in 1..count;
    numbers the reply left out follow in their first-stage order."""
    match = re.search(r"\{.*\}", reply, re.DOTALL)
    numbers: list[Any] = []
    if match:
        try:
            numbers = list(json.loads(match.group(0)).get("ranking", []))
        except (ValueError, AttributeError, TypeError):
            numbers = []
    if not numbers:
        numbers = [int(n) for n in re.findall(r"\d+", reply)]
    if not numbers:
        raise RerankError("the model's reply held no passage numbers")
    ranking: list[int] = []
    for number in numbers:
        try:
            ranking.append(int(number))
        except (TypeError, ValueError):
            continue
    ranking = [n for n in dict.fromkeys(ranking) if 1 <= n <= count]
    if not ranking:
        raise RerankError("the model's reply held no passage numbers")
    return ranking + [n for n in range(1, count + 1) if n not in ranking]
