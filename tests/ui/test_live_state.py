"""A change made in one tab reaches every tab that shows it, without a restart (the
domain events relayed on the GUI thread)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.app import tab_factories
from desktop.context import AppContext
from desktop.ui.main_window import MainWindow
from desktop.workers import TaskManager


@pytest.fixture
def window(qtbot: QtBot, app_context: AppContext, tasks: TaskManager) -> MainWindow:
    app_context.save_settings(app_context.settings.replace(retrieval_embedder="local"))
    state = QSettings(str(app_context.paths.config_dir / "window.ini"), QSettings.Format.IniFormat)
    built = MainWindow(app_context, tasks, state, tab_factories=tab_factories(app_context, tasks))
    qtbot.addWidget(built)
    built.build_pending_tabs()
    return built


def _docs(tmp_path: Path, names: dict[str, str]) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    for name, text in names.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _idle(qtbot: QtBot, tasks: TaskManager) -> None:
    qtbot.waitUntil(lambda: not tasks.running, timeout=60_000)


def test_an_import_in_the_library_reaches_the_retrieval_panel_and_indexing_there_reaches_back(
    qtbot: QtBot, window: MainWindow, tasks: TaskManager, tmp_path: Path
) -> None:
    library, panel = window.library_tab, window.chat_tab.retrieval_panel
    _idle(qtbot, tasks)
    assert "Nothing to index yet" in panel.index_bar.label.text()
    assert not panel.index_bar.index_button.isEnabled()

    library.import_paths([_docs(tmp_path, {"ports.md": "# Network\n\nThe Hub uses port 47120."})])
    qtbot.waitUntil(
        lambda: "0 of 1 chunks embedded" in panel.index_bar.label.text(), timeout=20_000
    )
    assert panel.index_bar.index_button.isEnabled()
    qtbot.waitUntil(
        lambda: "0 of 1 chunks embedded" in library.index_bar.label.text(), timeout=20_000
    )
    # The new document can be chosen as a filter.
    qtbot.waitUntil(lambda: panel.document_filter.findText("Network") >= 0, timeout=10_000)

    library.index_bar.index()
    qtbot.waitUntil(lambda: "search is ready" in panel.index_bar.label.text(), timeout=60_000)
    # The bar that indexes says so once its run has also updated the vector file (the
    # other bar may read the finished embeddings a moment before).
    qtbot.waitUntil(
        lambda: "1 of 1 chunks embedded" in library.index_bar.label.text(), timeout=20_000
    )
    assert "1 embedded" in library.totals_label.text()
    assert not panel.index_bar.index_button.isEnabled()

    # One more document later: both bars say so, and a search finds it once indexed.
    (tmp_path / "docs" / "refunds.md").write_text("# Refunds\n\nMoney back within 14 days.")
    library.import_paths([tmp_path / "docs"])
    qtbot.waitUntil(
        lambda: "1 of 2 chunks embedded" in panel.index_bar.label.text(), timeout=20_000
    )
    panel.index_bar.index()
    qtbot.waitUntil(lambda: "2 of 2" in library.index_bar.label.text(), timeout=60_000)
    panel.query.setText("when is my money returned")
    panel.mode.setCurrentIndex(panel.mode.findData("vector"))
    with qtbot.waitSignal(panel.searched, timeout=30_000):
        panel.search()
    assert panel.last_result is not None
    assert panel.last_result.results[0].document == "Refunds"


def test_deleting_a_document_updates_the_index_state_elsewhere(
    qtbot: QtBot, window: MainWindow, tasks: TaskManager, tmp_path: Path
) -> None:
    library, panel = window.library_tab, window.chat_tab.retrieval_panel
    library.confirm = lambda *_: True
    library.import_paths([_docs(tmp_path, {"a.md": "# A\n\nAlpha.", "b.md": "# B\n\nBeta."})])
    qtbot.waitUntil(lambda: "0 of 2 chunks" in panel.index_bar.label.text(), timeout=20_000)
    qtbot.waitUntil(lambda: library.model.rowCount() == 2, timeout=10_000)
    assert library.select_document(library.model.item(0).id)
    library.delete_selected()
    qtbot.waitUntil(lambda: "0 of 1 chunks" in panel.index_bar.label.text(), timeout=20_000)
    qtbot.waitUntil(lambda: panel.document_filter.count() == 2, timeout=10_000)  # all + one


def test_a_free_embedder_indexes_right_after_an_import(
    qtbot: QtBot, window: MainWindow, tasks: TaskManager, tmp_path: Path, app_context: AppContext
) -> None:
    app_context.save_settings(app_context.settings.replace(auto_index=True))
    library = window.library_tab
    library.import_paths([_docs(tmp_path, {"ports.md": "# Network\n\nPort 47120."})])
    qtbot.waitUntil(
        lambda: "1 of 1 chunks embedded" in library.index_bar.label.text(), timeout=60_000
    )


def test_a_paid_embedder_is_never_run_without_asking(
    qtbot: QtBot, window: MainWindow, tasks: TaskManager, tmp_path: Path, app_context: AppContext
) -> None:
    asked: list[str] = []
    library = window.library_tab
    app_context.save_settings(app_context.settings.replace(auto_index=True))
    _idle(qtbot, tasks)
    paid = [i for i, c in enumerate(library.index_bar._choices) if c.paid]
    library.index_bar.embedder.setCurrentIndex(paid[0])
    library.index_bar.confirm = lambda title, text: asked.append(text) or False
    library.import_paths([_docs(tmp_path, {"ports.md": "# Network\n\nPort 47120."})])
    qtbot.waitUntil(
        lambda: "0 of 1 chunks embedded" in library.index_bar.label.text(), timeout=20_000
    )
    _idle(qtbot, tasks)
    assert asked == []  # not even a question: a paid run starts only from the button
    qtbot.waitUntil(
        lambda: "0 of 1 chunks embedded" in library.index_bar.label.text(), timeout=20_000
    )


def test_settings_saved_elsewhere_reach_the_retrieval_panel(
    qtbot: QtBot, window: MainWindow, tasks: TaskManager, app_context: AppContext
) -> None:
    panel = window.chat_tab.retrieval_panel
    _idle(qtbot, tasks)
    app_context.save_settings(app_context.settings.replace(search_k=9, search_mode="lexical"))
    qtbot.waitUntil(lambda: panel.k.value() == 9, timeout=5_000)
    assert panel.mode.currentData() == "lexical"


def test_an_eval_set_made_elsewhere_reaches_the_evaluate_and_decide_tabs_and_the_builder(
    qtbot: QtBot, window: MainWindow, tasks: TaskManager, app_context: AppContext
) -> None:
    from desktop.evaluation.edits import AddQuestions
    from desktop.evaluation.records import EvalQuestion
    from desktop.finetune.edits import AddExamples
    from desktop.finetune.examples import Message, TrainingExample

    finetune = app_context.finetune()
    dataset = finetune.create_dataset("Replies")
    question = "Which TCP port does the Hub listen on?"
    finetune.apply(
        AddExamples(
            dataset.id,
            [TrainingExample((Message("user", question), Message("assistant", "47120")))],
        )
    )
    finetune.close()
    window.show()
    window.select_tab("Decide")
    decide = window.decide_tab
    qtbot.waitUntil(lambda: decide.evidence is not None and not decide.busy, timeout=30_000)
    assert decide.evidence.evaluation.sets == 0
    window.select_tab("Fine-tuning")
    builder = window.finetune_tab.builder
    builder.reload()  # the dataset was made before the builder was shown
    qtbot.waitUntil(lambda: builder.analysis is not None and not builder.busy, timeout=30_000)
    assert not any(i.category == "leakage" for found in builder.analysis.issues for i in found)
    # As ragtune eval import or the Evaluate tab would: through the evaluation's front door.
    app_context.evaluation().apply(
        AddQuestions(None, [EvalQuestion(question, "47120")], create_name="Support")
    )
    evaluate = window.tab("Evaluate")
    qtbot.waitUntil(
        lambda: evaluate.eval_set is not None and evaluate.eval_set.name == "Support",
        timeout=20_000,
    )
    qtbot.waitUntil(
        lambda: (
            builder.analysis is not None
            and any(i.category == "leakage" for found in builder.analysis.issues for i in found)
        ),
        timeout=30_000,
    )
    window.select_tab("Decide")
    qtbot.waitUntil(
        lambda: decide.evidence is not None and decide.evidence.evaluation.sets == 1,
        timeout=30_000,
    )
