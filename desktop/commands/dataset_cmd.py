"""``ragtune dataset``: validate a JSONL file on disk, and list, import, export and
summarise the datasets in the workspace. The same validation, statistics and estimate
as the Fine-tuning tab."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from desktop.commands.result import EXIT_FAILURE, EXIT_OK, CommandError, CommandResult


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
        "import", parents=[common], help="import a chat or preference (DPO) JSONL file"
    )
    importer.add_argument("file", type=Path)
    importer.add_argument("--dataset", required=True, help="dataset name (created if new)")
    importer.add_argument("--format", choices=("chat", "dpo"), default="chat")
    importer.set_defaults(handler=import_command)

    exporter = actions.add_parser("export", parents=[common], help="export a dataset")
    exporter.add_argument("dataset", help="dataset name")
    exporter.add_argument("--out", type=Path, required=True, help="folder to write into")
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
    from desktop.finetune.jsonl import parse_chat_jsonl
    from desktop.finetune.stats import dataset_stats
    from desktop.finetune.validation import validate_examples
    from desktop.settings import SettingsStore

    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")
    if args.model:
        model = args.model
    else:
        from desktop.paths import AppPaths

        model = SettingsStore(AppPaths.resolve(args.data_dir).settings_file).load().chat_model
    data = args.file.read_bytes()
    read = parse_chat_jsonl(data)
    report = validate_examples(read.examples, model=model, lines=read.lines)
    stats = dataset_stats(read.examples, model=model, tokens=report.tokens)
    errors = sorted([*read.problems, *report.errors], key=lambda i: (i.line or 0, i.category))
    warnings = report.warnings
    lines_read = sum(1 for line in data.splitlines() if line.strip())
    result = {
        "file": str(args.file),
        "model": model,
        "examples": lines_read,
        "valid_examples": len(read.examples) - len({e.index for e in report.errors}),
        "errors": [_issue(i) for i in errors],
        "warnings": [_issue(i) for i in warnings],
        "statistics": _stats_json(stats),
    }
    text = [f"{args.file}: {lines_read} lines, {len(errors)} errors, {len(warnings)} warnings"]
    text += [f"  line {i.line}: error [{i.category}] {i.message}" for i in errors]
    text += [f"  line {i.line}: warning [{i.category}] {i.message}" for i in warnings]
    text += _stats_text(stats)
    return CommandResult(result, "\n".join(text), EXIT_FAILURE if errors else EXIT_OK)


def _store(args: argparse.Namespace):
    from desktop.commands.common import context_from
    from desktop.finetune.store import DatasetStore

    context = context_from(args)
    return context, DatasetStore(context.workspace)


def _dataset(store: Any, name: str) -> Any:
    dataset = store.dataset_by_name(name)
    if dataset is None:
        known = ", ".join(d.name for d in store.datasets()) or "none yet"
        raise CommandError(f"no dataset named {name!r} (datasets: {known})")
    return dataset


def list_command(args: argparse.Namespace) -> CommandResult:
    _, store = _store(args)
    rows = [
        {"id": d.id, "name": d.name, "examples": d.examples, "model": d.model}
        for d in store.datasets()
    ]
    text = (
        "\n".join(f"{r['name']}: {r['examples']} examples" for r in rows)
        or "No datasets yet. Create one with: ragtune dataset import FILE --dataset NAME"
    )
    return CommandResult(rows, text)


def import_command(args: argparse.Namespace) -> CommandResult:
    from desktop.finetune.jsonl import read_chat_jsonl, read_preference_jsonl

    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")
    _, store = _store(args)
    read = (read_preference_jsonl if args.format == "dpo" else read_chat_jsonl)(args.file)
    dataset = store.dataset_by_name(args.dataset) or store.create_dataset(args.dataset)
    ids = store.add_examples(dataset.id, read.examples)
    problems = [_issue(p) for p in read.problems]
    text = [
        f"Imported {len(ids)} examples into {dataset.name!r}; "
        f"{len(problems)} lines could not be read"
    ]
    text += [f"  line {p['line']}: {p['message']}" for p in problems]
    return CommandResult(
        {"dataset": dataset.name, "imported": len(ids), "problems": problems}, "\n".join(text)
    )


def export_command(args: argparse.Namespace) -> CommandResult:
    from desktop.finetune import jsonl

    _, store = _store(args)
    dataset = _dataset(store, args.dataset)
    examples = store.examples(dataset.id)
    stem = args.out / dataset.name.replace("/", "_").replace(" ", "_")
    if args.format == "messages":
        summary = jsonl.export_chat_messages_jsonl(
            examples, Path(f"{stem}-train.jsonl"), Path(f"{stem}-validation.jsonl")
        )
    elif args.format == "dpo":
        summary = jsonl.export_preference_jsonl(
            examples, Path(f"{stem}-dpo-train.jsonl"), Path(f"{stem}-dpo-validation.jsonl")
        )
    else:
        summary = jsonl.export_chat_jsonl(
            examples, Path(f"{stem}-train.jsonl"), Path(f"{stem}-validation.jsonl")
        )
    data = {
        "train": str(summary.train_path),
        "train_examples": summary.train,
        "validation": str(summary.validation_path) if summary.validation_path else None,
        "validation_examples": summary.validation,
    }
    text = f"Wrote {summary.train} examples to {summary.train_path}"
    if summary.validation_path:
        text += f" and {summary.validation} to {summary.validation_path}"
    return CommandResult(data, text)


def stats_command(args: argparse.Namespace) -> CommandResult:
    from desktop.finetune.stats import dataset_stats

    context, store = _store(args)
    dataset = _dataset(store, args.dataset)
    model = args.model or dataset.model or context.settings.chat_model
    stats = dataset_stats(store.examples(dataset.id), model=model, epochs=args.epochs)
    return CommandResult(
        {"dataset": dataset.name, **_stats_json(stats)}, "\n".join(_stats_text(stats))
    )
