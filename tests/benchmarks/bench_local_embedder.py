"""Benchmark the bundled local embedders: speed, memory and a small quality check.

Run from the repository root with the app's venv (no torch needed)::

    .venv/bin/python tests/benchmarks/bench_local_embedder.py
    .venv/bin/python tests/benchmarks/bench_local_embedder.py --threads 1 --repeats 5

Each candidate runs in its own subprocess, so load time includes importing onnxruntime /
tokenizers and the peak RSS is that candidate's alone. Speed is the best of
``--repeats`` timed runs (other work on the machine only ever makes a run slower): it
is printed with the load average, check that before trusting a figure.

Measured per candidate:

- load: import + first load of the model files (s); RSS after load and peak (MB)
- passages/s for ~50, ~100 and ~200-word passages cut from English help text (wall
  clock, and per CPU-second of the process: the latter is robust to other load), the
  mean model tokens per passage, the share longer than the window (embedded in windows),
  and the time 10,000 take
- ms/query: median over short questions embedded one at a time
- hit@1, hit@5, MRR on ``retrieval_set()`` (40 passages, 40 paraphrased questions)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.retrieval_set import retrieval_set  # noqa: E402

# (label, model, max_tokens or None): the shipped models, plus the int8 model with a
# 128-token window (the length all-MiniLM-L6-v2 was fine-tuned on; longer texts take
# more windows).
CANDIDATES: list[tuple[str, str, int | None]] = [
    ("MiniLM int8, 256 window", "minilm-l6-v2-int8", None),
    ("MiniLM int8, 128 window", "minilm-l6-v2-int8", 126),
    ("static 256-d (model2vec)", "minilm-l6-v2-static256", None),
    ("multilingual e5-small int8, 80k vocabulary", "multilingual-e5-small-v80kw-int8", None),
]
WORDS_PER_PASSAGE = (50, 100, 200)
TARGET_CHUNKS = 10_000


def passages(words: int, count: int) -> list[str]:
    """``count`` passages of ``words`` words, cut at different offsets from help text."""
    rs = retrieval_set()
    pool = " ".join([*rs.passages, *rs.queries]).split()
    pool = pool * (1 + (words + count * 13) // len(pool))
    return [" ".join(pool[(i * 13) % 997 : (i * 13) % 997 + words]) for i in range(count)]


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def best_rates(fn: Any, n: int, repeats: int) -> tuple[float, float]:
    """Best wall-clock rate, and the rate per CPU-second this process used (all its
    threads). The second barely moves when other programs compete for the cores, so it
    shows the work itself; on an idle machine the wall rate is close to it times the
    cores the embedder keeps busy."""
    fn()  # warm-up
    wall = cpu = 0.0
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = max(wall, n / (time.perf_counter() - started))
        cpu = max(cpu, n / max(time.process_time() - started_cpu, 1e-9))
    return wall, cpu


def worker(model: str, max_tokens: int | None, threads: int, repeats: int) -> dict[str, Any]:
    import numpy as np

    started = time.perf_counter()
    from desktop.retrieval.local_embedder import LocalEmbedder

    embedder = LocalEmbedder(model, threads=threads, max_tokens=max_tokens)
    embedder.load()
    result: dict[str, Any] = {
        "load_s": time.perf_counter() - started,
        "rss_loaded_mb": rss_mb(),
        "dimensions": embedder.dimensions,
        "max_tokens": embedder.max_tokens,
    }
    static = embedder.config["kind"] == "static"
    speed = {}
    for words in WORDS_PER_PASSAGE:
        texts = passages(words, 2000 if static else 120)
        tokens = [embedder.count_tokens(t) for t in texts]
        rate, per_cpu = best_rates(lambda texts=texts: embedder.embed(texts), len(texts), repeats)
        speed[words] = {
            "per_s": rate,
            "per_cpu_s": per_cpu,
            "tokens": statistics.mean(tokens),
            "truncated": sum(embedder.windowed(t) for t in texts) / len(texts),
        }
    result["speed"] = speed

    rs = retrieval_set()
    for q in rs.queries[:5]:
        embedder.embed_query(q)
    times = []
    for _ in range(3):
        for q in rs.queries:
            t = time.perf_counter()
            embedder.embed_query(q)
            times.append(time.perf_counter() - t)
    result["query_ms"] = statistics.median(times) * 1000

    p = embedder.embed(list(rs.passages))
    q = np.vstack([embedder.embed_query(x) for x in rs.queries])  # as the app embeds a question
    ranks = np.argsort(-(q @ p.T), axis=1)
    answers = np.asarray(rs.answers)
    position = np.argmax(ranks == answers[:, None], axis=1)
    result["hit1"] = float((position == 0).mean())
    result["hit5"] = float((position < 5).mean())
    result["mrr"] = float((1.0 / (position + 1)).mean())
    result["rss_peak_mb"] = peak_rss_mb()
    return result


def session_options(model: str, words: int, count: int, repeats: int) -> list[dict[str, Any]]:
    """The runtime's onnxruntime settings against alternatives, on the same token ids:
    passages/s (wall, per CPU-s) and the lowest cosine to the shipped runtime's vectors
    (batching changes a text's int8 activation scale, see packaging/models/README.md)."""
    import copy

    import numpy as np
    import onnxruntime as ort

    from desktop.retrieval.local_embedder import LocalEmbedder, models_dir

    embedder = LocalEmbedder(model)
    embedder.load()
    shipped = embedder._backend
    texts = passages(words, count)
    ids = [seq[: embedder.max_tokens] for seq in shipped.token_ids(texts)]
    level = ort.GraphOptimizationLevel
    variants = [
        ("shipped: 1 text per run, 2 runs at once, 1 thread each, no spinning", {}),
        ("  + idle threads spin", {"spin": True}),
        ("  + denormals as zero", {"denormal": True}),
        ("  graph optimisation: extended only", {"level": level.ORT_ENABLE_EXTENDED}),
        ("  graph optimisation: basic only", {"level": level.ORT_ENABLE_BASIC}),
        ("1 text per run, 1 run at a time, 2 threads", {"intra": 2, "parallel": False}),
        ("length-bucketed batches (2,048 tokens), 2 threads", {"intra": 2, "batched": True}),
    ]
    rows = []
    reference = shipped.embed_ids(ids, 1)
    for label, change in variants:
        options = ort.SessionOptions()
        parallel = change.get("parallel", True) and not change.get("batched", False)
        options.intra_op_num_threads = change.get("intra", 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = change.get("level", level.ORT_ENABLE_ALL)
        options.log_severity_level = 3
        if not change.get("spin", False):
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if change.get("denormal", False):
            options.add_session_config_entry("session.set_denormal_as_zero", "1")
        backend = copy.copy(shipped)
        backend.session = ort.InferenceSession(
            str(models_dir() / model / embedder.config["model_file"]),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        backend.one_text_per_run = not change.get("batched", False)
        backend.threads = 2 if parallel else 1
        vectors = backend.embed_ids(ids, 64)
        wall, per_cpu = best_rates(lambda b=backend: b.embed_ids(ids, 64), len(ids), repeats)
        rows.append(
            {
                "label": label,
                "per_s": wall,
                "per_cpu_s": per_cpu,
                "min_cos": float((vectors * reference).sum(axis=1).min()),
                "tokens": float(np.mean([len(i) + 2 for i in ids])),
            }
        )
    return rows


def model_size_mb(model: str) -> float:
    from desktop.retrieval.local_embedder import models_dir

    directory = models_dir() / model
    return sum(f.stat().st_size for f in directory.iterdir()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="run only candidates whose label contains this")
    parser.add_argument(
        "--session-options",
        metavar="MODEL",
        help="compare onnxruntime settings for this bundled model instead",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.session_options:
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        rows = session_options(args.session_options, 150, 120, args.repeats)
        print(
            f"\n{args.session_options}, 120 passages of ~150 words "
            f"(~{rows[0]['tokens']:.0f} tokens)"
        )
        print("| onnxruntime settings | passages/s wall | per CPU-s | min cosine to shipped |")
        print("|---|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['label']} | {r['per_s']:.0f} | {r['per_cpu_s']:.1f} | {r['min_cos']:.4f} |"
            )
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0

    if args.worker:
        model, max_tokens = json.loads(args.worker)
        print(json.dumps(worker(model, max_tokens, args.threads, args.repeats)))
        return 0

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"cores: {os.cpu_count()}, threads: {args.threads}, best of {args.repeats} runs\n")
    rows = []
    for label, model, max_tokens in CANDIDATES:
        if args.only and args.only not in label:
            continue
        command = [
            sys.executable,
            __file__,
            "--worker",
            json.dumps([model, max_tokens]),
            "--threads",
            str(args.threads),
            "--repeats",
            str(args.repeats),
        ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        if done.returncode != 0:
            print(f"{label}: failed\n{done.stderr}", file=sys.stderr)
            return 1
        rows.append((label, model, json.loads(done.stdout.strip().splitlines()[-1])))

    print(
        "| embedder | dims | size MB | load s | RSS MB (loaded / peak) | ms/query "
        "| hit@1 | hit@5 | MRR |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, model, r in rows:
        print(
            f"| {label} | {r['dimensions']} | {model_size_mb(model):.1f} | {r['load_s']:.2f} "
            f"| {r['rss_loaded_mb']:.0f} / {r['rss_peak_mb']:.0f} | {r['query_ms']:.2f} "
            f"| {r['hit1']:.3f} | {r['hit5']:.3f} | {r['mrr']:.3f} |"
        )
    print()
    header = " | ".join(f"~{w} words" for w in WORDS_PER_PASSAGE)
    print(
        f"| embedder (passages/s wall; per CPU-s; tokens; windowed; {TARGET_CHUNKS:,} in) "
        f"| {header} |"
    )
    print("|---|" + "---:|" * len(WORDS_PER_PASSAGE))
    for label, _, r in rows:
        cells = []
        for w in WORDS_PER_PASSAGE:
            s = r["speed"][str(w)]
            cells.append(
                f"{s['per_s']:,.0f}/s; {s['per_cpu_s']:,.0f}; {s['tokens']:.0f} tok; "
                f"{s['truncated']:.0%}; {TARGET_CHUNKS / s['per_s']:,.0f} s"
            )
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"target: {TARGET_CHUNKS:,} chunks in 60 s = {TARGET_CHUNKS / 60:.0f} chunks/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
