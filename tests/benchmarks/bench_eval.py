"""The figures of the issue "Evaluate tab", printed with the load average (the machine is
shared: compare the ratios measured in the same run, not the absolute times).

1. A retrieval-only eval of 1,000 questions over a 10,000-chunk workspace with the local
   embedder (MiniLM int8 for every question's embedding; the chunks' vectors are random
   unit vectors under the same model's key, since indexing is not what is measured),
   next to the bare searches it is made of (the eval's own cost is the difference).
2. A sweep of 24 configurations over a ~1,000-chunk library (2 strategies × 3 sizes ×
   1 embedder × 2 modes × 2 k): time, and how often it chunked and embedded.
3. A run against the fake server answering in 200 ms: 200 questions with 8 in flight,
   next to one at a time; the requests the server saw in flight together; and the GUI's
   longest stall while the Evaluate tab follows the run (the responsiveness helper's
   heartbeat, 5 ms ticks). The server runs in a process of its own.

    .venv/bin/python tests/benchmarks/bench_eval.py [--parts 1,2,3] [--int8-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from desktop.context import AppContext  # noqa: E402
from desktop.evaluation.records import EvalQuestion, ExpectedSource  # noqa: E402
from desktop.evaluation.sweep import SweepGrid  # noqa: E402
from desktop.progress import drive, run_to_end  # noqa: E402
from desktop.retrieval.embedders import EmbedderKey  # noqa: E402
from desktop.retrieval.search import SearchSettings  # noqa: E402
from tests.benchmarks.bench_retrieval import build_corpus, insert_random_vectors  # noqa: E402
from tests.helpers.keychain import session_only_secrets  # noqa: E402

LOCAL_INT8 = "minilm-l6-v2-int8"
LOCAL_STATIC = "minilm-l6-v2-static256"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def context_over(folder: Path, **settings: object) -> AppContext:
    """The app's context over ``folder/workspaces/corpus.ragtune.sqlite`` (build_corpus's)."""
    context = AppContext.create(
        data_dir=str(folder), workspace="corpus", secrets=session_only_secrets()
    )
    context.save_settings(context.settings.replace(auto_index=False, **settings))
    return context


def questions_from_chunks(context: AppContext, count: int) -> list[EvalQuestion]:
    """A question per chunk: ten words from its middle, with the chunk's document and those
    words as the expected source (found in the document by the resolver)."""
    library = context.library()
    titles = {d.id: d.title for d in library.documents()}
    chunks = library.chunks()
    step = max(1, len(chunks) // count)
    questions = []
    for chunk in chunks[::step][:count]:
        words = chunk.text.split()
        middle = max(0, len(words) // 2 - 5)
        fragment = " ".join(words[middle : middle + 10])
        questions.append(
            EvalQuestion(
                f"{fragment}?",
                fragment,
                (ExpectedSource(titles[chunk.document_id], fragment),),
            )
        )
    return questions


def part1(args: argparse.Namespace) -> None:
    print(f"\n1. Retrieval-only eval of {args.questions:,} questions over {args.chunks:,} chunks")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        started = time.perf_counter()
        workspace = build_corpus(folder / "workspaces", args.chunks)
        hashes = [row[0] for row in workspace.connection().execute("SELECT text_hash FROM chunks")]
        insert_random_vectors(workspace, EmbedderKey("local", LOCAL_INT8, 384), hashes, seed=3)
        workspace.close()
        print(f"   workspace built in {time.perf_counter() - started:.0f} s ({load()})")
        # The figure is the first stage (embedding + search); the reranker is timed apart.
        context = context_over(
            folder, retrieval_embedder="local", local_model=LOCAL_INT8, rerank="off"
        )
        service = context.evaluation()
        made = service.create_set("Bench")
        service.store.add_questions(made.id, questions_from_chunks(context, args.questions))
        retrieval = context.retrieval()
        warm = retrieval.search(
            "warm up the model and the index", SearchSettings(k=10), log_kind=None
        )
        assert warm.indexed_chunks == args.chunks, warm.indexed_chunks
        for mode in ("hybrid", "vector"):
            questions = service.questions("Bench")
            settings = SearchSettings(mode=mode, k=10)
            t0 = time.perf_counter()
            for q in questions:
                retrieval.search(q.question, settings, log_kind=None)
            bare = time.perf_counter() - t0
            run = service.start_run("Bench", service.config("retrieval", search_mode=mode, k=5))
            t0 = time.perf_counter()
            drive(service.run_questions(run.id), stops_itself=True)
            evaluated = time.perf_counter() - t0
            metrics = service.run(run.id).metrics
            print(
                f"   {mode}: eval {evaluated:.1f} s ({evaluated / len(questions) * 1000:.1f} ms "
                f"a question; target < 30 s: {'met' if evaluated < 30 else 'NOT met'}); the bare "
                f"searches alone {bare:.1f} s: eval / searches = {evaluated / bare:.2f}; "
                f"hit@1 {metrics['hit@1']:.2f}, hit@5 {metrics['hit@5']:.2f} ({load()})"
            )
        rerank_part(context, service, args.rerank_questions)
        context.close()


def rerank_part(context: AppContext, service: Any, count: int) -> None:
    """The default reranker's share, on the first ``count`` questions: the hybrid eval with
    it, against the same questions without it, and its own time from the searches."""
    if count <= 0:
        return
    settings = context.settings
    default = type(settings)()
    context.save_settings(
        settings.replace(
            rerank=default.rerank,
            rerank_candidates=default.rerank_candidates,
            rerank_window=default.rerank_window,
        )
    )
    questions = service.questions("Bench")[:count]
    retrieval = context.retrieval()
    retrieval.reranker().load()
    rerank_ms = [
        retrieval.search(q.question, SearchSettings(mode="hybrid", k=10), log_kind=None).rerank_ms
        for q in questions[:20]
    ]
    timings = {}
    for rerank in ("off", default.rerank):
        context.save_settings(context.settings.replace(rerank=rerank))
        run = service.start_run(
            "Bench", service.config("retrieval", search_mode="hybrid", k=5, limit=count)
        )
        t0 = time.perf_counter()
        drive(service.run_questions(run.id), stops_itself=True)
        timings[rerank] = time.perf_counter() - t0
        metrics = service.run(run.id).metrics
        print(
            f"   hybrid, reranker {rerank}: {count} questions in {timings[rerank]:.1f} s "
            f"({timings[rerank] / count * 1000:.0f} ms a question); hit@1 {metrics['hit@1']:.2f}, "
            f"hit@5 {metrics['hit@5']:.2f} ({load()})"
        )
    share = timings[default.rerank] - timings["off"]
    print(
        f"   the reranker ({default.rerank}, {default.rerank_candidates} candidates) adds "
        f"{share / count * 1000:.0f} ms a question to an eval (searches alone: median "
        f"{float(np.median(rerank_ms)):.0f} ms reranking); 1,000 questions: about "
        f"{share / count * 1000:.0f} s more, on top of the figure above"
    )


def part2(args: argparse.Namespace) -> None:
    embedder = LOCAL_INT8 if args.int8_sweep else LOCAL_STATIC
    print(f"\n2. Sweep of 24 configurations over ~{args.sweep_chunks:,} chunks ({embedder})")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        workspace = build_corpus(folder / "workspaces", args.sweep_chunks)
        workspace.close()
        context = context_over(folder)
        service = context.evaluation()
        made = service.create_set("Bench")
        service.store.add_questions(made.id, questions_from_chunks(context, 200))
        grid = SweepGrid(
            ("recursive_tokens", "sentences"),
            (128, 256, 512),
            (embedder,),
            ("vector", "hybrid"),
            (3, 5),
        )
        before = [c.id for c in context.library().chunks()]
        t0 = time.perf_counter()
        result = run_to_end(service.sweep("Bench", grid))
        seconds = time.perf_counter() - t0
        unchanged = [c.id for c in context.library().chunks()] == before
        best = result.best("hit@5")
        print(
            f"   {len(result.rows)} configurations in {seconds:.1f} s (target < 300 s: "
            f"{'met' if seconds < 300 else 'NOT met'}); chunked {result.builds['chunkings']}×, "
            f"embedded {result.builds['embeddings']}× (one per chunking and embedder: the "
            f"modes and k reuse them); library unchanged: {unchanged}; best by hit@5: "
            f"{best.label() if best else '—'} ({load()})"
        )
        context.close()


SERVER = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    from tests.helpers.fake_openai import FakeOpenAI
    with FakeOpenAI() as server:
        server.inject("/v1/chat/completions", delay=float(sys.argv[2]), times=100000)
        print(server.base_url, flush=True)
        sys.stdin.read()
        times = [r.timestamp for r in server.requests_to("/v1/chat/completions")]
    with open(sys.argv[3], "w") as out:
        json.dump(times, out)
    """
)


def in_flight(arrivals: list[float], answer_seconds: float) -> int:
    """The most requests that arrived within one answer time of each other: all of them
    were in flight together (each takes at least that long)."""
    ordered = sorted(arrivals)
    best = 0
    for i, at in enumerate(ordered):
        j = np.searchsorted(ordered, at + answer_seconds, side="left")
        best = max(best, int(j - i))
    return best


def part3(args: argparse.Namespace) -> None:
    print(f"\n3. {args.run_questions} questions against a fake server answering in 200 ms")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from desktop.ui.evaluation.dialogs import RunRequest
    from desktop.ui.evaluation.evaluate_tab import EvaluateTab
    from desktop.workers import TaskManager
    from tests.helpers.responsiveness import Heartbeat

    with tempfile.TemporaryDirectory() as scratch:
        times_file = Path(scratch) / "arrivals.json"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(ROOT), "0.2", str(times_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdin is not None
        base_url = server.stdout.readline().strip()
        context = AppContext.create(data_dir=scratch, secrets=session_only_secrets())
        context.save_settings(
            context.settings.replace(provider="custom", base_url=base_url, auto_index=False)
        )
        context.secrets.set(f"api-key:{base_url}", "sk-bench")
        service = context.evaluation()
        made = service.create_set("Bench")
        service.store.add_questions(
            made.id,
            [EvalQuestion(f"What is fact {n}?", f"fact {n}") for n in range(args.run_questions)],
        )
        sequential = min(25, args.run_questions)
        run = service.start_run("Bench", service.config("base", concurrency=1, limit=sequential))
        t0 = time.perf_counter()
        drive(service.run_questions(run.id), stops_itself=True)
        one = (time.perf_counter() - t0) / sequential
        print(f"   one at a time: {one * 1000:.0f} ms a question ({load()})")

        from desktop.warmup import warm_up

        warm_up(context)  # as the app does after its first paint (the SDK import)
        app = QApplication.instance() or QApplication([])
        tasks = TaskManager(app)
        tab = EvaluateTab(context, tasks, lambda title, error: print(title, error.message))
        tab.resize(1024, 640)
        tab.show()
        deadline = time.monotonic() + 30
        while tab.busy and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.005)
        request = RunRequest(("base",), "gpt-4.1-mini", "", "", "", "", "hybrid", 5, None, 8)
        wait = QEventLoop.ProcessEventsFlag.WaitForMoreEvents
        with Heartbeat(interval_ms=5) as idle:  # the baseline: the same loop, no run
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 3:
                app.processEvents(wait)
        with Heartbeat(interval_ms=5) as heartbeat:
            t0 = time.perf_counter()
            tab.start_runs(request)
            while tab.busy:
                app.processEvents(wait)
            seconds = time.perf_counter() - t0
        finished = service.runs("Bench")[0]
        tab.close()
        tasks.shutdown()
        server.stdin.close()
        server.wait(30)
        arrivals = json.loads(times_file.read_text())[sequential:]
        flying = in_flight(arrivals, 0.2)
        print(
            f"   8 in flight: {args.run_questions} questions in {seconds:.1f} s (target < 10 s: "
            f"{'met' if seconds < 10 else 'NOT met'}; one at a time would take "
            f"{one * args.run_questions:.1f} s: {one * args.run_questions / seconds:.1f}× "
            f"faster); {finished.answered} answered; the server saw up to {flying} requests "
            f"arrive within 200 ms of each other; longest GUI stall during the run "
            f"{heartbeat.longest_stall_ms} ms (target ≤ 50 ms: "
            f"{'met' if heartbeat.longest_stall_ms <= 50 else 'NOT met'}) over "
            f"{len(heartbeat.ticks)} ticks of 5 ms; with no run, the same loop's longest "
            f"stall over 3 s was {idle.longest_stall_ms} ms ({load()})"
        )
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="1,2,3")
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--sweep-chunks", type=int, default=1000)
    parser.add_argument("--run-questions", type=int, default=200)
    parser.add_argument(
        "--rerank-questions", type=int, default=100, help="questions for the reranker's share"
    )
    parser.add_argument("--int8-sweep", action="store_true", help="sweep with MiniLM int8")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}; {load()}")
    parts = {p.strip() for p in args.parts.split(",")}
    if "1" in parts:
        part1(args)
    if "2" in parts:
        part2(args)
    if "3" in parts:
        part3(args)


if __name__ == "__main__":
    main()
