"""``ragtune jobs``: the job tracker, headless. Everything goes through the fine-tuning
front door; this module parses the arguments and words the results. With no provider
(offline, or none set up) list and show answer from the workspace alone."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from desktop.commands.result import EXIT_FAILURE, CommandError, CommandResult

if TYPE_CHECKING:
    from desktop.finetune.job_store import JobRecord
    from desktop.finetune.jobs import CreatedJob, JobPlan
    from desktop.finetune.service import FineTuneService, JobDetails, JobList

Json = dict[str, Any]
NO_PROVIDER = (
    "no provider is configured: set an API key (OPENAI_API_KEY) or a local server's base URL"
)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    jobs = subparsers.add_parser("jobs", parents=[common], help="fine-tuning jobs")
    actions = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="jobs, refreshed when the provider is reachable, else as saved",
    )
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=jobs_command)
    show = actions.add_parser("show", parents=[common], help="one job with its events")
    show.add_argument("job_id", metavar="ID")
    show.set_defaults(handler=jobs_command)
    create = actions.add_parser(
        "create",
        parents=[common],
        help="upload a dataset (validated first) and start a job",
        description="The dataset and the request are checked and the cost estimated before "
        "anything is uploaded; a job above the settings' confirmation threshold is "
        "confirmed, or needs --yes when not run from a terminal. Ctrl+C stops it: nothing "
        "is created and an unfinished upload is recorded as such.",
    )
    create.add_argument("--dataset", required=True)
    create.add_argument("--model", required=True, help="base model to fine-tune")
    create.add_argument("--method", choices=("supervised", "dpo"), default="supervised")
    create.add_argument("--epochs", default="auto")
    create.add_argument("--batch-size", default="auto")
    create.add_argument("--learning-rate-multiplier", default="auto")
    create.add_argument("--beta", default=None, help="DPO only")
    create.add_argument("--suffix")
    create.add_argument("--seed", type=int)
    create.add_argument("--yes", action="store_true", help="do not ask before a paid job")
    create.set_defaults(handler=jobs_command)
    cancel = actions.add_parser("cancel", parents=[common], help="cancel a job")
    cancel.add_argument("job_id", metavar="ID")
    cancel.set_defaults(handler=jobs_command)


def jobs_command(args: argparse.Namespace) -> CommandResult | int:
    from desktop.commands.common import context_from
    from desktop.finetune.providers import ProviderError
    from desktop.finetune.requests import JobError

    service = context_from(args).finetune()
    try:
        if args.action == "list":
            return list_result(service.job_list(limit=args.limit))
        if args.action == "show":
            return show_result(service.job_details(args.job_id))
        if not service.configured():
            raise CommandError(NO_PROVIDER)
        if args.action == "cancel":
            return cancel_result(service.cancel_job(args.job_id))
        return _create(service, args)
    except (JobError, ProviderError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        service.close()


def _create(service: FineTuneService, args: argparse.Namespace) -> CommandResult | int:
    from desktop.commands.common import run_operation
    from desktop.progress import CancelToken

    plan = service.plan_job(
        args.dataset,
        model=args.model,
        method=args.method,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate_multiplier=args.learning_rate_multiplier,
        beta=args.beta,
        suffix=args.suffix,
        seed=args.seed,
    )
    if service.needs_confirmation(plan) and not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(plan.describe() + " Re-run with --yes to confirm.")
        answer = input(plan.describe() + " Upload and create the job? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was uploaded.", file=sys.stderr)
            return EXIT_FAILURE
    cancel = CancelToken()
    created = run_operation(service.create_job(plan, cancel=cancel), args, cancel=cancel)
    return create_result(created, provider=service.provider_label())


# -- words -------------------------------------------------------------------------------


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def _job_line(record: JobRecord) -> str:
    dataset = f"  {record.dataset_name}" if record.dataset_name else ""
    result = f"  → {record.fine_tuned_model}" if record.fine_tuned_model else ""
    return (
        f"{record.job_id}  {record.status:<16} {record.model}  {record.method}"
        f"  {_when(record.created_at)}{dataset}{result}"
    )


def list_result(listing: JobList) -> CommandResult:
    lines = [_job_line(r) for r in listing.jobs] or ["No fine-tuning jobs yet."]
    if listing.refresh_error:
        lines.append(f"(showing saved jobs; could not refresh: {listing.refresh_error})")
    return CommandResult([r.to_json() for r in listing.jobs], "\n".join(lines))


def show_result(details: JobDetails) -> CommandResult:
    """One job in full: status, error, hyperparameters, the last events, the latest
    metrics and the checkpoints."""
    snapshot = details.snapshot
    record, series = snapshot.job, snapshot.metrics
    data: Json = {
        **record.to_json(),
        "events": [e.to_json() for e in snapshot.events],
        "checkpoints": [c.to_json() for c in snapshot.checkpoints],
        "metrics": series.to_json(),
        "next_poll_seconds": details.next_poll_seconds,
        "unreadable": details.unreadable,
    }
    lines = [
        f"Job {record.job_id} on {record.base_url} ({record.provider})",
        f"Status: {record.status_label}",
        f"Base model: {record.model}   method: {record.method}",
    ]
    if record.dataset_name:
        lines.append(f"Dataset: {record.dataset_name}")
    if record.fine_tuned_model:
        lines.append(f"Fine-tuned model: {record.fine_tuned_model}")
    if record.hyperparameters:
        lines.append(
            "Hyperparameters: "
            + ", ".join(f"{k}={v}" for k, v in sorted(record.hyperparameters.items()))
        )
    lines.append(f"Created: {_when(record.created_at)}   finished: {_when(record.finished_at)}")
    if record.error_message:
        lines.append(f"Error: {record.error_message}")
    if details.unreadable:
        from desktop.finetune.jobs import describe_unreadable

        lines.extend(describe_unreadable(details.unreadable).splitlines())
    if series.steps:
        last = len(series.steps) - 1
        parts = [f"step {series.steps[last]}"]
        for label, values in (("train loss", series.train_loss), ("valid loss", series.valid_loss)):
            if values[last] is not None:
                parts.append(f"{label} {values[last]:.4f}")
        lines.append(f"Metrics: {len(series.steps)} step(s); latest " + ", ".join(parts))
    for checkpoint in snapshot.checkpoints:
        lines.append(f"Checkpoint step {checkpoint.step}: {checkpoint.model}")
    if snapshot.events:
        lines.append("Recent events:")
        lines.extend(f"  {_when(e.created_at)} [{e.level}] {e.message}" for e in snapshot.events)
    if details.sync_note:
        lines.append(details.sync_note)
    return CommandResult(data, "\n".join(lines))


def _estimate_json(plan: JobPlan) -> Json:
    cost = plan.cost
    return {
        "model": cost.model,
        "epochs": cost.epochs,
        "billed_tokens": cost.billed_tokens,
        "billed_tokens_per_epoch": cost.billed_tokens_per_epoch,
        "cost_usd": cost.cost,
    }


def create_result(created: CreatedJob, *, provider: str) -> CommandResult:
    record, export = created.job, created.plan.export
    files = created.uploaded.files
    data: Json = {
        "job": record.to_json(),
        "files": [f.to_json() for f in files],
        "train_examples": export.train_count,
        "validation_examples": export.validation_count,
        "estimate": _estimate_json(created.plan),
        "warnings": list(export.warnings),
    }
    lines = [
        f"Created job {record.job_id} ({record.status_label}) on {provider}: {record.model}, "
        f"{record.method}, dataset {export.dataset_name} ({export.train_count} training / "
        f"{export.validation_count} validation examples)."
    ]
    lines.extend(
        f"{'Reused' if f.reused else 'Uploaded'} {f.split} file {f.file_id} ({f.filename})"
        for f in files
    )
    lines.append(created.plan.describe())
    lines.extend(f"Warning: {w}" for w in export.warnings)
    return CommandResult(data, "\n".join(lines))


def cancel_result(record: JobRecord) -> CommandResult:
    return CommandResult(record.to_json(), f"Job {record.job_id}: {record.status_label.lower()}.")
