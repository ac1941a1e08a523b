"""``ragtune dataset``: validate a JSONL file on disk, and list, import, export and
summarise the datasets in the workspace. The same validation, statistics and estimate
as the Fine-tuning tab."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.commands.result import EXIT_FAILURE, EXIT_OK, CommandError, CommandResult

if TYPE_CHECKING:
    from desktop.finetune.service import FineTuneService


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    dataset = subparsers.add_parser(
        "dataset", parents=[common], help="fine-tuning datasets: validate, import, export, stats"
    )
    actions = dataset.add_subparsers(dest="action", metavar="ACTION", required=True)

    validate = actions.add_parser(
        "validate",
        parents=[common],
        help="check a chat JSONL file without importing it",
        description="Exit code 0 when the file has no errors (warnings alone are fine), 1 "
        "when it has errors.",
    )
    validate.add_argument("file", type=Path, metavar="FILE.jsonl")
    validate.add_argument(
        "--model", help="model whose tokenizer and limits apply (default: the settings' chat model)"
    )
    validate.set_defaults(handler=validate_command)

    listing = actions.add_parser("list", parents=[common], help="list the datasets")
    listing.set_defaults(handler=list_command)

    importer = actions.add_parser(
        "import",
        parents=[common],
        help="import a chat or preference (DPO) JSONL file, or a CSV file with a mapping",
    )
    importer.add_argument("file", type=Path)
    importer.add_argument("--dataset", required=True, help="dataset name (created if new)")
    importer.add_argument("--format", choices=("chat", "dpo", "csv"), default="chat")
    importer.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="PART=COLUMN",
        help="CSV: the column of system, user, assistant, tags, notes or split (a header "
        "name, or #N for the N-th column); user and assistant are required",
    )
    importer.add_argument("--system-prompt", help="CSV: one system prompt for every row")
    importer.add_argument(
        "--no-header", action="store_true", help="CSV: the first row is an example"
    )
    importer.set_defaults(handler=import_command)

    exporter = actions.add_parser("export", parents=[common], help="export a dataset")
    exporter.add_argument("dataset", help="dataset name")
    exporter.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder to write into (NAME-train.jsonl, and NAME-validation.jsonl when "
        "examples are held out; the same names as the window's export)",
    )
    exporter.add_argument(
        "--format",
        choices=("openai", "dpo", "messages"),
        default="openai",
        help="openai: chat JSONL (train and validation files); dpo: "
        "preference JSONL; messages: for open-source trainers",
    )
    exporter.set_defaults(handler=export_command)

    stats = actions.add_parser(
        "stats", parents=[common], help="statistics and the training cost estimate"
    )
    stats.add_argument("dataset", help="dataset name")
    stats.add_argument("--model", help="model whose tokenizer and price apply")
    stats.add_argument("--epochs", type=int, help="override the automatic epoch count")
    stats.set_defaults(handler=stats_command)


def _issue(issue: Any) -> dict[str, Any]:
    return {"line": issue.line, "category": issue.category, "message": issue.message}


def _stats_json(stats: Any) -> dict[str, Any]:
    cost = stats.cost
    total = stats.total_tokens
    return {
        "train_examples": stats.train_examples,
        "validation_examples": stats.validation_examples,
        "size": stats.size_message,
        "tokens": {
            "min": total.min,
            "max": total.max,
            "mean": round(total.mean, 1),
            "median": total.median,
            "p5": total.p5,
            "p95": total.p95,
        },
        "assistant_share": round(stats.assistant_share, 4),
        "over_token_limit": len(stats.over_limit),
        "token_limit": stats.token_limit,
        "estimate": {
            "model": cost.model,
            "epochs": cost.epochs,
            "billed_tokens_per_epoch": cost.billed_tokens_per_epoch,
            "billed_tokens": cost.billed_tokens,
            "price_per_million": cost.price_per_million,
            "cost_usd": cost.cost,
        },
    }


def _stats_text(stats: Any) -> list[str]:
    cost = stats.cost
    total = stats.total_tokens
    price = (
        f"${cost.cost:,.2f} at ${cost.price_per_million:g} per 1M training tokens"
        if cost.cost is not None
        else "cost unknown (no price for this model)"
    )
    return [
        f"{stats.size_message} ({stats.validation_examples} validation examples)",
        f"tokens per example: min {total.min:.0f}, median {total.median:.0f}, mean "
        f"{total.mean:.0f}, p95 {total.p95:.0f}, max {total.max:.0f}; assistant share "
        f"{stats.assistant_share:.0%}; {len(stats.over_limit)} over the {stats.token_limit:,}"
        "-token limit",
        f"estimate for {cost.model}: {cost.epochs} epochs × {cost.billed_tokens_per_epoch:,} "
        f"tokens = {cost.billed_tokens:,} billed tokens, {price}",
    ]


def validate_command(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import context_from
    from desktop.finetune.service import FineTuneService

    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")
    # The settings alone: checking a file opens no workspace.
    model = args.model or context_from(args).settings.chat_model
    checked = FineTuneService.validate_file(args.file, model=model)
    errors, warnings = checked.errors, checked.warnings
    result = {
        "file": str(args.file),
        "model": model,
        "examples": checked.lines,
        "valid_examples": checked.valid_examples,
        "errors": [_issue(i) for i in errors],
        "warnings": [_issue(i) for i in warnings],
        "statistics": _stats_json(checked.stats),
    }
    text = [f"{args.file}: {checked.lines} lines, {len(errors)} errors, {len(warnings)} warnings"]
    text += [f"  line {i.line}: error [{i.category}] {i.message}" for i in errors]
    text += [f"  line {i.line}: warning [{i.category}] {i.message}" for i in warnings]
    text += _stats_text(checked.stats)
    return CommandResult(result, "\n".join(text), EXIT_FAILURE if errors else EXIT_OK)


@contextmanager
def _service(args: argparse.Namespace) -> Iterator[FineTuneService]:
    """The fine-tuning front door for one command; a dataset the command names that does
    not exist is a one-line failure."""
    from desktop.commands.common import context_from
    from desktop.finetune.files import NothingToExport
    from desktop.finetune.store import DatasetError

    service = context_from(args).finetune()
    try:
        yield service
    except (DatasetError, NothingToExport) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        service.close()


def counted(number: int, noun: str) -> str:
    from desktop.finetune.files import counted as words

    return words(number, noun)


def list_command(args: argparse.Namespace) -> CommandResult:
    with _service(args) as service:
        datasets = service.datasets()
    rows = [
        {"id": d.id, "name": d.name, "examples": d.example_count, "model": d.model}
        for d in datasets
    ]
    text = (
        "\n".join(f"{d.name}: {counted(d.example_count, 'example')}" for d in datasets)
        or "No datasets yet. Create one with: ragtune dataset import FILE --dataset NAME"
    )
    return CommandResult(rows, text)


def _csv_mapping(args: argparse.Namespace) -> dict[str, Any]:
    from desktop.finetune.jsonl import Column, Constant

    mapping: dict[str, Any] = {}
    for item in args.map:
        part, _, column = item.partition("=")
        if not part or not column:
            raise CommandError(f"--map takes PART=COLUMN, not {item!r}")
        number = column[1:] if column.startswith("#") else ""
        mapping[part.strip()] = Column(int(number) - 1 if number.isdigit() else column)
    if args.system_prompt:
        mapping["system"] = Constant(args.system_prompt)
    return mapping


def import_command(args: argparse.Namespace) -> CommandResult:
    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")
    kind = {"dpo": "preference"}.get(args.format, args.format)
    mapping = _csv_mapping(args) if kind == "csv" else None
    with _service(args) as service:
        try:
            outcome = service.import_file(
                args.file, args.dataset, kind, mapping=mapping, has_header=not args.no_header
            )
        except ValueError as exc:  # a CSV mapping that names no user or assistant column
            raise CommandError(str(exc)) from exc
    problems = [_issue(p) for p in outcome.problems]
    text = [
        f"Imported {counted(outcome.imported, 'example')} into {outcome.dataset!r}; "
        f"{counted(len(problems), 'line')} could not be read"
    ]
    text += [f"  line {p['line']}: {p['message']}" for p in problems]
    return CommandResult(
        {"dataset": outcome.dataset, "imported": outcome.imported, "problems": problems},
        "\n".join(text),
    )


def export_command(args: argparse.Namespace) -> CommandResult:
    """The same files as the dataset builder's Export menu: the kind's examples only, the
    held-out ones in a validation file beside the training file, the same names."""
    kind = {"openai": "chat", "dpo": "preference"}.get(args.format, args.format)
    with _service(args) as service:
        summary = service.export_to_folder(args.dataset, args.out, kind)
    data = {
        "train": str(summary.train_path),
        "train_examples": summary.train,
        "validation": str(summary.validation_path) if summary.validation_path else None,
        "validation_examples": summary.validation,
    }
    text = f"Wrote {counted(summary.train, 'example')} to {summary.train_path}"
    if summary.validation_path:
        text += f" and {counted(summary.validation, 'example')} to {summary.validation_path}"
    return CommandResult(data, text)


def stats_command(args: argparse.Namespace) -> CommandResult:
    with _service(args) as service:
        name = service.dataset(args.dataset).name
        stats = service.stats(args.dataset, model=args.model, epochs=args.epochs)
    return CommandResult({"dataset": name, **_stats_json(stats)}, "\n".join(_stats_text(stats)))
