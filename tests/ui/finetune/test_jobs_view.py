"""The job tracker against the fake server: create, follow, fail, cancel, refuse,
restart offline, and a GUI that stays responsive while jobs are polled."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.finetune.examples import Message, TrainingExample
from desktop.finetune.jobs import next_poll_seconds
from desktop.finetune.store import DatasetStore
from desktop.progress import run_to_end
from desktop.settings import SettingsStore
from desktop.ui.finetune.finetune_tab import FineTuningTab
from desktop.ui.finetune.jobs_form import SpendDialog
from desktop.ui.finetune.jobs_view import JobsView
from desktop.workers import TaskManager
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.responsiveness import Heartbeat

POLL = 0.05  # seconds between syncs of an unfinished job in these tests
MODEL = "gpt-4.1-mini"


def screenshot(view: JobsView, name: str) -> None:
    """Saved only when RAGTUNE_SCREENSHOTS names a folder (for looking at the view)."""
    folder = os.environ.get("RAGTUNE_SCREENSHOTS")
    if folder:
        view.grab().save(str(Path(folder) / name))


def fast_poll(status: str, last_change: float | None) -> float | None:
    return None if next_poll_seconds(status, last_change) is None else POLL


def qa(number: int) -> TrainingExample:
    return TrainingExample(
        (
            Message("system", "Answer from the manual."),
            Message("user", f"What does error LFS-{4000 + number} mean?"),
            Message("assistant", f"Error LFS-{4000 + number} means shelf {number} is full."),
        ),
        split="validation" if number % 6 == 0 else "train",
    )


@pytest.fixture
def job_context(app_context: AppContext, fake_openai: FakeOpenAI) -> AppContext:
    settings = app_context.settings.replace(
        provider="custom", base_url=fake_openai.base_url, request_timeout=2.0
    )
    app_context.save_settings(settings)
    app_context.secrets.set(f"api-key:{fake_openai.base_url}", "sk-jobs-test")
    store = DatasetStore(app_context.workspace)
    dataset = store.create_dataset("Shelf errors", model=MODEL)
    store.add_examples(dataset.id, [qa(n) for n in range(1, 13)])
    return app_context


@pytest.fixture
def make_view(qtbot: QtBot, job_context: AppContext, tasks: TaskManager) -> Callable[[], JobsView]:
    def make() -> JobsView:
        view = JobsView(
            job_context.finetune(), tasks, lambda title, error: None, next_poll=fast_poll
        )
        view.confirm = lambda title, text: True
        view.confirm_spend = lambda estimate, cost: (True, None)
        qtbot.addWidget(view)
        view.resize(1400, 850)
        view.show()
        return view

    return make


def ready_to_create(qtbot: QtBot, view: JobsView) -> None:
    qtbot.waitUntil(lambda: view.form.dataset.count() == 1, timeout=5000)
    if view.form.model.currentText() != MODEL:
        view.form.model.setCurrentText(MODEL)
        view.creation.check_dataset()
    qtbot.waitUntil(view.form.create_button.isEnabled, timeout=10_000)


def job_requests(fake: FakeOpenAI, job_id: str) -> int:
    return len(fake.requests_to(f"/v1/fine_tuning/jobs/{job_id}"))


def test_a_job_is_created_followed_to_success_and_its_model_used(
    qtbot: QtBot, make_view: Callable[[], JobsView], fake_openai: FakeOpenAI
) -> None:
    view = make_view()
    ready_to_create(qtbot, view)
    assert "Ready: 10 training and 2 validation chat examples." in view.form.check.text()
    assert "billed tokens" in view.form.estimate.text()
    view.form.suffix.setText("shelves")
    view.creation.create()
    qtbot.waitUntil(lambda: len(fake_openai.job_ids) == 1, timeout=10_000)
    job_id = fake_openai.job_ids[0]
    uploads = fake_openai.requests_to("/v1/files", method="POST")
    assert len(uploads) == 2  # training and validation
    qtbot.waitUntil(lambda: view.detail.job is not None and view.detail.job.job_id == job_id)

    fake_openai.advance_job(job_id, "running")
    sent = [(1, 2.1, 2.3, 0.41), (2, 1.6, 1.9, 0.55), (3, 1.2, 1.5, 0.63), (4, 0.9, 1.3, 0.7)]
    for step, train, valid, accuracy in sent:
        fake_openai.add_metrics(
            job_id, step, train, valid_loss=valid, train_mean_token_accuracy=accuracy
        )
    checkpoints = [fake_openai.add_checkpoint(job_id, 2)]
    chart = view.detail.chart
    qtbot.waitUntil(lambda: len(chart.points("train_loss")) == 4, timeout=10_000)
    assert view.model.job(0).status == "running"
    checkpoints.append(fake_openai.add_checkpoint(job_id, 4))
    model_id = fake_openai.succeed_job(job_id, fine_tuned_model="ft:gpt-4.1-mini:acme:shelves:1")
    qtbot.waitUntil(
        lambda: view.detail.job is not None and view.detail.job.status == "succeeded",
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: view.detail.checkpoints.rowCount() == 2, timeout=5000)

    assert chart.points("train_loss") == [(s, t) for s, t, _v, _a in sent]
    assert chart.points("valid_loss") == [(s, v) for s, _t, v, _a in sent]
    assert chart.points("train_mean_token_accuracy") == [(s, a) for s, _t, _v, a in sent]
    shown = [view.detail.checkpoints.checkpoint(r) for r in range(2)]
    assert [(c.step, c.model) for c in shown] == [
        (c["step_number"], c["fine_tuned_model_checkpoint"]) for c in checkpoints
    ]
    assert view.detail.checkpoints.data(view.detail.checkpoints.index(0, 1)) == "1.6000"
    assert view.model.data(view.model.index(0, view.model.FINE_TUNED)) == model_id
    assert view.model.data(view.model.index(0, view.model.STATUS)) == "Succeeded"
    messages = [
        view.detail.events.job_event(r).message for r in range(view.detail.events.rowCount())
    ]
    assert messages[0] == "The job has successfully completed"  # newest first

    with qtbot.waitSignal(view.use_model) as used:
        view.detail.use_button.click()
    assert used.args == [model_id]
    with qtbot.waitSignal(view.compare_model) as compared:
        view.detail.compare_button.click()
    assert compared.args == [model_id]
    view.detail.checkpoint_table.selectionModel().select(
        view.detail.checkpoints.index(0, 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    with qtbot.waitSignal(view.use_model) as checkpoint_used:
        view.detail.use_checkpoint_button.click()
    assert checkpoint_used.args == [view.detail.checkpoints.checkpoint(0).model]
    view.detail.copy_button.click()
    assert QGuiApplication.clipboard().text() == model_id

    # Finished: no more polling.
    assert view.polled_jobs == []
    screenshot(view, "jobs_view_succeeded.png")


def test_a_failed_job_shows_its_error_in_full(
    qtbot: QtBot, make_view: Callable[[], JobsView], fake_openai: FakeOpenAI
) -> None:
    view = make_view()
    ready_to_create(qtbot, view)
    view.creation.create()
    qtbot.waitUntil(lambda: len(fake_openai.job_ids) == 1, timeout=10_000)
    job_id = fake_openai.job_ids[0]
    fake_openai.fail_job(
        job_id, "Training file has 3 examples with invalid roles.", code="invalid_training_file"
    )
    qtbot.waitUntil(lambda: view.detail.error.isVisible(), timeout=10_000)
    assert view.detail.error.text() == (
        "The job failed: Training file has 3 examples with invalid roles. "
        "(code invalid_training_file)"
    )
    assert view.detail.events.data(view.detail.events.index(0, 2)).startswith("Training file")
    assert view.polled_jobs == []
    screenshot(view, "jobs_view_failed.png")


def test_a_cancelled_job_stops_polling(
    qtbot: QtBot, make_view: Callable[[], JobsView], fake_openai: FakeOpenAI
) -> None:
    view = make_view()
    ready_to_create(qtbot, view)
    view.creation.create()
    qtbot.waitUntil(lambda: len(fake_openai.job_ids) == 1, timeout=10_000)
    job_id = fake_openai.job_ids[0]
    fake_openai.advance_job(job_id, "running")
    qtbot.waitUntil(lambda: view.detail.cancel_button.isEnabled(), timeout=10_000)
    polls_before = job_requests(fake_openai, job_id)
    qtbot.wait(int(POLL * 4000))
    assert job_requests(fake_openai, job_id) > polls_before  # it was being polled
    view.detail.cancel_button.click()
    qtbot.waitUntil(lambda: view.model.job(0).status == "cancelled", timeout=10_000)
    qtbot.waitUntil(lambda: not view.tasks.running, timeout=5000)
    after_cancel = job_requests(fake_openai, job_id)
    qtbot.wait(int(POLL * 6000))
    assert job_requests(fake_openai, job_id) == after_cancel
    assert view.polled_jobs == []
    assert "Cancelled" in view.detail.timeline.text()


def test_a_refused_job_shows_the_reason_and_offers_export(
    qtbot: QtBot, make_view: Callable[[], JobsView], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    reason = "Fine-tuning is no longer available to new customers."
    fake_openai.refuse_new_jobs = reason
    view = make_view()
    ready_to_create(qtbot, view)
    view.creation.create()
    qtbot.waitUntil(view.form.refusal.isVisible, timeout=10_000)
    assert reason in view.form.refusal.message.text()
    assert view.model.rowCount() == 0  # nothing recorded
    out = tmp_path / "export"
    out.mkdir()
    view.choose_export_folder = lambda: out
    view.form.refusal.export_button.click()
    qtbot.waitUntil(lambda: len(list(out.iterdir())) == 4, timeout=5000)
    # The names and files of the Export menu and of ``ragtune dataset export``.
    openai_lines = (out / "shelf-errors-train.jsonl").read_text().splitlines()
    plain_lines = (out / "shelf-errors-messages-train.jsonl").read_text().splitlines()
    assert len(openai_lines) == len(plain_lines) == 10
    assert json.loads(plain_lines[0])["messages"][2]["content"] == (
        "Error LFS-4001 means shelf 1 is full."
    )
    assert len((out / "shelf-errors-validation.jsonl").read_text().splitlines()) == 2
    screenshot(view, "jobs_view_refused.png")


def test_an_unusable_dataset_cannot_be_uploaded(
    qtbot: QtBot, make_view: Callable[[], JobsView], job_context: AppContext
) -> None:
    store = DatasetStore(job_context.workspace)
    broken = store.create_dataset("Broken", model=MODEL)
    store.add_examples(broken.id, [TrainingExample((Message("user", "No reply"),))] * 10)
    view = make_view()
    qtbot.waitUntil(lambda: view.form.dataset.count() == 2, timeout=5000)
    view.form.dataset.setCurrentIndex(view.form.dataset.findData(broken.id))
    qtbot.waitUntil(lambda: "Cannot upload" in view.form.check.text(), timeout=10_000)
    assert "error(s)" in view.form.check.text()
    assert not view.form.create_button.isEnabled()


def seed_jobs(context: AppContext, count: int) -> list[str]:
    """Jobs created through the domain, as another session would have."""
    service = context.finetune()
    try:
        plan = service.plan_job("Shelf errors", model=MODEL)
        return [run_to_end(service.create_job(plan)).job.job_id for _ in range(count)]
    finally:
        service.close()


def test_after_a_restart_with_the_server_down_the_records_still_show(
    qtbot: QtBot,
    make_view: Callable[[], JobsView],
    fake_openai: FakeOpenAI,
    job_context: AppContext,
) -> None:
    (job_id,) = seed_jobs(job_context, 1)
    fake_openai.advance_job(job_id, "running")
    for step, loss in ((1, 1.5), (2, 1.1), (3, 0.8)):
        fake_openai.add_metrics(job_id, step, loss)
    first = make_view()
    qtbot.waitUntil(lambda: len(first.detail.chart.points("train_loss")) == 3, timeout=10_000)
    events_seen = first.detail.events.rowCount()
    first.close()
    fake_openai.close()

    second = make_view()
    qtbot.waitUntil(lambda: second.detail.job is not None, timeout=5000)
    qtbot.waitUntil(lambda: "Could not reach" in second.status.text(), timeout=15_000)
    assert second.model.rowCount() == 1
    assert second.detail.chart.points("train_loss") == [(1, 1.5), (2, 1.1), (3, 0.8)]
    assert second.detail.events.rowCount() == events_seen
    assert second.model.job(0).status == "running"


def test_the_gui_stays_responsive_while_several_jobs_are_polled(
    qtbot: QtBot,
    make_view: Callable[[], JobsView],
    fake_openai: FakeOpenAI,
    job_context: AppContext,
) -> None:
    job_ids = seed_jobs(job_context, 4)
    for job_id in job_ids:
        fake_openai.advance_job(job_id, "running")
    view = make_view()
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=5000)
    # The earlier tests' garbage would otherwise be swept by a full collection (80 ms
    # measured) in the middle of this measurement; it is not this view's work.
    gc.collect()
    with Heartbeat() as heartbeat:
        for step in range(1, 16):
            for job_id in job_ids:
                fake_openai.add_metrics(job_id, step, 2.0 / step)
            qtbot.wait(60)
        qtbot.waitUntil(lambda: len(view.detail.chart.points("train_loss")) == 15, timeout=10_000)
    heartbeat.assert_kept_ticking()
    assert sorted(view.polled_jobs) == sorted(job_ids)
    assert all(job_requests(fake_openai, j) >= 5 for j in job_ids)
    screenshot(view, "jobs_view_running.png")


def test_a_paid_job_is_confirmed_with_its_estimate_before_anything_is_uploaded(
    qtbot: QtBot, fake_openai: FakeOpenAI, job_context: AppContext, tasks: TaskManager
) -> None:
    """It used to upload and create without a word about the cost."""
    tab = FineTuningTab(job_context, tasks, lambda title, error: None)
    qtbot.addWidget(tab)
    tab.views.setCurrentWidget(tab.jobs)
    tab.show()
    view = tab.jobs
    asked: list[tuple[str, float | None]] = []
    answers = iter([(False, None), (True, 50.0)])

    def confirm_spend(estimate: str, cost: float | None) -> tuple[bool, float | None]:
        asked.append((estimate, cost))
        return next(answers)

    view.confirm_spend = confirm_spend
    ready_to_create(qtbot, view)
    view.form.epochs.setText("2")
    view.creation.create()
    qtbot.waitUntil(lambda: view.form.check.text() == "Nothing was uploaded.", timeout=10_000)
    ((estimate, cost),) = asked
    assert cost is not None and 0 < cost < 50
    assert "billed tokens (2 epochs ×" in estimate and f"about ${cost:,.2f}" in estimate
    assert fake_openai.requests_to("/v1/files") == []

    view.creation.create()  # yes, and do not ask again for jobs under $50
    qtbot.waitUntil(lambda: len(fake_openai.job_ids) == 1, timeout=10_000)
    assert len(asked) == 2
    qtbot.waitUntil(
        lambda: (
            SettingsStore(job_context.paths.settings_file).load().confirm_spend_above_usd == 50.0
        ),
        timeout=5000,
    )
    qtbot.waitUntil(lambda: view.form.create_button.isEnabled(), timeout=10_000)
    view.creation.create()  # under $50 now: not asked
    qtbot.waitUntil(lambda: len(fake_openai.job_ids) == 2, timeout=10_000)
    assert len(asked) == 2


def test_the_spend_dialog_offers_not_to_ask_again_under_an_amount(qtbot: QtBot) -> None:
    dialog = SpendDialog("Estimated 70,884 billed tokens (3 epochs × 23,628): about $0.35.", 0.35)
    qtbot.addWidget(dialog)
    assert not dialog.limit.isEnabled()
    dialog.remember.setChecked(True)
    assert dialog.limit.isEnabled()
    dialog.limit.setValue(10.0)
    dialog.accept()
    assert dialog.answer() == (True, 10.0)
    dialog.reject()
    assert dialog.answer() == (False, None)


def test_epochs_are_auto_or_a_number_as_the_request_parses_them(
    qtbot: QtBot, make_view: Callable[[], JobsView]
) -> None:
    view = make_view()
    ready_to_create(qtbot, view)
    assert "(10 epochs ×" in view.form.estimate.text()  # auto: the default for 10 examples
    for typed, shown in (
        ("abc", None),
        ("0", None),
        ("12", "(12 epochs ×"),
        (" Auto ", "(10 epochs ×"),
    ):
        view.form.epochs.setText(typed)
        view.form.epochs.editingFinished.emit()
        if shown is None:
            qtbot.waitUntil(
                lambda: view.form.check.text().startswith("epochs: must be 'auto' or"),
                timeout=10_000,
            )
            assert not view.form.create_button.isEnabled()
        else:
            qtbot.waitUntil(lambda s=shown: s in view.form.estimate.text(), timeout=10_000)
            assert view.form.create_button.isEnabled()


def test_sync_now_keeps_the_table_the_detail_and_the_form_in_step(
    qtbot: QtBot, job_context: AppContext, tasks: TaskManager, fake_openai: FakeOpenAI
) -> None:
    """Polling is off (a user pressing "Sync now" is the only sync): after it, the table,
    the open detail and the "Created …" line all say what the provider says."""
    view = JobsView(
        job_context.finetune(), tasks, lambda title, error: None, next_poll=lambda s, c: None
    )
    view.confirm_spend = lambda estimate, cost: (True, None)
    qtbot.addWidget(view)
    view.show()
    ready_to_create(qtbot, view)
    view.creation.create()
    qtbot.waitUntil(lambda: len(fake_openai.job_ids) == 1, timeout=10_000)
    job_id = fake_openai.job_ids[0]
    qtbot.waitUntil(lambda: view.detail.job is not None and view.detail.job.job_id == job_id)
    qtbot.waitUntil(lambda: view.status.text().startswith(f"Created {job_id}"), timeout=5000)

    fake_openai.succeed_job(job_id, fine_tuned_model="ft:gpt-4.1-mini:acme:x:1")
    view.refresh_button.click()  # "Sync now"
    qtbot.waitUntil(
        lambda: view.model.data(view.model.index(0, view.model.STATUS)) == "Succeeded",
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: view.detail.job.status == "succeeded", timeout=10_000)
    qtbot.waitUntil(lambda: "now succeeded" in view.status.text(), timeout=5000)


def test_a_job_whose_events_come_as_an_event_stream_still_shows_its_status(
    qtbot: QtBot, make_view: Callable[[], JobsView], fake_openai: FakeOpenAI
) -> None:
    """Issue 15, point 7: a server compatible in name only sends the events list as an
    event stream; the status still follows and the detail says what could not be read."""
    view = make_view()
    ready_to_create(qtbot, view)
    view.creation.create()
    qtbot.waitUntil(lambda: len(fake_openai.job_ids) == 1, timeout=10_000)
    job_id = fake_openai.job_ids[0]
    qtbot.waitUntil(lambda: view.detail.job is not None and view.detail.job.job_id == job_id)
    fake_openai.lists_as_event_stream = {"events", "checkpoints"}
    fake_openai.advance_job(job_id, "running")
    qtbot.waitUntil(lambda: "Events: unreadable" in view.detail.note.text(), timeout=10_000)
    qtbot.waitUntil(lambda: view.model.job(0).status == "running", timeout=10_000)
    note = view.detail.note.text()
    assert "content type text/event-stream" in note and "Checkpoints: unreadable" in note
    assert "_set_private_attributes" not in note
    assert view.model.data(view.model.index(0, view.model.STATUS)) == "Running"


def test_no_jobs_yet_says_what_to_do_and_the_table_comes_with_the_first_job(
    qtbot: QtBot, make_view: Callable[[], JobsView], fake_openai: FakeOpenAI
) -> None:
    view = make_view()
    assert view.jobs_stack.currentWidget() is view.no_jobs
    assert "Upload and create job" in view.no_jobs.text_label.text()
    ready_to_create(qtbot, view)
    view.creation.create()
    qtbot.waitUntil(lambda: view.jobs_stack.currentWidget() is view.table, timeout=10_000)


def test_the_base_model_is_suggested_and_what_the_user_types_stays(
    qtbot: QtBot, job_context: AppContext, make_view: Callable[[], JobsView]
) -> None:
    # The dataset was made for a model: that one is suggested.
    view = make_view()
    qtbot.waitUntil(lambda: view.form.model.count() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: view.form.model.currentText() == MODEL, timeout=5000)
    listed = [view.form.model.itemText(i) for i in range(view.form.model.count())]
    assert listed[0] != MODEL, listed  # so the next suggestion is told apart

    # A dataset made for no model in particular: the provider's first fine-tunable one.
    store = DatasetStore(job_context.workspace)
    plain = store.create_dataset("No model")
    store.add_examples(plain.id, [qa(n) for n in range(1, 13)])
    view.creation.refresh_datasets()
    qtbot.waitUntil(lambda: view.form.dataset.count() == 2, timeout=5000)
    view.form.dataset.setCurrentIndex(view.form.dataset.findData(plain.id))
    assert view.form.model.currentText() == listed[0]

    # What the user types is theirs: choosing another dataset no longer replaces it.
    view.form.model.lineEdit().clear()
    qtbot.keyClicks(view.form.model.lineEdit(), "my-own-model")
    view.form.dataset.setCurrentIndex(0 if view.form.dataset.currentIndex() else 1)
    assert view.form.model.currentText() == "my-own-model"
