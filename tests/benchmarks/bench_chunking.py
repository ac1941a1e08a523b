"""Chunking and loading throughput, on generated documents.

Run: ``.venv/bin/python tests/benchmarks/bench_chunking.py [--megabytes 20]``

Prints MB/s per chunking strategy (with both shipped encodings; the whole time of
``chunk_text``, including the one tokenization pass), with its ratio to one tokenizer
pass over the same text in wall and CPU time; files/s per loader format (the formats
of issue 17 too, on generated files of realistic size); and OCR pages/s at 150 dpi
with the character accuracy on pages rendered from known text (``--ocr-pages``).
The text is generated (Zipf-distributed English words, Markdown headings, lists and
some CJK), so figures are repeatable but not a claim about any particular corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop.library.chunking import (  # noqa: E402
    ChunkingStrategy,
    FixedWords,
    RecursiveTokens,
    Sentences,
    Structure,
    chunk_stats,
    chunk_text,
)
from desktop.library.loaders import load_document  # noqa: E402
from desktop.tokens import get_tokenizer  # noqa: E402
from tests.helpers.documents import make_docx, make_html, make_pdf  # noqa: E402
from tests.helpers.format_files import (  # noqa: E402
    character_accuracy,
    make_email,
    make_epub,
    make_mbox,
    make_ods,
    make_odt,
    make_pptx,
    make_rtf,
    make_scanned_pdf,
    make_xlsx,
    render_page,
)

WORDS = str.split(
    """the of and to in is that for it as was with be by on not he this are or his from
at which but have an they you were her she there one all we their has been would more if no
when will other its into than some could time these two may then do first any my now such
like our over man me even most made after also did many before must through back years
where much your way well down should because each just those people how too little state
good very make world still own see men work long get here between both life being under
never day same another know while last might us great old year off come since against go
came right used take three index search query answer document library chunk token model
embedding vector retrieval context prompt dataset training example evaluation recall
precision latency throughput server client request response error timeout retry backup
restore schedule policy account billing invoice refund support ticket release version
install configure update upgrade network storage encryption privacy telemetry"""
)
CJK = "検索拡張生成は文書から答えを見つけます。モデルは文脈を読みます！質問は短いですか？"


def make_text(n_bytes: int, seed: int = 7) -> str:
    """Markdown-ish prose of about ``n_bytes`` UTF-8 bytes."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    out: list[str] = []
    size = 0
    section = 0
    while size < n_bytes:
        roll = rng.random()
        if roll < 0.06:
            section += 1
            level = rng.choice((1, 2, 2, 3, 3, 3))
            title = " ".join(rng.choices(WORDS, weights, k=rng.randint(2, 5))).title()
            block = f"{'#' * level} {title} {section}"
        elif roll < 0.10:
            items = [
                "- " + " ".join(rng.choices(WORDS, weights, k=rng.randint(3, 12)))
                for _ in range(rng.randint(2, 6))
            ]
            block = "\n".join(items)
        elif roll < 0.11:
            block = CJK * rng.randint(1, 4)
        else:
            sentences = []
            for _ in range(rng.randint(2, 8)):
                words = rng.choices(WORDS, weights, k=rng.randint(6, 28))
                if rng.random() < 0.2:
                    words.insert(rng.randint(0, len(words)), str(rng.randint(1, 2030)))
                if rng.random() < 0.3:
                    words[rng.randrange(len(words))] += ","
                sentences.append(" ".join(words).capitalize() + rng.choice(".....?!"))
            block = " ".join(sentences)
        out.append(block)
        size += len(block.encode()) + 2
    return "\n\n".join(out)


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Best wall and CPU seconds of ``repeat`` runs (the best run is the least
    disturbed on a shared machine), and the result of the last run."""
    wall = cpu = float("inf")
    result: object = None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def bench_chunking(megabytes: float, repeat: int) -> None:
    text = make_text(int(megabytes * 1_000_000))
    size_mb = len(text.encode()) / 1_000_000
    print(f"\nChunking {size_mb:.1f} MB of generated Markdown (best of {repeat})")
    strategies: list[ChunkingStrategy] = [
        FixedWords(),
        Sentences(),
        RecursiveTokens(),
        Structure(),
    ]
    print("(CPU s is the process's CPU time over all threads: long texts are encoded on")
    print(" several threads, so it can exceed the wall time)")
    print(
        f"{'strategy':<26}{'encoding':<13}{'chunks':>8}{'mean tok':>10}"
        f"{'wall s':>8}{'MB/s':>7}{'CPU s':>8}{'x pass':>8}{'x CPU':>7}"
    )
    for encoding in ("o200k_base", "cl100k_base"):
        tokenizer = get_tokenizer(encoding)
        tokenizer.index("warm up the encoding and its token table")
        rows: list[tuple[str, str, str, float, float]] = []
        wall, cpu, _ = timed(lambda t=tokenizer: t.count(text), repeat)  # type: ignore[misc]
        rows.append(("tokenizer.count (1 pass)", "", "", wall, cpu))
        for strategy in strategies:
            wall, cpu, chunks = timed(
                lambda s=strategy, t=tokenizer: chunk_text(text, s, tokenizer=t),  # type: ignore[misc]
                repeat,
            )
            stats = chunk_stats(chunks, text)  # type: ignore[arg-type]
            label = f"{type(strategy).__name__}({', '.join(map(str, vars(strategy).values()))})"
            rows.append((label, str(stats.count), f"{stats.mean_tokens:.0f}", wall, cpu))
        base_wall, base_cpu = rows[0][3], rows[0][4]
        for label, count, mean, wall, cpu in rows:
            print(
                f"{label:<26}{encoding:<13}{count:>8}{mean:>10}"
                f"{wall:>8.2f}{size_mb / wall:>7.1f}{cpu:>8.2f}"
                f"{wall / base_wall:>8.2f}{cpu / base_cpu:>7.2f}"
            )
        print(
            f"(load average {os.getloadavg()[0]:.2f}; x pass, x CPU: wall and CPU time "
            "relative to one tokenizer pass)"
        )


def _files(folder: Path) -> dict[str, list[Path]]:
    rng = random.Random(3)
    made: dict[str, list[Path]] = {}

    def paragraphs(n: int) -> list[str]:
        return [make_text(rng.randint(300, 1200), seed=rng.randrange(10**6)) for _ in range(n)]

    def add(kind: str, name: str, data: bytes | str) -> None:
        path = folder / kind / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        made.setdefault(kind, []).append(path)

    for n in range(40):
        body = paragraphs(20)
        add("txt", f"{n}.txt", "\n\n".join(body))
        add("md", f"{n}.md", "\n\n".join(body))
        rows = [f'{i},"{p[:30]}","{p[:400]}"'.replace("\n", " ") for i, p in enumerate(body)]
        add("csv", f"{n}.csv", "id,title,body\n" + "\n".join(rows))
        add("json", f"{n}.json", json.dumps([{"id": i, "text": p} for i, p in enumerate(body)]))
        html_body = "".join(
            f"<h2>Part {i}</h2><p>{p}</p><ul><li>{p[:40]}</li></ul>" for i, p in enumerate(body)
        )
        add("html", f"{n}.html", make_html(f"Doc {n}", f"<nav>menu</nav>{html_body}"))
        pages = [p[:1500].encode("ascii", "replace").decode() for p in paragraphs(10)]
        add("pdf", f"{n}.pdf", make_pdf(["\n".join(_wrap(p)) for p in pages], title=f"Doc {n}"))
        blocks: list[tuple[object, ...]] = []
        for i, p in enumerate(body):
            blocks += [("heading", 2, f"Part {i}"), ("paragraph", p)]
        docx = make_docx(blocks, title=f"Doc {n}")
        add("docx", f"{n}.docx", docx)
        if n < 20:  # the formats of issue 17: 20 files each
            _new_formats(add, n, body, docx, paragraphs)
    return made


def _new_formats(add, n, body, docx, paragraphs) -> None:  # type: ignore[no-untyped-def]
    slides = [
        {
            "title": f"Slide {i}",
            "bullets": [p[:80] for p in paragraphs(4)],
            "notes": body[i % 20][:300],
        }
        for i in range(30)
    ]
    add("pptx", f"{n}.pptx", make_pptx(slides, title=f"Deck {n}"))
    sheet = [["id", "name", "amount", "note"]] + [
        [i, f"item {i}", i * 1.25, body[i % len(body)][:60]] for i in range(1500)
    ]
    add("xlsx", f"{n}.xlsx", make_xlsx({"Data": sheet, "More": sheet[:500]}, hidden=["More"]))
    add("ods", f"{n}.ods", make_ods({"Data": sheet[:800]}))
    mail = make_email(
        f"Report {n}",
        "\n\n".join(body[:5]),
        attachments=[("report.docx", "application/octet-stream", docx)],
    )
    add("eml", f"{n}.eml", mail.as_bytes())
    messages = [make_email(f"M{i}", "\n\n".join(body[i % 5 : i % 5 + 3])) for i in range(50)]
    add("mbox", f"{n}.mbox", make_mbox(messages))
    chapters = [(f"Chapter {i}", f"<p>{p}</p>") for i, p in enumerate(body)]
    add("epub", f"{n}.epub", make_epub(f"Book {n}", chapters))
    add("rtf", f"{n}.rtf", make_rtf(body))
    add(
        "odt", f"{n}.odt", make_odt([("heading", 1, f"Doc {n}")] + [("paragraph", p) for p in body])
    )
    functions = [f"def f{i}():\n    # {p[:200]}\n    return {i}" for i, p in enumerate(body)]
    add("code", f"{n}.py", "\n\n".join(functions))
    lines = [f"2026-01-01 10:00:{i % 60:02} INFO {p[:100]}\n" for i, p in enumerate(body * 20)]
    add("log", f"{n}.log", "".join(lines))
    add("yaml", f"{n}.yaml", "".join(f"key{i}:\n  text: '{p[:100]}'\n" for i, p in enumerate(body)))


def _wrap(text: str, width: int = 90) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def bench_loaders(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        files = _files(Path(folder))
        print(f"\nLoading generated files (best of {repeat})")
        print(f"{'format':<8}{'files':>7}{'avg KB':>9}{'s':>8}{'files/s':>10}{'MB/s':>8}")
        for kind, paths in files.items():
            total = sum(p.stat().st_size for p in paths)
            seconds, _, _ = timed(
                lambda ps=paths: [load_document(p, max_bytes=50_000_000) for p in ps], repeat
            )
            print(
                f"{kind:<8}{len(paths):>7}{total / len(paths) / 1000:>9.1f}{seconds:>8.2f}"
                f"{len(paths) / seconds:>10.0f}{total / 1e6 / seconds:>8.1f}"
                f"   load {os.getloadavg()[0]:.2f}"
            )


def bench_ocr(pages: int) -> None:
    """OCR pages/s at 150 dpi (a scanned PDF: rendering included) and the character
    accuracy on pages rendered from known text."""
    from desktop.library import ocr
    from desktop.library.loaders import LoadOptions

    truths = []
    images = []
    for n in range(pages):
        words = [w for w in make_text(2400, seed=100 + n).replace("#", "").split() if w.isascii()]
        lines = [" ".join(words[i : i + 11]) for i in range(0, min(len(words), 11 * 30), 11)]
        kind = ("clean", "scan", "turned")[n % 3]
        noise, angle = {"clean": (0, 0.0), "scan": (12, 0.8), "turned": (8, 2.0)}[kind]
        truths.append(("\n".join(lines), kind))
        images.append(render_page(lines, noise=noise, angle=angle))
    start = time.perf_counter()
    ocr.engine()
    print(
        f"\nOCR: {pages} A4 pages at 150 dpi, ~330 words each (models loaded in "
        f"{time.perf_counter() - start:.2f} s)"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scan.pdf"
        path.write_bytes(make_scanned_pdf(images))
        start, start_cpu = time.perf_counter(), time.process_time()
        document = load_document(path, options=LoadOptions(max_bytes=200_000_000))
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(
        f"scanned PDF: {pages / wall:.3f} pages/s ({wall / pages:.2f} s/page wall, "
        f"{cpu / pages:.2f} CPU-s/page), load average {os.getloadavg()[0]:.2f}"
    )
    for entry, (truth, kind) in zip(document.metadata["ocr"], truths, strict=True):
        read = document.text[entry["start"] : entry["end"]]
        print(
            f"  page {entry['page']} ({kind}): accuracy {character_accuracy(truth, read):.2%}, "
            f"confidence {entry['confidence']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--ocr-pages", type=int, default=6)
    parser.add_argument("--only", choices=("chunking", "loaders", "ocr"))
    arguments = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f}")
    tokenizers = [get_tokenizer(e) for e in ("o200k_base", "cl100k_base")]
    print("tokenizer backends:", ", ".join(f"{t.name}={t.backend}" for t in tokenizers))
    if arguments.only in (None, "chunking"):
        bench_chunking(arguments.megabytes, arguments.repeat)
    if arguments.only in (None, "loaders"):
        bench_loaders(arguments.repeat)
    if arguments.only in (None, "ocr") and arguments.ocr_pages:
        bench_ocr(arguments.ocr_pages)


if __name__ == "__main__":
    main()
