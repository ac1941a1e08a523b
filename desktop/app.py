"""Starting the window: QApplication, logging, the exception hook, the main window; heavy
imports wait until after the first paint."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time

from desktop import APP_ID, APP_NAME, __version__

log = logging.getLogger(__name__)


def create_application(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_ID)
    from PySide6.QtGui import QIcon

    from desktop.resources import resource

    app.setWindowIcon(QIcon(str(resource("icons", "ragtune.svg"))))
    return app


def build_main_window(context, tasks):
    from PySide6.QtCore import QSettings

    from desktop.files import private_file
    from desktop.ui.main_window import MainWindow

    # Created 0600 first: QSettings keeps an existing file's permissions when it saves.
    state_file = private_file(context.paths.window_state_file, create=True)
    window_state = QSettings(str(state_file), QSettings.Format.IniFormat)
    return MainWindow(context, tasks, window_state, tab_factories=tab_factories(context, tasks))


def tab_factories(context, tasks):
    """Each tab's module (imported on a worker after the first paint) and how it is built
    (on the GUI thread, when first shown). Tabs reach each other through ``window.tab``,
    which builds a tab the first time it is needed, so no tab depends on the build order."""
    from desktop.ui.main_window import TabSpec

    def library(window):
        from desktop.ui.library.library_tab import LibraryTab

        return LibraryTab(context, tasks, window.report_task_error)

    def chat(window):
        from desktop.ui.chat.chat_tab import ChatTab

        tab = ChatTab(context, tasks, context.retrieval(), window.report_task_error)
        tab.open_chunk.connect(window.show_chunk_in_library)
        tab.open_settings.connect(window.open_settings)
        tab.save_example.connect(
            lambda q, a, s, c: window.tab("Fine-tuning").add_example_from_chat(
                q, a, system_prompt=s, sources=c
            )
        )
        tab.view.save_eval_requested.connect(
            lambda card: window.tab("Evaluate").add_question_from_chat(
                card.question, card.text, card.data.get("sources") or ()
            )
        )
        return tab

    def decide(window):
        from desktop.ui.decision.decide_tab import DecideTab

        return DecideTab(context, tasks, window.report_task_error)

    def finetune(window):
        from desktop.ui.finetune.finetune_tab import FineTuningTab

        tab = FineTuningTab(context, tasks, window.report_task_error)
        tab.show_requested.connect(lambda: window.select_tab("Fine-tuning"))

        def use_in_chat(model: str) -> None:
            window.select_tab("Chat")
            window.tab("Chat").use_model(model)

        def compare_in_chat(model: str) -> None:
            use_in_chat(model)
            window.tab("Chat").compare()

        tab.use_model.connect(use_in_chat)
        tab.compare_model.connect(compare_in_chat)
        tab.builder.hold_out_requested.connect(lambda name: window.tab("Evaluate").hold_out(name))
        return tab

    def evaluate(window):
        from desktop.ui.evaluation.evaluate_tab import EvaluateTab

        tab = EvaluateTab(context, tasks, window.report_task_error)
        tab.show_requested.connect(lambda: window.select_tab("Evaluate"))
        return tab

    def open_workspace() -> None:
        """Opening (and on first use, creating and migrating) the workspace touches the
        disk: done on the worker, before any tab needs it."""
        context.retrieval()

    return {
        "Library": TabSpec(
            "desktop.ui.library.library_tab", library, open_workspace, built_without_prepare=True
        ),
        "Chat": TabSpec("desktop.ui.chat.chat_tab", chat, open_workspace),
        "Fine-tuning": TabSpec("desktop.ui.finetune.finetune_tab", finetune, open_workspace),
        "Evaluate": TabSpec("desktop.ui.evaluation.evaluate_tab", evaluate, open_workspace),
        "Decide": TabSpec("desktop.ui.decision.decide_tab", decide, open_workspace),
    }


def _report_startup(window, tasks, *, quit_when_idle: bool) -> None:
    """For tests/benchmarks/bench_gui.py: when the shown tab is built ("usable") and when
    start-up work is over ("idle"), with the longest gap of a 5 ms GUI-thread heartbeat
    from here to idle (the longest stall the user could have felt)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    state = {"last": time.perf_counter(), "stall": 0.0, "usable": False}

    started = state["last"]

    def beat() -> None:
        now = time.perf_counter()
        gap = now - state["last"]
        if gap > 0.03:  # where the time went, for whoever reads the report
            phase = "after the shown tab was built" if state["usable"] else "before usable"
            print(
                f"gap {gap * 1000:.0f} ms ending {(now - started) * 1000:.0f} ms after "
                f"start-up reporting began, {phase}",
                flush=True,
            )
        state["stall"] = max(state["stall"], gap)
        state["last"] = now
        if state["usable"] and not tasks.running:
            heartbeat.stop()
            print(f"idle {time.time():.6f} stall_ms {state['stall'] * 1000:.1f}", flush=True)
            if quit_when_idle:
                QApplication.exit(0)

    def built(name: str) -> None:
        if not state["usable"] and name == window.tabs.tabText(window.tabs.currentIndex()):
            state["usable"] = True
            print(f"usable {time.time():.6f}", flush=True)

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    window.tab_built.connect(built)
    window.first_painted.connect(lambda: print(f"first-paint {time.time():.6f}", flush=True))
    window._startup_heartbeat = heartbeat  # lives as long as the window


def _screenshot_and_quit(window, path: str) -> None:
    from PySide6.QtWidgets import QApplication

    saved = window.grab().save(path)
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    print(
        f"window: {window.windowTitle()}; tabs: {', '.join(tabs)}; "
        f"current: {window.tabs.tabText(window.tabs.currentIndex())}; "
        f"platform: {QApplication.platformName()}; screenshot: {path if saved else 'FAILED'}"
    )
    window.close()
    QApplication.exit(0 if saved else 1)


def open_window_briefly(data_dir: str) -> str:
    """For --selftest: the main window opens, paints and closes; what it showed."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.context import AppContext
    from desktop.workers import TaskManager

    app = create_application()
    context = AppContext.create(data_dir=data_dir)
    tasks = TaskManager(app)
    window = build_main_window(context, tasks)
    window.show()
    QTimer.singleShot(200, QApplication.quit)
    app.exec()
    tabs = window.tabs.count()
    # Every tab builds, and a chart draws: what a bundle missing a module would fail at.
    window.build_pending_tabs()
    from desktop.ui.evaluation.charts import BarChart

    chart = BarChart()
    chart.show_values("hit@1", ["base", "RAG"], [0.25, 0.75])
    chart.resize(320, 240)
    drawn = not chart.grab().isNull()
    chart.deleteLater()
    window.close()
    tasks.shutdown()
    context.close()
    built = sum(window.is_built(window.tabs.tabText(i)) for i in range(tabs))
    return (
        f"window with {tabs} tabs, {built} built{', a chart drawn' if drawn else ''} "
        f"({QApplication.platformName()})"
    )


def run_app(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer

    from desktop.context import AppContext
    from desktop.logs import setup_logging
    from desktop.ui.common.exception_dialog import install_excepthook
    from desktop.workers import STARTUP_QUEUE, TaskManager

    context = AppContext.create(data_dir=args.data_dir, workspace=args.workspace)
    log_path = setup_logging(context.paths.log_dir)
    log.info("RAGTune %s starting; log at %s", __version__, log_path)
    app = create_application()
    install_excepthook()
    tasks = TaskManager(app)
    try:
        window = build_main_window(context, tasks)
    except Exception as exc:
        from desktop.errors import user_message

        print(f"ragtune: error: {user_message(exc)}", file=sys.stderr)
        return 1
    if args.tab:
        window.select_tab(args.tab)
    if os.environ.get("RAGTUNE_REPORT_FIRST_PAINT"):
        # packaging/measure.py times start-up with this, the same way for a bare Qt
        # window, the source checkout and the bundle.
        window.first_painted.connect(
            lambda: (
                print(f"first-paint {time.time():.6f}", flush=True)
                if sys.stdout is not None  # None in a windowed Windows build
                else None
            )
        )
    if os.environ.get("RAGTUNE_REPORT_STARTUP"):
        _report_startup(window, tasks, quit_when_idle=bool(os.environ.get("RAGTUNE_QUIT_IDLE")))
    window.show()
    if args.screenshot:
        QTimer.singleShot(500, lambda: _screenshot_and_quit(window, args.screenshot))
    else:
        from desktop.warmup import warm_up

        def after_first_paint() -> None:
            tasks.run(warm_up, context, title="Getting ready", queue=STARTUP_QUEUE)
            # What start-up created lives as long as the app: keep it out of the garbage
            # collector's full passes, which otherwise take ~0.1 s on the GUI thread.
            gc.freeze()

        window.first_painted.connect(after_first_paint)
    code = app.exec()
    tasks.shutdown()
    context.close()
    return int(code)
