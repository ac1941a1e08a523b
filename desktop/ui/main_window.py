"""The one main window: its tabs, a menu bar, a status bar that shows background work."""

from __future__ import annotations

import importlib
import logging
import platform
import threading
from collections.abc import Callable
from dataclasses import dataclass

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal, qVersion
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import APP_NAME, __version__
from desktop.context import AppContext
from desktop.progress import Progress
from desktop.ui.common.empty_state import EmptyState
from desktop.ui.common.message_bar import MessageBar
from desktop.ui.common.qt_types import create_widget_types
from desktop.ui.common.task_status import TaskStatusWidget
from desktop.workers import STARTUP_QUEUE, TaskError, TaskManager

log = logging.getLogger(__name__)

TAB_NAMES = ("Library", "Chat", "Fine-tuning", "Evaluate", "Decide")

# Said plainly until each tab's own issue lands: a tab that cannot do its job yet does not
# pretend to.
_NOT_BUILT = {
    "Library": "Importing documents and the chunk inspector are not built yet.",
    "Chat": "Grounded chat with retrieved sources is not built yet. It needs the Library "
    "and the retrieval index first.",
    "Fine-tuning": "The dataset builder and the job tracker are not built yet.",
    "Evaluate": "Eval sets and runs could not be built.",
    "Decide": "The RAG-vs-fine-tuning checklist could not be built.",
}


@dataclass(frozen=True)
class TabSpec:
    """A tab: the module its widgets live in, what can be made ready off the GUI thread
    (opening the workspace, front doors), and how to build it."""

    module: str
    build: Callable[[MainWindow], QWidget]
    prepare: Callable[[], object] | None = None
    built_without_prepare: bool = False
    """The build itself needs nothing ``prepare`` makes (only the tab's first reads, on
    workers, do): a tab shown at start-up is then built before it is prepared."""


class MainWindow(QMainWindow):
    first_painted = Signal()
    tab_built = Signal(str)  # a tab's name, once its widgets exist

    def __init__(
        self,
        context: AppContext,
        tasks: TaskManager,
        window_state: QSettings,
        *,
        tab_factories: dict[str, TabSpec] | None = None,
    ) -> None:
        super().__init__()
        self.context = context
        self.tasks = tasks
        self.window_state = window_state
        self.setWindowTitle(APP_NAME)
        self.resize(1200, 800)

        self.message_bar = MessageBar()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        # The window paints before any tab's module (numpy, parsers) is imported: the
        # modules are imported on a worker after the first paint, then the tab on screen is
        # built; the others are built the first time they are shown or needed.
        self._specs: dict[str, TabSpec] = {}
        self._containers: dict[str, QWidget] = {}
        self._built: dict[str, QWidget] = {}
        self._imported: set[str] = set()
        for name in TAB_NAMES:
            spec = (tab_factories or {}).get(name)
            if spec is None:
                widget: QWidget = EmptyState(name, _NOT_BUILT[name])
            else:
                # A tab larger than the screen scrolls inside the window instead of making
                # the window larger than the screen (small and scaled displays).
                widget = QScrollArea()
                widget.setWidgetResizable(True)
                widget.setFrameShape(QFrame.Shape.NoFrame)
                self._specs[name] = spec
                self._containers[name] = widget
            widget.setObjectName(f"tab-{name}")
            self.tabs.addTab(widget, name)
        self.installEventFilter(self)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.task_status = TaskStatusWidget(tasks)
        self.workspace_label = QLabel(f"Workspace: {context.workspace_name}")
        # Both permanent: a passing message ("Settings saved") takes the left side of the
        # bar and never covers them.
        self.statusBar().addPermanentWidget(self.task_status, 1)
        self.statusBar().addPermanentWidget(self.workspace_label)

        self._build_menus()
        self._restore_state()
        self._tab_menu_action: QAction | None = None
        self.tabs.currentChanged.connect(self._tab_changed)
        self.tab_built.connect(lambda _name: self._show_tab_menu())
        tasks.task_finished.connect(self._report_task_outcome)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self and event.type() == QEvent.Type.Paint:
            self.removeEventFilter(self)
            # Queued first: what runs after it on the start-up queue (the app's warm-up)
            # waits, so the tabs' imports do not share the GIL with it.
            self._import_tab_modules()
            self.first_painted.emit()
        return False

    # -- tabs, built when first needed -------------------------------------------------------

    def tab(self, name: str) -> QWidget:
        """The tab's widget, built now if it was not yet (its module imported here if the
        worker has not done it: the user asked for this tab, so it is worth the wait)."""
        built = self._built.get(name)
        if built is None:
            spec = self._specs[name]
            container = self._containers[name]
            assert isinstance(container, QScrollArea)
            # Built on screen: the work it starts waits for its first paint (a click on
            # the tab is answered at once, its data a moment later).
            on_screen = self.isVisible() and self.tabs.currentWidget() is container
            if on_screen:
                self.tasks.hold()
            try:
                built = spec.build(self)
            except BaseException:
                if on_screen:
                    self.tasks.release()  # no paint of it will come
                raise
            self._built[name] = built
            container.setWidget(built)
            if on_screen:
                when_painted(built, self.tasks.release)
            self.tab_built.emit(name)
        return built

    def _show_tab_menu(self) -> None:
        """The current tab's own menu (its commands and their shortcuts) sits in the menu
        bar before Help while the tab is shown."""
        name = self.tabs.tabText(self.tabs.currentIndex())
        tab = self._built.get(name)
        menu = tab.menu() if tab is not None and hasattr(tab, "menu") else None
        if self._tab_menu_action is not None:
            self.menuBar().removeAction(self._tab_menu_action)
            self._tab_menu_action = None
        if menu is not None:
            self._tab_menu_action = self.menuBar().insertMenu(self.help_menu.menuAction(), menu)

    def show_shortcuts(self) -> None:
        from desktop.ui.common.shortcuts_sheet import ShortcutsSheet

        self.build_pending_tabs()  # every tab's commands are listed, shown or not
        menus = [a.menu() for a in self.menuBar().actions() if a.menu() is not None]
        for name in self._specs:
            tab = self._built[name]
            if hasattr(tab, "menu") and tab.menu() not in menus:
                menus.append(tab.menu())
        sheet = ShortcutsSheet(menus, self)
        sheet.open()
        self._shortcuts_sheet = sheet

    def is_built(self, name: str) -> bool:
        return name in self._built

    def build_pending_tabs(self) -> None:
        """Every tab now (screenshots, the selftest, tests that drive several tabs)."""
        for name in self._specs:
            self.tab(name)

    # The tabs by name, for the window's own wiring and for tests.
    @property
    def library_tab(self):
        return self.tab("Library")

    @property
    def chat_tab(self):
        return self.tab("Chat")

    @property
    def finetune_tab(self):
        return self.tab("Fine-tuning")

    @property
    def decide_tab(self):
        return self.tab("Decide")

    def _import_tab_modules(self) -> None:
        """On a worker, the shown tab's module first; each tab is built on the GUI thread
        once its module is in (the shown one at once, the others when shown)."""
        if not self._specs:
            return
        current = self.tabs.tabText(self.tabs.currentIndex())
        order = sorted(self._specs, key=lambda name: name != current)
        modules = [(name, self._specs[name].module) for name in order]

        specs = {name: self._specs[name] for name in order}
        shown_built = self._shown_tab_built = threading.Event()

        def run():
            create_widget_types()
            for done, (name, module) in enumerate(modules, start=1):
                importlib.import_module(module)
                prepare = specs[name].prepare
                if done == 1 and prepare is not None and not specs[name].built_without_prepare:
                    prepare()  # what the shown tab's build needs: not on the GUI thread
                    prepare = None
                yield Progress(done, len(modules), name)  # the tab can be built now
                if done == 1:
                    # The GUI thread builds the shown tab now: importing the next modules
                    # meanwhile would take the GIL from it half the time (a 30 ms build
                    # felt as a 60 ms stall), so wait for it (never more than a second).
                    shown_built.wait(1.0)
                if prepare is not None:
                    prepare()  # meanwhile: what its first reads will need

        worker = self.tasks.run(run, title="Getting ready", queue=STARTUP_QUEUE)
        worker.signals.progress.connect(self._tab_module_imported)

    def _tab_module_imported(self, step: object) -> None:
        if isinstance(step, Progress):
            self._imported.add(step.message)
            self._build_current_if_ready()
            if step.done == 1:  # once the shown tab is built and painted
                shown = self._built.get(self.tabs.tabText(self.tabs.currentIndex()))
                if shown is not None and self.isVisible():
                    when_painted(shown, self._shown_tab_built.set)
                else:
                    self._shown_tab_built.set()

    def _build_current_if_ready(self) -> None:
        name = self.tabs.tabText(self.tabs.currentIndex())
        if name in self._specs and name in self._imported:
            self.tab(name)

    def _tab_changed(self, _index: int) -> None:
        """Shown for the first time: built now (before the first paint's imports began,
        the worker builds it when its module is in)."""
        name = self.tabs.tabText(self.tabs.currentIndex())
        if name in self._specs and (self._imported or self.is_built(name)):
            self.tab(name)
        self._show_tab_menu()

    # -- menus and shortcuts -------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)

        view_menu = self.menuBar().addMenu("&View")
        self.tab_actions: list[QAction] = []
        for index, name in enumerate(TAB_NAMES):
            action = QAction(name, self)
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            action.triggered.connect(lambda _=False, i=index: self.tabs.setCurrentIndex(i))
            view_menu.addAction(action)
            self.tab_actions.append(action)

        help_menu = self.menuBar().addMenu("&Help")
        self.help_menu = help_menu
        self.shortcuts_action = QAction("&Keyboard shortcuts", self)
        self.shortcuts_action.setShortcuts(
            [QKeySequence(QKeySequence.StandardKey.HelpContents), QKeySequence("Ctrl+/")]
        )
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)
        self.about_action = QAction(f"&About {APP_NAME}", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def about_text(self) -> str:
        import numpy

        return (
            f"<h3>{APP_NAME} {__version__}</h3>"
            "<p>Give an LLM knowledge of your domain, and see with evidence whether "
            "retrieval (RAG), fine-tuning, or both is the right tool.</p>"
            f"<p>Python {platform.python_version()} · Qt {qVersion()} · "
            f"PySide6 {pyside_version} · NumPy {numpy.__version__}<br>"
            f"{platform.platform()}</p>"
            f"<p>Data: {self.context.paths.data_dir}<br>Logs: {self.context.paths.log_dir}</p>"
        )

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle(f"About {APP_NAME}")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()

    def open_settings(self) -> None:
        from desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.context, self.tasks, self)
        dialog.settings_saved.connect(self._settings_saved)
        dialog.open()
        self._settings_dialog = dialog  # keep a reference for tests and for Qt

    def _settings_saved(self) -> None:
        self.statusBar().showMessage("Settings saved", 4000)

    def show_chunk_in_library(self, document_id: int, start: int, end: int) -> None:
        self.select_tab("Library")
        self.tab("Library").show_chunk(document_id, start, end)

    def select_tab(self, name: str) -> bool:
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index).lower() == name.lower():
                self.tabs.setCurrentIndex(index)
                return True
        return False

    # -- errors from background work -------------------------------------------------------

    def show_error(self, message: str, details: str = "") -> None:
        self.message_bar.show_message(message, level="error", details=details)

    def report_task_error(self, title: str, error: TaskError) -> None:
        from desktop.errors import user_message

        self.show_error(f"{title} failed: {user_message(error.exception)}", error.details)

    def _report_task_outcome(self, worker: object) -> None:
        """Task failures are handled by whoever started the task; this only notes in the
        status bar that something finished, so a finished task is visible."""
        title = getattr(worker, "title", "Task")
        if getattr(worker, "is_cancelled", False):
            self.statusBar().showMessage(f"{title}: cancelled", 4000)

    # -- state ------------------------------------------------------------------------------

    def _restore_state(self) -> None:
        geometry = self.window_state.value("main/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.window_state.value("main/state")
        if state is not None:
            self.restoreState(state)
        tab = self.window_state.value("main/tab", 0)
        try:
            self.tabs.setCurrentIndex(int(tab))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.tabs.setCurrentIndex(0)

    def save_state(self) -> None:
        self.window_state.setValue("main/geometry", self.saveGeometry())
        self.window_state.setValue("main/state", self.saveState())
        self.window_state.setValue("main/tab", self.tabs.currentIndex())
        self.window_state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        running = self.tasks.running
        if running:
            self.statusBar().showMessage(f"Stopping {len(running)} background task(s)…")
            log.info("Quitting with %d running task(s): cancelling and waiting", len(running))
        self.tasks.shutdown()
        event.accept()
        QTimer.singleShot(0, self._after_close)

    def _after_close(self) -> None:
        self.context.close()


class _FirstPaint(QObject):
    """Runs a callback once ``widget`` has painted (after the rest of that paint), or
    after ``FIRST_PAINT_WAIT_MS`` if it does not (a window covered or minimized), or as
    soon as the widget is gone. It belongs to the widget's window, not to the widget, so
    a widget deleted before it painted still has its callback run."""

    def __init__(self, widget: QWidget, callback: Callable[[], object]) -> None:
        super().__init__(widget.window())
        self._callback: Callable[[], object] | None = callback
        widget.installEventFilter(self)
        widget.destroyed.connect(self._done)
        QTimer.singleShot(FIRST_PAINT_WAIT_MS, self, self._done)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._callback is not None:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._done)
        return False

    def _done(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()
            self.deleteLater()  # its event filter goes with it


FIRST_PAINT_WAIT_MS = 500


def when_painted(widget: QWidget, callback: Callable[[], object]) -> None:
    """``callback()`` once ``widget`` has painted, or at the latest after half a second."""
    _FirstPaint(widget, callback)
