"""Start-up as a user feels it, next to a bare 4-tab PySide6 window measured the same way in
the same run: first paint, window usable (the shown tab built), idle (start-up work over),
and the longest GUI-thread stall from launch to idle (a 5 ms heartbeat's longest gap).
Then the longest stall while the window works: importing 1,000 files, streaming an answer,
and drawing a table of 10,000 rows.

    .venv/bin/python tests/benchmarks/bench_gui.py [--runs 7] [--skip-work]

Offscreen; each start-up figure is the median of --runs after one unmeasured warm-up run.
Issue figures: usable ≤ 2.5× the bare window; longest stall launch → idle ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BARE = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QTabWidget

state = {"last": time.perf_counter(), "stall": 0.0, "painted": False}
app = QApplication(sys.argv[:1])
window = QMainWindow()
tabs = QTabWidget()
for name in ("Library", "Chat", "Fine-tuning", "Decide"):
    tabs.addTab(QLabel(f"the {name} tab"), name)
window.setCentralWidget(tabs)
window.resize(1200, 800)


class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and not state["painted"]:
            state["painted"] = True
            print(f"first-paint {time.time():.6f}", flush=True)
            print(f"usable {time.time():.6f}", flush=True)
        return False


def beat():
    now = time.perf_counter()
    state["stall"] = max(state["stall"], now - state["last"])
    state["last"] = now
    if state["painted"]:
        print(f"idle {time.time():.6f} stall_ms {state['stall'] * 1000:.1f}", flush=True)
        app.exit(0)


heartbeat = QTimer()
heartbeat.setInterval(5)
heartbeat.timeout.connect(beat)
heartbeat.start()
reporter = FirstPaint()
window.installEventFilter(reporter)
window.show()
sys.exit(app.exec())
"""


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def launch(command: list[str], env: dict[str, str]) -> dict[str, float]:
    started = time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    marks: dict[str, float] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in ("first-paint", "usable", "idle"):
            marks[parts[0]] = float(parts[1]) - started
            if parts[0] == "idle":
                marks["stall_ms"] = float(parts[3])
    if "idle" not in marks:
        raise RuntimeError(
            f"{command} did not report idle (exit code {done.returncode}):\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return marks


def startup(runs: int) -> None:
    # Installed Python code has its bytecode compiled (pip and the bundle do it); a shell
    # with PYTHONDONTWRITEBYTECODE would make every start compile every module.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME")
    }
    env["QT_QPA_PLATFORM"] = "offscreen"
    data = tempfile.mkdtemp(prefix="bench-gui-")
    app = [sys.executable, "-X", "faulthandler", "-m", "desktop", "--data-dir", data]
    app_env = {**env, "RAGTUNE_REPORT_STARTUP": "1", "RAGTUNE_QUIT_IDLE": "1"}
    bare = [sys.executable, "-c", BARE]
    for command, environment in ((bare, env), (app, app_env)):
        launch(command, environment)  # warm-up: file cache, data folder
    results: dict[str, list[dict[str, float]]] = {"bare": [], "app": []}
    for _ in range(runs):
        results["bare"].append(launch(bare, env))
        results["app"].append(launch(app, app_env))
    print(f"Start-up, offscreen, median of {runs} (load average {load()})")
    print(f"{'':24}{'bare 4-tab':>12}{'RAGTune':>12}{'ratio':>8}")
    for key, label in (
        ("first-paint", "first paint (s)"),
        ("usable", "window usable (s)"),
        ("idle", "start-up work over (s)"),
        ("stall_ms", "longest stall (ms)"),
    ):
        a = statistics.median(r[key] for r in results["bare"])
        b = statistics.median(r[key] for r in results["app"])
        print(f"{label:24}{a:>12.3f}{b:>12.3f}{b / a if a else float('nan'):>7.2f}×")
    worst = max(r["stall_ms"] for r in results["app"])
    print(f"RAGTune's worst stall over the runs: {worst:.1f} ms (target ≤ 50 ms)")


def work() -> None:
    """Stalls while the window does heavy work (in-process, offscreen)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from desktop.context import AppContext
    from desktop.ui.library.library_tab import LibraryTab
    from desktop.workers import TaskManager
    from tests.helpers.responsiveness import Heartbeat

    app = QApplication.instance() or QApplication([])
    data = Path(tempfile.mkdtemp(prefix="bench-gui-work-"))
    context = AppContext.create(data_dir=str(data / "data"))
    context.save_settings(context.settings.replace(auto_index=False))
    tasks = TaskManager(app)
    tab = LibraryTab(context, tasks, lambda title, error: print(title, error.message))
    tab.resize(1300, 800)
    tab.show()
    folder = data / "files"
    folder.mkdir()
    for i in range(1000):
        (folder / f"note-{i:04}.md").write_text(
            f"# Note {i}\n\nThe appliance number {i} syncs files. " * 5, encoding="utf-8"
        )
    with Heartbeat(5) as heartbeat:
        tab.import_paths([folder])
        while tab._import_worker is not None or tasks.running:
            app.processEvents()
            time.sleep(0.002)
    print(
        f"Import of 1,000 files in the Library tab: longest stall "
        f"{heartbeat.longest_stall_ms} ms (load average {load()})"
    )
    tasks.shutdown()
    context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-work", action="store_true")
    args = parser.parse_args()
    startup(args.runs)
    if not args.skip_work:
        work()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
