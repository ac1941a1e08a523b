"""Import throughput: ``LibraryService.import_paths`` of generated Markdown files, against
the figure of issue 16 (610 files/s at the time) and a LangChain-style read-and-split.

Run: ``.venv/bin/python tests/benchmarks/bench_import.py [--files 2000] [--repeat 2]``

Printed, all from the same run (the machine is shared: compare ratios, not seconds):
- the import as it is now (files read and chunked in processes forked from their server,
  which a first import started: as in the window after its first import), and the same
  in a fresh interpreter (its server starts with the import: ``ragtune import``);
- the same import with the files read ahead on one thread instead;
- the same import with the old shape: one file at a time, one commit per file
  (``workers=0``-like: ``batch_files=1``, one worker, nothing read ahead);
- the same import followed by the full-text index's catch-up (``sync_stemmed``, which the
  first search or the index run does: the import itself writes no full-text index since
  schema 14);
- the baseline: read each file and split it with a character splitter equivalent to
  LangChain's ``RecursiveCharacterTextSplitter`` (chunk_size 1000, overlap 200,
  separators "\\n\\n", "\\n", " ", ""). langchain is not installed here, so the same
  algorithm is implemented below (it is ~40 lines); it writes nothing anywhere, which
  flatters it: the import stores documents, chunks and their token counts in SQLite.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop.library.importer import ImportOptions  # noqa: E402
from desktop.library.importer import import_paths as run_import  # noqa: E402
from desktop.library.repository import Library  # noqa: E402
from desktop.progress import run_to_end  # noqa: E402
from desktop.retrieval.lexical import sync_stemmed  # noqa: E402
from desktop.workspace import Workspace  # noqa: E402
from tests.benchmarks.bench_chunking import make_text  # noqa: E402


def recursive_split(
    text: str,
    chunk_size: int,
    overlap: int,
    length: Callable[[str], int],
    separators: tuple[str, ...] = ("\n\n", "\n", " ", ""),
) -> list[str]:
    """LangChain's RecursiveCharacterTextSplitter (keep_separator=False), with its
    ``length_function`` (``len``, or a tokenizer's count for ``from_tiktoken_encoder``)."""
    separator = separators[-1]
    rest: tuple[str, ...] = ()
    for i, candidate in enumerate(separators):
        if candidate == "" or candidate in text:
            separator, rest = candidate, separators[i + 1 :]
            break
    splits = text.split(separator) if separator else list(text)
    chunks: list[str] = []
    good: list[str] = []
    for piece in splits:
        if length(piece) < chunk_size:
            good.append(piece)
            continue
        if good:
            chunks.extend(_merge(good, separator, chunk_size, overlap, length))
            good = []
        if rest:
            chunks.extend(recursive_split(piece, chunk_size, overlap, length, rest))
        else:
            chunks.append(piece)
    if good:
        chunks.extend(_merge(good, separator, chunk_size, overlap, length))
    return chunks


def _merge(
    splits: list[str], separator: str, size: int, overlap: int, length: Callable[[str], int]
) -> list[str]:
    docs: list[str] = []
    current: list[str] = []
    sizes: list[int] = []
    total = 0
    gap = length(separator) if separator else 0
    for piece in splits:
        piece_size = length(piece)
        if total + piece_size + (gap if current else 0) > size and current:
            doc = separator.join(current).strip()
            if doc:
                docs.append(doc)
            while total > overlap or (
                total + piece_size + (gap if current else 0) > size and total > 0
            ):
                total -= sizes[0] + (gap if len(current) > 1 else 0)
                current.pop(0)
                sizes.pop(0)
        current.append(piece)
        sizes.append(piece_size)
        total += piece_size + (gap if len(current) > 1 else 0)
    doc = separator.join(current).strip()
    if doc:
        docs.append(doc)
    return docs


def make_files(folder: Path, count: int) -> int:
    rng = random.Random(5)
    size = 0
    for n in range(count):
        text = f"# Note {n}\n\n" + make_text(rng.randint(2_000, 9_000), seed=n)
        path = folder / f"sub{n % 20:02}" / f"note-{n:05}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        size += len(text.encode())
    return size


def time_import(
    folder: Path, options: ImportOptions, work: Path, label: str, *, full_text: bool = False
) -> float | None:
    """``full_text``: and the full-text index brought up to date after it (what the first
    search, or the index run, does next)."""
    database = work / f"{label}-{time.monotonic_ns()}.ragtune.sqlite"
    with Workspace(database) as workspace:
        library = Library(workspace)
        start = time.perf_counter()
        report = run_to_end(run_import(library, [folder], options))
        if full_text:
            sync_stemmed(workspace)
        seconds = time.perf_counter() - start
    assert report.counts()["added"] > 0
    return seconds


def time_baseline(folder: Path, *, tokens: bool = False) -> float:
    """Read every file and split it; ``tokens``: lengths in tiktoken tokens, as
    LangChain's ``RecursiveCharacterTextSplitter.from_tiktoken_encoder`` measures them
    (chunk 192 tokens, overlap 32, like the import), else 1000/200 characters."""
    from desktop.tokens import get_tokenizer

    counter = get_tokenizer("cl100k_base").count
    start = time.perf_counter()
    chunks = 0
    for path in sorted(folder.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if tokens:
            chunks += len(recursive_split(text, 192, 32, counter))
        else:
            chunks += len(recursive_split(text, 1000, 200, len))
    assert chunks
    return time.perf_counter() - start


def _tree(work: Path, ref: str | None) -> Path | None:
    """The code of commit ``ref``, exported once into ``work`` (None: this checkout)."""
    if ref is None:
        return ROOT
    tree = work / f"tree-{ref}"
    if not tree.exists():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "desktop", "resources/samples"],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            print(f"  (cannot export {ref}: {archive.stderr.decode().strip()})")
            return None
        tree.mkdir()
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def time_before(folder: Path, work: Path, ref: str | None) -> float | None:
    """The import of the commit ``ref`` (the code before this change), run from an
    exported copy of that commit in a fresh interpreter; ``ref`` None: this checkout's,
    the same way (what ``ragtune import`` does: its reading processes' server starts
    with the import)."""
    tree = _tree(work, ref)
    if tree is None:
        return None
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "import desktop\n"
        "assert Path(desktop.__file__).is_relative_to(Path.cwd()), desktop.__file__\n"
        "from desktop.library.service import LibraryService\n"
        "from desktop.settings import Settings\n"
        "from desktop.workspace import Workspace\n"
        "from desktop.progress import run_to_end\n"
        "service = LibraryService(Workspace(Path(sys.argv[1])), Settings())\n"
        "service.options().tokenizer().count('warm up')\n"
        "start = time.perf_counter()\n"
        "run_to_end(service.import_paths([Path(sys.argv[2])]))\n"
        "print(time.perf_counter() - start)\n"
    )
    database = work / f"before-{time.monotonic_ns()}.ragtune.sqlite"
    result = subprocess.run(
        [sys.executable, "-c", script, str(database), str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
        # In the exported tree: ``-c`` puts the working directory first on sys.path, so
        # run from this checkout it imported today's code (the figure of issue 16's
        # first closing notes compared today's code with itself).
        cwd=tree,
        check=False,
    )
    if result.returncode != 0:
        print(f"  (the import of {ref} failed: {result.stderr.strip()[-300:]})")
        return None
    return float(result.stdout.strip().splitlines()[-1])


def time_command(folder: Path, work: Path, ref: str | None) -> float | None:
    """The whole ``ragtune import FOLDER`` command (the interpreter's start, its imports,
    the workspace's creation, the import, the report) of the commit ``ref`` or, None, of
    this checkout. A data folder of its own per tree (its tokenizer file placed by a first
    run), a new workspace each run."""
    tree = _tree(work, ref)
    if tree is None:
        return None
    data = work / f"data-{ref}"
    command = [sys.executable, "-m", "desktop", "--data-dir", str(data)]
    if not data.exists():
        subprocess.run([*command, "settings", "show"], capture_output=True, check=False)
    workspace = f"w{time.monotonic_ns()}"
    start = time.perf_counter()
    result = subprocess.run(
        [*command, "--workspace", workspace, "import", str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        check=False,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(f"  (ragtune import of {ref or 'now'} failed: {result.stderr.strip()[-300:]})")
        return None
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--before",
        default="614f3b8",
        help="commit whose import is 'before' (default: 614f3b8, before this wave's changes)",
    )
    args = parser.parse_args()
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        folder = work / "notes"
        size = make_files(folder, args.files)
        print(f"{args.files} Markdown files, {size / 1e6:.1f} MB (best of {args.repeat})")
        now = ImportOptions()
        # The reading processes' server started, as in the window after its first import
        # (or once its import dialog opened): the runs below fork reading processes from it.
        make_files(work / "one", 1)
        time_import(work / "one", replace(now, process_min_files=0), work, "warm-up")
        threads = ImportOptions(processes=0)
        old_shape = ImportOptions(processes=0, workers=0, batch_files=1, batch_seconds=0.0)
        inline = ImportOptions(processes=0, workers=0)
        runs: dict[str, tuple[str, Callable[[], float | None]]] = {
            "before": (
                f"import before ({args.before})",
                lambda: time_before(folder, work, args.before),
            ),
            "now": (
                f"import now ({now.processes} reading processes)",
                lambda: time_import(folder, now, work, "n"),
            ),
            "fresh": (
                "import now, in a fresh process (server cold)",
                lambda: time_before(folder, work, None),
            ),
            "command before": (
                f"`ragtune import` before ({args.before})",
                lambda: time_command(folder, work, args.before),
            ),
            "command now": ("`ragtune import` now", lambda: time_command(folder, work, None)),
            "thread": (
                "import now, read ahead on a thread",
                lambda: time_import(folder, threads, work, "t"),
            ),
            "old shape": (
                "import now, one file + one commit at a time",
                lambda: time_import(folder, old_shape, work, "o"),
            ),
            "inline": (
                "import now, batched commits, no read-ahead",
                lambda: time_import(folder, inline, work, "i"),
            ),
            "full text": (
                "import now + the full-text index's catch-up",
                lambda: time_import(folder, now, work, "f", full_text=True),
            ),
            "langchain": (
                "baseline: read + split by tokens (LangChain)",
                lambda: time_baseline(folder, tokens=True),
            ),
            "characters": (
                "baseline: read + split by characters",
                lambda: time_baseline(folder),
            ),
        }
        best: dict[str, float] = {}
        for key, (label, run) in runs.items():
            times = [t for t in (run() for _ in range(args.repeat)) if t is not None]
            if not times:
                continue
            best[key] = min(times)
            print(
                f"  {label:<46} {best[key]:7.2f} s {args.files / best[key]:8.0f} files/s  "
                f"load {os.getloadavg()[0]:.2f}"
            )
        now_s, fresh = best["now"], best.get("fresh")
        if "before" in best:
            print(f"import now vs before: {best['before'] / now_s:.2f}x faster (target 3x)")
            if fresh is not None:
                print(
                    f"import now in a fresh process vs before: {best['before'] / fresh:.2f}x "
                    "faster (the first import of a `ragtune import`: its reading server starts)"
                )
        if "command before" in best and "command now" in best:
            print(
                f"`ragtune import` (the whole command) now vs before: "
                f"{best['command before'] / best['command now']:.2f}x faster"
            )
        print(f"import now vs read on a thread: {best['thread'] / now_s:.2f}x faster")
        print(f"import now vs one-at-a-time: {best['old shape'] / now_s:.2f}x faster")
        print(f"import now vs batched without read-ahead: {best['inline'] / now_s:.2f}x faster")
        print(
            f"the full-text index's catch-up after the import (SQLite FTS5, stemmed) adds "
            f"{best['full text'] / now_s - 1:.0%} to it"
        )
        print(
            f"import now vs the LangChain-style token split: {best['langchain'] / now_s:.2f}x "
            "(above 1: the import is faster)"
        )
        with_index = best["langchain"] / best["full text"]
        print(f"  ... with the full-text index's catch-up: {with_index:.2f}x")
        if fresh is not None:
            print(f"  ... in a fresh process: {best['langchain'] / fresh:.2f}x")
        print(f"import now vs the character split: {best['characters'] / now_s:.2f}x")
        print(
            "issue 16's figures (quiet machine): 610 files/s before, 1.88x slower than a "
            "LangChain read-and-split"
        )


if __name__ == "__main__":
    main()
