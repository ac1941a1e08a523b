"""Validation and statistics throughput on a generated fine-tuning dataset.

Run: ``.venv/bin/python tests/benchmarks/bench_dataset.py [--examples 50000]``

Prints the time to validate (format checks, tokens, exact and near duplicates,
leakage against 200 evaluation questions) and to compute the statistics and cost
estimate, in a fresh token cache, and examples per second. The examples are generated
(``tests/finetune/datagen.py``): a few repeated system prompts, 8-40-word questions,
10-120-word answers, 10 % two-turn, about 1 % exact and 1 % near duplicates.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop.finetune.stats import TokenCounter, dataset_stats  # noqa: E402
from desktop.finetune.validation import validate_examples  # noqa: E402
from desktop.tokens import get_tokenizer  # noqa: E402
from tests.finetune.datagen import generated_examples  # noqa: E402

MODEL = "gpt-4o-mini"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = parser.parse_args()

    started = time.perf_counter()
    examples = generated_examples(args.examples)
    questions = [e.question for e in examples[:: max(1, len(examples) // 200)]][:200]
    get_tokenizer(MODEL)  # loading the encoding is a one-off, not part of validation
    characters = sum(len(m.text) for e in examples for m in e.messages)
    print(
        f"{len(examples):,} examples, {characters / 1e6:.1f} M characters "
        f"(generated in {time.perf_counter() - started:.1f} s)"
    )

    best = None
    for _ in range(args.repeat):
        counter = TokenCounter(MODEL)  # a fresh cache: every text is encoded again
        t0 = time.perf_counter()
        report = validate_examples(
            examples, model=MODEL, counter=counter, evaluation_questions=questions
        )
        t1 = time.perf_counter()
        stats = dataset_stats(examples, model=MODEL, tokens=report.tokens)
        t2 = time.perf_counter()
        if best is None or t2 - t0 < best[0]:
            best = (t2 - t0, t1 - t0, t2 - t1, report, stats)
    assert best is not None
    total, validate, statistics, report, stats = best
    print(f"validate: {validate:.2f} s  statistics + cost: {statistics:.2f} s")
    print(f"total: {total:.2f} s = {len(examples) / total:,.0f} examples/s")
    print(f"issues: {report.counts()}")
    cost = stats.cost
    print(
        f"tokens: mean {stats.total_tokens.mean:.0f}, p95 {stats.total_tokens.p95:.0f}; "
        f"billed {cost.billed_tokens:,} over {cost.epochs} epoch(s), ${cost.cost:,.2f}"
    )


if __name__ == "__main__":
    main()
