"""The vector file (memory-mapped, checksummed, crash-safe, rebuilt on mismatch), its
incremental updates, and the approximate index with filters."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from desktop.library.chunking import FixedWords
from desktop.library.rechunk import apply_rechunk, plan_rechunk
from desktop.library.service import LibraryService
from desktop.progress import run_to_end
from desktop.retrieval import ann
from desktop.retrieval.embedders import EmbedderKey, normalise
from desktop.retrieval.indexing import plan_index, run_index
from desktop.retrieval.vector_index import VectorIndex
from desktop.retrieval.vector_store import (
    HEADER_SIZE,
    open_segment,
    read_record,
    vector_path,
)
from desktop.tokens import get_tokenizer
from desktop.workspace import Workspace
from tests.retrieval.conftest import import_texts

DIMS = 16
KEY = EmbedderKey("test", "hash-16", DIMS)


class HashEmbedder:
    """A deterministic stand-in: each text's vector comes from its CRC."""

    paid = False
    max_tokens = 10_000
    windowed = False
    key = KEY

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return normalise(
            np.stack(
                [np.random.default_rng(zlib.crc32(t.encode())).normal(size=DIMS) for t in texts]
            ).astype(np.float32)
        )

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def batches(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(range(i, min(i + 500, len(texts)))) for i in range(0, len(texts), 500)]


def build_library(
    workspace: Workspace, folder: Path, documents: int, chunks: int, tag: str = "d"
) -> LibraryService:
    texts = {
        f"{tag}{d}.txt": " ".join(f"{tag}{d}w{i}" for i in range(chunks * 10))
        for d in range(documents)
    }
    service = import_texts(workspace, folder, texts)
    apply_rechunk(
        service.library,
        run_to_end(plan_rechunk(service.library, FixedWords(10), get_tokenizer("cl100k_base"))),
    )
    embed_all(workspace)
    return service


def embed_all(workspace: Workspace) -> None:
    embedder = HashEmbedder()
    run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))  # type: ignore[arg-type]


def exact(workspace: Workspace, query: np.ndarray, k: int, documents: set[int] | None = None):
    """The top ``k`` chunk ids by brute force over what the database holds."""
    from desktop.library.repository import Library

    chunks = [
        c for c in Library(workspace).chunks() if documents is None or c.document_id in documents
    ]
    vectors = HashEmbedder().embed([c.text for c in chunks])
    scores = vectors @ query
    return [chunks[i].id for i in np.argsort(-scores, kind="stable")[:k]]


def query_vector(seed: int) -> np.ndarray:
    return normalise(np.random.default_rng(seed).normal(size=(1, DIMS)).astype(np.float32))[0]


def top(index: VectorIndex, query: np.ndarray, k: int, allowed=None) -> list[int]:
    return [h.chunk_id for h in index.search(query, k, allowed)]


@pytest.fixture
def library(workspace: Workspace, tmp_path: Path) -> LibraryService:
    return build_library(workspace, tmp_path / "docs", documents=3, chunks=100)


def test_the_vectors_go_to_a_private_file_that_a_new_process_maps_without_the_database(
    workspace: Workspace, library: LibraryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = VectorIndex(KEY)
    assert first.sync(workspace) == (300, 0)
    path = vector_path(workspace, KEY, "base")
    assert path.parent == workspace.path.parent
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = read_record(workspace, KEY)
    assert record is not None and record.base == open_segment(path, KEY, "base").header.checksum

    def no_database(*_args: object) -> None:
        raise AssertionError("an unchanged workspace must load from its vector file")

    monkeypatch.setattr(VectorIndex, "_apply_changes", no_database)
    monkeypatch.setattr(VectorIndex, "_fetch", no_database)
    second = VectorIndex(KEY)
    assert second.sync(workspace) == (300, 0)
    assert isinstance(second._base.vectors, np.memmap)  # mapped, not copied
    for seed in range(5):
        q = query_vector(seed)
        assert top(second, q, 5) == top(first, q, 5) == exact(workspace, q, 5)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from desktop.retrieval.embedders import EmbedderKey
    from desktop.retrieval.vector_store import write_segment

    key = EmbedderKey("test", "hash-16", 16)
    rows = 200_000

    def blocks():
        for start in range(0, rows, 50_000):
            yield np.full((50_000, 16), 0.25, dtype=np.float32)
            if start == 50_000:
                print("WRITING", flush=True)
                time.sleep(60)

    ids = np.arange(rows, dtype=np.int64)
    write_segment(Path(sys.argv[1]), kind="base", key=key, generation=99, ids=ids,
                  document_ids=ids, embedding_ids=ids, vector_blocks=blocks())
    """
)


def test_a_kill_during_a_write_leaves_the_previous_file_valid(
    workspace: Workspace, library: LibraryService
) -> None:
    VectorIndex(KEY).sync(workspace)
    path = vector_path(workspace, KEY, "base")
    before = path.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "WRITING"
        temporaries = list(path.parent.glob(f".{path.name}.*.tmp"))
        assert len(temporaries) == 1 and temporaries[0].stat().st_size > 1_000_000
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert path.read_bytes() == before
    open_segment(path, KEY, "base").verify()
    reopened = VectorIndex(KEY)
    assert reopened.sync(workspace) == (300, 0)
    q = query_vector(1)
    assert top(reopened, q, 5) == exact(workspace, q, 5)

    # The next write (a change to the library) removes what the killed writer left.
    embedder = HashEmbedder()
    import_texts(workspace, path.parent / "more", {"extra.txt": "one more chunk of text"})
    run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))  # type: ignore[arg-type]
    reopened.sync(workspace)
    assert list(path.parent.glob(f".{path.name}.*.tmp")) == []


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize(
    "damage",
    ["header", "rows", "generation", "checksum", "record", "missing"],
)
def test_a_file_that_does_not_match_the_database_is_rebuilt(
    workspace: Workspace,
    library: LibraryService,
    damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    VectorIndex(KEY).sync(workspace)
    path = vector_path(workspace, KEY, "base")
    if damage == "header":
        _flip(path, 3)  # the magic line
    elif damage == "rows":
        with open(path, "r+b") as handle:  # a file cut short: fewer rows than its header says
            handle.truncate(path.stat().st_size - 4 * DIMS)
    elif damage == "generation":
        raw = path.read_bytes()
        path.write_bytes(raw.replace(b'"generation": ', b'"generation": 1', 1))
    elif damage == "checksum":
        _flip(path, path.stat().st_size - 5)  # one bit of one vector
    elif damage == "record":
        workspace.set_meta(
            "retrieval.vectors." + path.name.split(".vectors.")[1].rsplit(".", 1)[0],
            '{"base": "00000000", "delta": null, "generation": 0}',
        )
    else:
        path.unlink()
    with caplog.at_level(logging.INFO, logger="desktop.retrieval.vector_index"):
        rebuilt = VectorIndex(KEY)
        assert rebuilt.sync(workspace) == (300, 0)
    assert caplog.records, "the rebuild is logged with its reason"
    for seed in range(3):
        q = query_vector(seed)
        assert top(rebuilt, q, 5) == exact(workspace, q, 5)
    segment = open_segment(path, KEY, "base")
    segment.verify()
    assert segment.rows == 300
    assert read_record(workspace, KEY).base == segment.header.checksum  # type: ignore[union-attr]


def test_changes_go_to_a_small_delta_then_compact_into_a_new_base(
    workspace: Workspace, library: LibraryService, tmp_path: Path
) -> None:
    index = VectorIndex(KEY)
    index.small_values = 0  # treat this small base as a large one
    index.compact_share = 1.0
    index.sync(workspace)
    base_path, delta_path = (vector_path(workspace, KEY, k) for k in ("base", "delta"))
    checksum = open_segment(base_path, KEY, "base").header.checksum

    build_library(workspace, tmp_path / "more", documents=1, chunks=40, tag="n")
    gone = library.library.documents()[0].id
    library.delete([gone])
    assert index.sync(workspace) == (40, 100)
    assert open_segment(base_path, KEY, "base").header.checksum == checksum  # base untouched
    delta = open_segment(delta_path, KEY, "delta")
    assert delta.rows == 40 and delta.header.dead == 100
    assert len(index) == 240

    reopened = VectorIndex(KEY)
    reopened.small_values = 0
    assert reopened.sync(workspace) == (240, 0)
    for seed in range(5):
        q = query_vector(seed)
        expected = exact(workspace, q, 10)
        assert top(index, q, 10) == top(reopened, q, 10) == expected
        assert not {h.chunk_id for h in index.search(q, 300)} & {
            c.id for c in library.library.chunks() if c.document_id == gone
        }

    # Past the share, the delta is folded into a new base.
    build_library(workspace, tmp_path / "most", documents=1, chunks=200, tag="m")
    index.sync(workspace)
    assert not delta_path.exists()
    segment = open_segment(base_path, KEY, "base")
    assert segment.header.checksum != checksum and segment.rows == 440 == len(index)
    assert list(segment.ids) == sorted(segment.ids)
    q = query_vector(9)
    assert top(index, q, 10) == exact(workspace, q, 10)


@pytest.fixture
def exact_ivf(monkeypatch: pytest.MonkeyPatch) -> None:
    """16 lists, all probed: the approximate index then returns the exact top k, so
    results can be compared one for one."""
    monkeypatch.setattr(ann, "parameters", lambda rows: (16, 16))


@pytest.mark.parametrize("storage", ann.STORAGES)
def test_above_the_threshold_an_approximate_index_answers_with_filters_applied_first(
    workspace: Workspace,
    library: LibraryService,
    exact_ivf: None,
    monkeypatch: pytest.MonkeyPatch,
    storage: str,
) -> None:
    index = VectorIndex(KEY, ann_min_values=1, approximate="now", storage=storage)
    index.sync(workspace)
    assert index.approximate
    ann_path = vector_path(workspace, KEY, "ann")
    assert stat.S_IMODE(ann_path.stat().st_mode) == 0o600
    documents = [d.id for d in library.library.documents()]
    calls: list[bool] = []
    search = ann.AnnIndex.search

    def counted(self, query, k, bitmap, share=1.0):  # type: ignore[no-untyped-def]
        calls.append(bitmap is not None)
        return search(self, query, k, bitmap, share)

    monkeypatch.setattr(ann.AnnIndex, "search", counted)
    q = query_vector(3)
    assert top(index, q, 10) == exact(workspace, q, 10)
    assert calls == [False]

    # A broad filter goes inside the approximate search (a bitmap of allowed rows) ...
    monkeypatch.setattr(ann, "EXACT_FILTER_ROWS", 10)
    allowed = index.allowed(documents[:2])
    assert top(index, q, 10, allowed) == exact(workspace, q, 10, set(documents[:2]))
    assert calls == [False, True]
    # ... a narrow one is scanned exactly; either way only allowed chunks come back.
    monkeypatch.setattr(ann, "EXACT_FILTER_ROWS", 1_000)
    allowed = index.allowed(documents[1:2])
    hits = top(index, q, 50, allowed)
    assert hits == exact(workspace, q, 50, {documents[1]})
    assert calls == [False, True]
    # The scores are the exact cosines (8-bit codes only choose the candidates).
    found = index.search(q, 10)
    exact_cosines = index.cosines(q, [h.chunk_id for h in found])
    assert [h.cosine for h in found] == pytest.approx(
        [exact_cosines[h.chunk_id] for h in found], abs=1e-6
    )


def test_the_approximate_index_is_updated_incrementally_and_reopened_from_disk(
    workspace: Workspace, library: LibraryService, tmp_path: Path, exact_ivf: None
) -> None:
    index = VectorIndex(KEY, ann_min_values=1, approximate="now")
    index.small_values = 0
    index.compact_share = 1.0
    index.sync(workspace)
    ann_path = vector_path(workspace, KEY, "ann")
    built = ann_path.stat().st_mtime_ns

    build_library(workspace, tmp_path / "more", documents=1, chunks=30, tag="n")
    removed = library.library.documents()[1].id
    library.delete([removed])
    index.sync(workspace)
    assert index.approximate and ann_path.stat().st_mtime_ns == built  # not rebuilt
    removed_ids = {c.id for c in library.library.chunks() if c.document_id == removed}
    for seed in range(5):
        q = query_vector(seed)
        hits = top(index, q, 20)
        assert hits == exact(workspace, q, 20)
        assert not set(hits) & removed_ids

    # Another process opens the files and the saved approximate index as they are.
    reopened = VectorIndex(KEY, ann_min_values=1, approximate="now")
    reopened.small_values = 0
    reopened.sync(workspace)
    assert reopened.approximate and ann_path.stat().st_mtime_ns == built
    q = query_vector(11)
    assert top(reopened, q, 20) == exact(workspace, q, 20)


def test_compact_storage_is_a_quarter_of_the_file_and_a_switch_rebuilds_it(
    workspace: Workspace, library: LibraryService, exact_ivf: None
) -> None:
    index = VectorIndex(KEY, ann_min_values=1, approximate="now")
    index.sync(workspace)
    ann_path = vector_path(workspace, KEY, "ann")
    flat = ann_path.stat().st_size
    checksum = open_segment(vector_path(workspace, KEY, "base"), KEY, "base").header.checksum
    assert ann.load(ann_path, checksum, "float32") is not None
    assert ann.load(ann_path, checksum, "int8") is None  # another storage: not used

    index.storage = "int8"  # Settings → compact vectors; the next sync rebuilds it
    index.sync(workspace)
    loaded = ann.load(ann_path, checksum, "int8")
    assert loaded is not None and loaded.rescored
    rows = 300  # the fixture's 3 documents × 100 chunks
    # 16 dims: 64 bytes a row as floats, 16 as codes (ids and lists' centres on top)
    assert ann_path.stat().st_size < flat - rows * (4 * DIMS - DIMS) * 0.9
    for seed in range(5):
        q = query_vector(seed)
        assert top(index, q, 10) == exact(workspace, q, 10)


def test_the_approximate_index_builds_in_the_background_while_exact_search_answers(
    workspace: Workspace, library: LibraryService, exact_ivf: None
) -> None:
    index = VectorIndex(KEY, ann_min_values=1, approximate="background")
    index.sync(workspace)
    q = query_vector(4)
    assert top(index, q, 5) == exact(workspace, q, 5)  # whether or not the build is done
    assert index.wait_for_approximate(timeout=120)
    assert top(index, q, 5) == exact(workspace, q, 5)


def test_a_damaged_approximate_index_is_not_used_and_is_rebuilt(
    workspace: Workspace, library: LibraryService, exact_ivf: None
) -> None:
    VectorIndex(KEY, ann_min_values=1, approximate="now").sync(workspace)
    ann_path = vector_path(workspace, KEY, "ann")
    _flip(ann_path, ann_path.stat().st_size // 2)
    index = VectorIndex(KEY, ann_min_values=1, approximate="now")
    index.sync(workspace)
    assert index.approximate
    q = query_vector(2)
    assert top(index, q, 10) == exact(workspace, q, 10)
    assert ann.load(
        ann_path, open_segment(vector_path(workspace, KEY, "base"), KEY, "base").header.checksum
    )


def test_header_is_one_page_and_vectors_are_page_aligned(
    workspace: Workspace, library: LibraryService
) -> None:
    VectorIndex(KEY).sync(workspace)
    segment = open_segment(vector_path(workspace, KEY, "base"), KEY, "base")
    assert segment.vectors.offset % 4096 == 0 and segment.ids.offset == HEADER_SIZE  # type: ignore[attr-defined]


_EXIT_WHILE_BUILDING = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from desktop.retrieval import ann
    from desktop.retrieval.embedders import EmbedderKey
    from desktop.retrieval.vector_store import blocks, open_segment, write_segment

    key = EmbedderKey("test", "exit", 64)
    path = Path(sys.argv[1])
    vectors = np.random.default_rng(0).standard_normal((60_000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(len(vectors), dtype=np.int64)
    write_segment(path, kind="base", key=key, generation=1, ids=ids, document_ids=ids,
                  embedding_ids=ids, vector_blocks=blocks(vectors))
    ann._ADD_BLOCK = 64  # many short steps: the build is surely still running at exit
    builder = ann.Builder(open_segment(path, key, "base"), path.with_suffix(".ann"), 1)
    print("BUILDING", flush=True)
    """
)


def test_a_process_that_ends_during_a_background_build_exits_cleanly(tmp_path: Path) -> None:
    """The build stops between two short steps instead of being cut off inside faiss
    (a daemon thread in native code at interpreter shutdown can abort the process)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_WHILE_BUILDING, str(tmp_path / "v.base")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "BUILDING"
    assert not (tmp_path / "v.ann").exists()  # stopped before it was written


def test_a_filter_made_before_a_sync_still_applies_after_it(
    workspace: Workspace, library: LibraryService, tmp_path: Path
) -> None:
    """An index run may sync between a search's filter and its ranking (two threads)."""
    index = VectorIndex(KEY)
    index.sync(workspace)
    first = library.library.documents()[0].id
    allowed = index.allowed([first])
    build_library(workspace, tmp_path / "more", documents=1, chunks=20, tag="n")
    index.sync(workspace)
    q = query_vector(6)
    assert top(index, q, 10, allowed) == exact(workspace, q, 10, {first})
