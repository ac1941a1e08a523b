"""Making a fine-tuning job from the jobs view: check the chosen dataset against the base
model (and say what it would cost) as the form changes; on "Upload and create", plan the
job through the front door, confirm a paid one with its estimate, then run the same
cancellable create generator as ``ragtune jobs create`` on a worker. A provider that
refuses the job is shown with the way out: export the dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop.finetune.job_store import JobRecord
from desktop.finetune.jobs import CreatedJob, DatasetCheck, JobPlan
from desktop.finetune.jsonl import ExportSummary
from desktop.finetune.providers import ProviderError, ProviderRefused
from desktop.finetune.requests import JobError, JobRequestError
from desktop.finetune.store import Dataset
from desktop.progress import Progress
from desktop.workers import STORE_QUEUE, TaskError, Worker

if TYPE_CHECKING:
    from desktop.ui.finetune.jobs_view import JobsView

ERROR_STYLE = "color: #b71c1c;"


class JobCreation(QObject):
    def __init__(self, view: JobsView) -> None:
        super().__init__(view)
        self.view = view
        self.form = view.form
        self.check: DatasetCheck | None = None
        self._created_job: JobRecord | None = None
        self._generation = 0
        self.form.check_requested.connect(self.check_dataset)
        self.form.create_requested.connect(self.create)
        self.form.refusal.export_button.clicked.connect(self._export_clicked)

    # -- the datasets and models to choose from ---------------------------------------------

    def refresh_datasets(self) -> Worker:
        worker = self.view.run(self.view.service.datasets, title="Listing datasets")
        worker.signals.result.connect(self._datasets_loaded)
        worker.signals.error.connect(self.view.reporter("Listing datasets"))
        return worker

    def _datasets_loaded(self, datasets: list[Dataset]) -> None:
        self.form.set_datasets(datasets)
        self.form.suggest_model()
        self.check_dataset()

    def _models_listed(self, models: list[str]) -> None:
        self.form.set_models(models)
        if self.form.suggest_model():
            self.check_dataset()

    def refresh_models(self) -> Worker:
        worker = self.view.run(
            self.view.service.fine_tunable_models, title="Listing fine-tunable models"
        )
        worker.signals.result.connect(self._models_listed)
        worker.signals.error.connect(
            lambda e: self.form.model.setToolTip(
                f"The provider's models could not be listed ({e.message}); type a model name."
            )
        )
        return worker

    # -- checking ------------------------------------------------------------------------------

    def _say(self, text: str, *, error: bool = False) -> None:
        self.form.check.setStyleSheet(ERROR_STYLE if error else "")
        self.form.check.setText(text)

    def check_dataset(self) -> Worker | None:
        """Validate the chosen dataset and estimate its cost, before anything is uploaded."""
        dataset_id = self.form.dataset.currentData()
        model = self.form.model.currentText().strip()
        self.check = None
        self._generation += 1
        generation = self._generation
        self.form.create_button.setEnabled(False)
        self.form.estimate.clear()
        if dataset_id is None:
            return None
        if not model:
            self._say("Choose a base model to check the dataset against.")
            return None
        epochs = self.form.epochs.text()
        service = self.view.service
        self._say("Checking the dataset…")
        worker = self.view.run(
            lambda: service.check_dataset(dataset_id, model=model, epochs=epochs),
            title="Checking the dataset",
        )
        worker.signals.result.connect(lambda c: self._checked(generation, c))
        worker.signals.error.connect(lambda e: self._check_failed(generation, e))
        return worker

    def _checked(self, generation: int, check: DatasetCheck) -> None:
        if generation != self._generation:
            return
        self.check = check
        export = check.export
        kind = "preference pairs" if export.kind == "preference" else "chat examples"
        text = (
            f"Ready: {export.train_count} training and {export.validation_count} validation {kind}."
        )
        if export.warnings:
            text += " " + " ".join(export.warnings)
        self._say(text)
        self.form.estimate.setText(check.describe())
        self.form.set_method("dpo" if export.kind == "preference" else "supervised")
        self.form.create_button.setEnabled(True)

    def _check_failed(self, generation: int, error: TaskError) -> None:
        if generation != self._generation:
            return
        if isinstance(error.exception, JobRequestError):  # a field, not the dataset
            self._say(error.message, error=True)
        else:
            self._say(f"Cannot upload this dataset: {error.message}", error=True)

    # -- creating ------------------------------------------------------------------------------

    def create(self) -> Worker | None:
        """Plan the job (dataset, fields, estimate) on a worker; nothing is uploaded yet."""
        check = self.check
        if check is None or check.export.dataset_id is None:
            return None
        self.form.refusal.hide()
        dataset_id, values, service = check.export.dataset_id, self.form.values(), self.view.service
        worker = self.view.run(lambda: service.plan_job(dataset_id, **values), title="Planning")
        worker.signals.result.connect(self._planned)
        worker.signals.error.connect(self._create_failed)
        return worker

    def _planned(self, plan: JobPlan) -> Worker | None:
        """Confirm a paid job with its estimate, then upload and create."""
        view = self.view
        if view.service.needs_confirmation(plan):
            go, limit = view.confirm_spend(plan.describe(), plan.cost.cost)
            if limit is not None:
                view.remember_spend_limit(limit)
            if not go:
                self._say("Nothing was uploaded.")
                return None
        service = view.service
        self.form.set_busy(True)
        self._say("Uploading the dataset…")
        worker = view.run(
            service.create_job, plan, title="Creating a fine-tuning job", queue=STORE_QUEUE
        )
        worker.signals.progress.connect(self._upload_progress)
        worker.signals.result.connect(self._created)
        worker.signals.error.connect(self._create_failed)
        worker.signals.cancelled.connect(lambda: self._say("Cancelled: no job was created."))
        worker.signals.finished.connect(lambda: self.form.set_busy(False))
        return worker

    def _upload_progress(self, step: object) -> None:
        if isinstance(step, Progress):
            if step.total:
                self.form.progress.setRange(0, step.total)
                self.form.progress.setValue(step.done)
            self.form.check.setText(step.message)

    def _created(self, created: CreatedJob) -> None:
        job = created.job
        self._created_job = job
        # The job's news goes to the view's status line: the form is about the next job.
        self._say("Created: the job is followed in the table and the detail.")
        self.view.status.setText(f"Created {job.job_id} ({job.status_label}).")
        self.view.job_created(job)

    def jobs_changed(self, jobs: list[JobRecord]) -> None:
        """The line about the job just created follows the job, not the moment it was
        made ("Created … (Validating files)" would stay wrong after it succeeded)."""
        created = self._created_job
        if created is None:
            return
        now = next((j for j in jobs if j.job_id == created.job_id), None)
        if now is not None and now.status != created.status:
            self._created_job = now
            self.view.status.setText(f"Created {now.job_id}; it is now {now.status_label.lower()}.")

    def _create_failed(self, error: TaskError) -> None:
        exc = error.exception
        if isinstance(exc, ProviderRefused):
            refusal = self.form.refusal
            refusal.message.setText(
                f"{exc.provider_name} ({exc.host}) will not create this job. "
                f"It said: “{exc.server_message or exc.message}”\n"
                "Nothing was created. You can export the dataset and train elsewhere."
            )
            refusal.show()
            self._say("The provider refused the job.")
            return
        self._say(f"The job was not created: {error.message}", error=True)
        if not isinstance(exc, ProviderError | JobError):
            self.view.report_error("Creating a fine-tuning job", error)

    # -- export (the way out of a refusal) ----------------------------------------------------

    def _export_clicked(self) -> None:
        folder = self.view.choose_export_folder()
        if folder is not None:
            self.export_to(folder)

    def export_to(self, folder: Path) -> Worker | None:
        """Every format the dataset can go to another trainer in (OpenAI JSONL, plain
        chat-messages JSONL for TRL and Axolotl), with the export menu's file names."""
        dataset_id = self.form.dataset.currentData()
        if dataset_id is None:
            return None
        service = self.view.service
        worker = self.view.run(
            lambda: service.export_all(dataset_id, folder), title="Exporting the dataset"
        )
        worker.signals.result.connect(self._exported)
        worker.signals.error.connect(self.view.reporter("Exporting the dataset"))
        return worker

    def _exported(self, summaries: list[ExportSummary]) -> None:
        paths = [
            path
            for summary in summaries
            for path in (summary.train_path, summary.validation_path)
            if path is not None
        ]
        if not paths:
            return
        names = f"{paths[0].parent}:\n" + "\n".join(p.name for p in paths)
        message = self.form.refusal.message
        message.setText(message.text().split("\n\nSaved:")[0] + f"\n\nSaved:\n{names}")
        self.view.status.setText(f"Exported {len(paths)} file(s) to {paths[0].parent}.")
