"""Local text embeddings: offline, no API key, no download at run time, no PyTorch.

The models are files shipped in ``resources/models/<name>/`` (how they are made:
``packaging/models/README.md``). Each directory holds a ``config.json`` that says which
runtime it needs:

``kind: "onnx"``
    A transformer exported to ONNX and run with onnxruntime; ``tokenizers`` makes the
    input ids and numpy does the mean pooling (attention-masked) and L2 normalisation.
``kind: "static"``
    A static (model2vec-style) model: one vector per token, so an embedding is the
    normalised mean of table rows. Only ``tokenizers`` and numpy; thousands of texts/s.

Texts longer than the model's window are embedded in windows, never cut: the text's
tokens are split into the fewest windows of at most ``max_tokens`` (of nearly equal size,
each with the model's prefix), each window is embedded alone, and the text's vector is the
mean of the window vectors weighted by their tokens, renormalised. ``windowed(text)`` says
whether that happens, so callers can count those chunks. (The static model averages every
token's row anyway, so it needs no windows: a long text is simply averaged whole.)

Some models are trained with prefixes: e5 expects ``"query: "`` before a search and
``"passage: "`` before an indexed text (``query_prefix``/``passage_prefix`` in its
``config.json``). ``embed`` embeds passages and ``embed_query`` a search query, each with
its prefix; models without prefixes embed both the same way.

Heavy imports (onnxruntime, tokenizers) and the model files are loaded on first use,
once, under a lock; ``embed`` may then be called from several threads at once.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_THREADS",
    "FAST_MODEL",
    "LocalEmbedder",
    "LocalModelError",
    "available_models",
    "find_model",
    "installed_models_dir",
    "model_roots",
    "models_dir",
]

#: The bundled fast tier (a static table distilled from MiniLM).
FAST_MODEL = "minilm-l6-v2-static256"
#: The model ``LocalEmbedder()`` loads, the app's default offline embedder: the fast tier,
#: which embeds 10,000 chunks in ~9 s where MiniLM takes ~2 min; with the reranker reading
#: the best candidates with MiniLM the two rank alike, and its similarity threshold (its
#: cosines run higher) comes with it (packaging/models/README.md).
DEFAULT_MODEL = FAST_MODEL
#: Cores an embedder uses unless told otherwise (the target machine has 2).
DEFAULT_THREADS = 2
#: Padded tokens per onnxruntime call for models that are run in batches. Longer
#: batches got slower here (attention scores no longer fit in cache).
MAX_BATCH_TOKENS = 2048
CONFIG_FORMAT = 1

FloatArray = npt.NDArray[np.float32]


class LocalModelError(RuntimeError):
    """A bundled model is missing, incomplete or of an unknown format."""


def models_dir() -> Path:
    """``resources/models``: inside a PyInstaller bundle (``sys._MEIPASS``) first, then
    relative to the source checkout. When neither exists the checkout path is returned,
    so the error that follows names a sensible place."""
    candidates: list[Path] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources" / "models")
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "models")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[-1]


#: Extra folders of models (``os.pathsep``-separated), searched after the bundled ones.
MODELS_PATH_ENV = "RAGTUNE_MODELS_PATH"


def installed_models_dir() -> Path:
    """Where optional model packages are unpacked: ``models`` in the user data folder
    (``--data-dir`` or ``RAGTUNE_DATA_DIR`` when set). Models too large for the app bundle
    ship as separate packages (``packaging/models/make_model_package.py``), never fetched
    from a hub."""
    from desktop.paths import AppPaths

    return AppPaths.resolve().data_dir / "models"


def model_roots() -> list[Path]:
    """Folders holding models, first match wins: bundled, then ``RAGTUNE_MODELS_PATH``,
    then the installed-models folder."""
    extra = [Path(p) for p in os.environ.get(MODELS_PATH_ENV, "").split(os.pathsep) if p]
    return [models_dir(), *extra, installed_models_dir()]


def available_models(root: Path | None = None) -> list[str]:
    """Names of the models (directories with a ``config.json``) in ``root``, or in every
    folder of ``model_roots()``, sorted."""
    roots = [root] if root is not None else model_roots()
    names: set[str] = set()
    for base in roots:
        if base.is_dir():
            names.update(p.name for p in base.iterdir() if (p / "config.json").is_file())
    return sorted(names)


def find_model(model: str) -> Path:
    """The folder of ``model``: the first root that has it (else where the bundle keeps
    models, so the error names a sensible place)."""
    for base in model_roots():
        if (base / model / "config.json").is_file():
            return base / model
    return models_dir() / model


def _read_config(directory: Path) -> dict[str, Any]:
    path = directory / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(available_models()) or "none"
        raise LocalModelError(
            f"no local embedding model at {directory} (bundled: {known})"
        ) from None
    except (OSError, ValueError) as error:
        raise LocalModelError(f"cannot read {path}: {error}") from error
    if config.get("format") != CONFIG_FORMAT or config.get("kind") not in ("onnx", "static"):
        raise LocalModelError(
            f"{path}: unsupported model format {config.get('format')!r} / {config.get('kind')!r}"
        )
    return config


class _Backend(Protocol):
    #: Whether texts over the window are split into windows (a transformer) or averaged
    #: whole (a static table, where the mean of all rows is the exact answer).
    windows: bool

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]: ...

    def embed_ids(self, ids: Sequence[Sequence[int]], batch_size: int) -> FloatArray: ...


def _load_tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    # The runtime pads and truncates itself: whatever the file says must not apply.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _normalise(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    vectors /= norms
    return vectors


class _OnnxBackend:
    """Transformer encoder in ONNX: ids -> last hidden state -> masked mean -> unit length.

    With ``one_text_per_run`` in the config (the int8 model) every text is its own
    onnxruntime call: dynamic quantization scales activations by the range of the whole
    input tensor, so in a batch a text's vector would depend on its neighbours and their
    padding (cosine down to 0.977 here). Throughput then comes from running ``threads``
    texts at once, each on one intra-op thread: faster here than one text on two threads
    (about 155 vs 102 texts/s at 124 tokens). Otherwise texts are batched by length and
    one call uses ``threads`` intra-op threads.
    """

    windows = True

    def __init__(self, directory: Path, config: dict[str, Any], threads: int) -> None:
        from desktop.onnx import cpu_session

        self.threads = threads
        self.one_text_per_run = bool(config.get("one_text_per_run", False))
        self.dimensions = int(config["dimensions"])
        self.tokenizer = _load_tokenizer(directory / config["tokenizer_file"])
        special = config["special_tokens"]
        self.cls_id, self.sep_id, self.pad_id = (
            self._token_id(special[k]) for k in ("cls", "sep", "pad")
        )
        self.session = cpu_session(
            directory / config["model_file"], 1 if self.one_text_per_run else threads
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.output = config.get("output", self.session.get_outputs()[0].name)

    def _token_id(self, token: str) -> int:
        token_id = self.tokenizer.token_to_id(token)
        if token_id is None:
            raise LocalModelError(f"tokenizer has no {token!r} token")
        return int(token_id)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def embed_ids(self, ids: Sequence[Sequence[int]], batch_size: int) -> FloatArray:
        out = np.empty((len(ids), self.dimensions), dtype=np.float32)
        if self.one_text_per_run:
            if self.threads == 1 or len(ids) == 1:
                for row, seq in enumerate(ids):
                    out[row] = self._run([seq])[0]
                return out
            workers = min(self.threads, len(ids))
            with ThreadPoolExecutor(workers, thread_name_prefix="local-embedder") as pool:
                for row, vector in enumerate(pool.map(lambda seq: self._run([seq])[0], ids)):
                    out[row] = vector
            return out
        # Shortest first, so each batch pads little; results go back to input order.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            longest = len(ids[order[start]]) + 2
            stop = start + 1
            while stop < len(order) and stop - start < batch_size:
                longest = max(longest, len(ids[order[stop]]) + 2)
                if longest * (stop - start + 1) > MAX_BATCH_TOKENS:
                    break
                stop += 1
            batch = order[start:stop]
            out[batch] = self._run([ids[i] for i in batch])
            start = stop
        return out

    def _run(self, batch: list[Sequence[int]]) -> FloatArray:
        width = max(len(seq) for seq in batch) + 2
        input_ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, seq in enumerate(batch):
            n = len(seq)
            input_ids[row, 0] = self.cls_id
            input_ids[row, 1 : n + 1] = seq
            input_ids[row, n + 1] = self.sep_id
            mask[row, : n + 2] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self.session.run([self.output], feed)[0]  # (batch, width, dims)
        weights = mask.astype(np.float32)
        weights /= weights.sum(axis=1, keepdims=True)
        pooled = np.matmul(weights[:, None, :], hidden)[:, 0, :]
        return _normalise(np.ascontiguousarray(pooled, dtype=np.float32))


class _StaticBackend:
    """One vector per token: the embedding is the normalised mean of the text's rows."""

    windows = False

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        self.dimensions = int(config["dimensions"])
        self.tokenizer = _load_tokenizer(directory / config["tokenizer_file"])
        table = np.load(directory / config["model_file"], allow_pickle=False)
        if table.ndim != 2 or table.shape[1] != self.dimensions:
            raise LocalModelError(f"{config['model_file']}: shape {table.shape} is not (n, dims)")
        if table.shape[0] < self.tokenizer.get_vocab_size():
            raise LocalModelError(f"{config['model_file']}: fewer rows than the vocabulary")
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        unk = config.get("unk_token")
        self.unk_id = self.tokenizer.token_to_id(unk) if unk else None

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        if self.unk_id is None:
            return [e.ids for e in encodings]
        unk = self.unk_id
        return [[t for t in e.ids if t != unk] for e in encodings]

    def embed_ids(self, ids: Sequence[Sequence[int]], batch_size: int) -> FloatArray:
        out = np.zeros((len(ids), self.dimensions), dtype=np.float32)
        rows = [i for i, seq in enumerate(ids) if seq]
        # batch_size only bounds memory here: the gathered rows of one batch are copied.
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            lengths = np.fromiter((len(ids[i]) for i in batch), dtype=np.int64, count=len(batch))
            flat = np.fromiter(
                (t for i in batch for t in ids[i]), dtype=np.int64, count=int(lengths.sum())
            )
            offsets = np.zeros(len(batch), dtype=np.int64)
            np.cumsum(lengths[:-1], out=offsets[1:])
            out[batch] = _normalise(np.add.reduceat(self.table[flat], offsets, axis=0))
        return out


def _split(sequence: list[int], lead: int, size: int) -> list[list[int]]:
    """``sequence`` as is when it fits in ``size`` tokens; else its first ``lead`` tokens
    (the prefix) followed by each of the fewest nearly equal slices of the rest."""
    if len(sequence) <= size:
        return [sequence]
    head, body = sequence[:lead], sequence[lead:]
    room = max(1, size - lead)
    count = -(-len(body) // room)
    step = -(-len(body) // count)
    return [head + body[start : start + step] for start in range(0, len(body), step)]


class LocalEmbedder:
    """Embeds text with a model bundled in ``resources/models`` (see module docstring).

    ``LocalEmbedder()`` uses ``DEFAULT_MODEL``; ``LocalEmbedder("minilm-l6-v2-static256")``
    the static one (``available_models()`` lists them). ``threads`` is how many cores the
    ONNX model uses (texts run in parallel, or intra-op threads: see ``_OnnxBackend``).
    ``max_tokens`` may lower the model's window (never raise it): a longer text then takes
    more, shorter windows.

    Only ``config.json`` is read here; the model loads on the first call that needs it
    (or on ``load()``), once, even when several threads ask at the same time.
    """

    id = "local"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        threads: int = DEFAULT_THREADS,
        max_tokens: int | None = None,
        root: Path | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._dir = root / model if root is not None else find_model(model)
        self._config = _read_config(self._dir)
        window = int(self._config["max_tokens"])
        if max_tokens is not None and not 1 <= max_tokens <= window:
            raise ValueError(f"max_tokens must be between 1 and {window} for {model}")
        self._model = model
        self._threads = threads
        self._max_tokens = window if max_tokens is None else max_tokens
        self._backend: _Backend | None = None
        self._lead: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The bundled model's name (its directory under ``resources/models``)."""
        return self._model

    @property
    def display_name(self) -> str:
        return str(self._config.get("display_name", self._model))

    @property
    def dimensions(self) -> int:
        return int(self._config["dimensions"])

    @property
    def max_tokens(self) -> int:
        """Tokens of a text that are embedded (special tokens not counted)."""
        return self._max_tokens

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def reference_rate(self) -> float | None:
        """Tokens per second measured for this model on two cores (``config.json``
        ``tokens_per_second``): the time estimate until this computer measured its own."""
        value = self._config.get("tokens_per_second")
        return float(value) if value else None

    @property
    def similarity_threshold(self) -> float | None:
        """The similarity threshold this model's cosines call for (``config.json``
        ``similarity_threshold``), or None for the usual scale (see
        ``embedders.DEFAULT_THRESHOLD``): a static model's cosines run higher."""
        value = self._config.get("similarity_threshold")
        return float(value) if isinstance(value, int | float) else None

    @property
    def config(self) -> dict[str, Any]:
        """A copy of the model's ``config.json`` (pooling, normalisation, provenance...)."""
        return json.loads(json.dumps(self._config))

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def load(self) -> None:
        """Load the model now (for example off the GUI thread, before the first query)."""
        self._get_backend()

    def unload(self) -> None:
        """Drop the loaded model; the next call loads it again."""
        with self._lock:
            self._backend = None

    def _get_backend(self) -> _Backend:
        backend = self._backend
        if backend is not None:
            return backend
        with self._lock:
            if self._backend is None:
                try:
                    if self._config["kind"] == "onnx":
                        self._backend = _OnnxBackend(self._dir, self._config, self._threads)
                    else:
                        self._backend = _StaticBackend(self._dir, self._config)
                except (OSError, KeyError, ValueError) as error:
                    raise LocalModelError(f"cannot load {self._dir}: {error}") from error
            return self._backend

    def prefix(self, kind: str) -> str:
        """What the model expects before a text of ``kind`` ("query" or "passage")."""
        if kind not in ("query", "passage"):
            raise ValueError(f"kind must be 'query' or 'passage', not {kind!r}")
        return str(self._config.get(f"{kind}_prefix", ""))

    def embed(
        self, texts: Sequence[str], batch_size: int = 32, *, kind: str = "passage"
    ) -> FloatArray:
        """One float32 row of ``dimensions`` per text, in order, each of unit length.

        Texts are passages unless ``kind="query"`` (see ``embed_query``); each gets the
        model's prefix for its kind. Texts over ``max_tokens`` are embedded in windows (see
        the module docstring; ``windowed`` says when). With the static model a text with no
        known token (such as ``""``) has nothing to average and gets a zero row.
        ``batch_size`` caps texts per model call; the int8 model runs one text (one window)
        per call whatever it says, so a text's vector never depends on the other texts.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if len(texts) == 0:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        backend = self._get_backend()
        prefix = self.prefix(kind)
        sequences = backend.token_ids([prefix + text for text in texts])
        if not backend.windows:
            return backend.embed_ids(sequences, batch_size)
        lead = self._prefix_tokens(prefix)
        parts: list[list[int]] = []
        owners: list[int] = []
        for row, sequence in enumerate(sequences):
            for part in _split(sequence, lead, self._max_tokens):
                parts.append(part)
                owners.append(row)
        vectors = backend.embed_ids(parts, batch_size)
        if len(parts) == len(sequences):
            return vectors
        out = np.zeros((len(sequences), self.dimensions), dtype=np.float32)
        weights = np.asarray([max(1, len(p) - lead) for p in parts], dtype=np.float32)
        np.add.at(out, np.asarray(owners), vectors * weights[:, None])
        return _normalise(out)

    def embed_query(self, text: str) -> FloatArray:
        """The vector of one search query (with the model's query prefix)."""
        return self.embed([text], kind="query")[0]

    def _prefix_tokens(self, prefix: str) -> int:
        """How many leading tokens of ``prefix + text`` are the prefix: they start every
        window of a long text."""
        if not prefix.strip():
            return 0
        cached = self._lead.get(prefix)
        if cached is None:
            cached = self._lead[prefix] = len(self._get_backend().token_ids([prefix.rstrip()])[0])
        return cached

    def count_tokens(self, text: str) -> int:
        """Model tokens in ``text``, special tokens and prefix not counted (may exceed
        max_tokens)."""
        return len(self._get_backend().token_ids([text])[0])

    def windows(self, text: str) -> int:
        """How many windows ``embed`` uses for ``text`` as a passage (1 when it fits)."""
        backend = self._get_backend()
        prefix = self.prefix("passage")
        sequence = backend.token_ids([prefix + text])[0]
        if not backend.windows:
            return 1
        return len(_split(sequence, self._prefix_tokens(prefix), self._max_tokens))

    def windowed(self, text: str) -> bool:
        """True when ``text`` is longer than the window and is embedded in windows."""
        return self.windows(text) > 1

    def __repr__(self) -> str:
        return (
            f"LocalEmbedder(model={self._model!r}, dimensions={self.dimensions}, "
            f"max_tokens={self._max_tokens}, threads={self._threads})"
        )
