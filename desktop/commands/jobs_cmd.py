"""``ragtune jobs``: the job tracker, headless."""

from __future__ import annotations

import argparse
import sys

from desktop.commands.result import CommandError, CommandResult


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
        "create", parents=[common], help="upload a dataset (validated first) and start a job"
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
    create.set_defaults(handler=jobs_command)
    cancel = actions.add_parser("cancel", parents=[common], help="cancel a job")
    cancel.add_argument("job_id", metavar="ID")
    cancel.set_defaults(handler=jobs_command)


def jobs_command(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import context_from
    from desktop.finetune import jobs_cli
    from desktop.finetune.job_store import JobStore
    from desktop.finetune.providers import ProviderError, provider_for_config
    from desktop.finetune.requests import JobError
    from desktop.finetune.store import DatasetStore

    context = context_from(args)
    store = JobStore(context.workspace)
    config = context.provider_config()
    reachable = bool(config.api_key) or not config.needs_key
    provider = provider_for_config(config) if reachable else None
    try:
        if args.action == "list":
            data, text = jobs_cli.jobs_list(store, provider, limit=args.limit)
        elif args.action == "show":
            data, text = jobs_cli.jobs_show(store, args.job_id, provider)
        elif provider is None:
            raise CommandError(
                "no provider is configured: set an API key (OPENAI_API_KEY) or "
                "a local server's base URL"
            )
        elif args.action == "cancel":
            data, text = jobs_cli.jobs_cancel(store, provider, args.job_id)
        else:
            data, text = jobs_cli.jobs_create(
                store,
                DatasetStore(context.workspace),
                provider,
                dataset=args.dataset,
                model=args.model,
                method=args.method,
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate_multiplier=args.learning_rate_multiplier,
                beta=args.beta,
                suffix=args.suffix,
                seed=args.seed,
                on_progress=lambda step: (
                    print(step.message, file=sys.stderr) if sys.stderr.isatty() else None
                ),
            )
    except (JobError, ProviderError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        if provider is not None:
            provider.close()
    return CommandResult(data, text)
