"""``ragtune --selftest``: prove an installed copy works, end to end, in a temporary
workspace, without a network or an API key. Prints one line; exit 0 on success."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable


def _steps() -> list[tuple[str, Callable[[dict[str, object]], str]]]:
    def qt(state: dict[str, object]) -> str:
        from desktop.app import open_window_briefly

        return open_window_briefly(str(state["dir"]))

    def workspace(state: dict[str, object]) -> str:
        from desktop.context import AppContext

        context = AppContext.create(data_dir=str(state["dir"]))
        version = context.workspace.schema_version
        context.close()
        return f"workspace schema {version}"

    def keychain(state: dict[str, object]) -> str:
        from desktop.providers.secrets import SecretStore

        info = SecretStore().info()
        return f"keychain {info.name}{'' if info.secure else ' (session only)'}"

    def sdk(state: dict[str, object]) -> str:
        import openai

        return f"openai {openai.__version__}"

    def tokens(state: dict[str, object]) -> str:
        from desktop.tokens import get_tokenizer

        tokenizer = get_tokenizer("gpt-4o")
        return f"tokens {tokenizer.name} via {tokenizer.backend} ({tokenizer.count('selftest')})"

    def library(state: dict[str, object]) -> str:
        from desktop.context import AppContext
        from desktop.library.service import LibraryService
        from desktop.progress import run_to_end
        from desktop.resources import resource

        context = AppContext.create(data_dir=str(state["dir"]))
        service = LibraryService(context.workspace, context.settings)
        report = run_to_end(service.import_paths([resource("samples", SAMPLE)]))
        if report.counts()["added"] != 1:
            raise RuntimeError(f"the sample did not import: {report.summary()}")
        document = service.snapshot().documents[0]
        state["chunks"] = [c.text for c in service.library.chunks(document.id)]
        context.close()
        return f"imported {SAMPLE} ({document.chunk_count} chunks, {document.token_count} tokens)"

    def search(state: dict[str, object]) -> str:
        from desktop.retrieval.local_embedder import DEFAULT_MODEL, LocalEmbedder
        from desktop.retrieval.rerank import MAXSIM_MODEL, MaxSimReranker, rerank_order

        chunks = list(state["chunks"])  # type: ignore[call-overload]
        reranker = MaxSimReranker()
        found = []
        # The app's offline pipeline with each bundled embedder: it finds candidates, the
        # reranker (the bundled MiniLM, through onnxruntime) reads them again.
        for name in dict.fromkeys((DEFAULT_MODEL, MAXSIM_MODEL)):
            model = LocalEmbedder(name)
            vectors = model.embed(chunks)
            query = model.embed_query(QUESTION)
            candidates = [int(i) for i in (-(vectors @ query)).argsort()[:10]]
            order = rerank_order(reranker.scores(QUESTION, [chunks[i] for i in candidates]))
            if EXPECTED.lower() not in chunks[candidates[order[0]]].lower():
                raise RuntimeError(f"{name} found the wrong chunk for {QUESTION!r}")
            found.append(f"{name} ({vectors.shape[1]} dims)")
            state["vectors"], state["query"], state["best"] = vectors, query, candidates[0]
        return f"search with {' and '.join(found)}, reranked by {reranker.name}, found the answer"

    def approximate(state: dict[str, object]) -> str:
        import faiss

        from desktop.retrieval.ann import check

        if check(state["vectors"], state["query"]) != state["best"]:  # type: ignore[arg-type]
            raise RuntimeError("the approximate index (faiss) found another chunk")
        return f"approximate index (faiss {faiss.__version__}) found the same chunk"

    return [
        ("workspace", workspace),
        ("keychain", keychain),
        ("openai SDK", sdk),
        ("tokens", tokens),
        ("library", library),
        ("local search", search),
        ("approximate index", approximate),
        ("window", qt),
    ]


# A question about the bundled sample manual, worded unlike its answer.
SAMPLE = "user-manual.md"
QUESTION = "What does it mean when the light on the front of the appliance blinks red?"
EXPECTED = "A drive has failed or the storage volume is degraded."


def run_selftest(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    done: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ragtune-selftest-") as scratch:
        state: dict[str, object] = {"dir": scratch}
        for name, step in _steps():
            try:
                done.append(step(state))
            except Exception as exc:
                print(f"selftest FAILED at {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
    elapsed = time.perf_counter() - started
    print(f"selftest ok in {elapsed:.1f} s: " + "; ".join(done))
    return 0
