"""``ragtune eval``: eval sets, runs and the retrieval sweep, through the same front door
as the Evaluate tab (``desktop.evaluation.service``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.commands.result import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CommandError,
    CommandResult,
)

if TYPE_CHECKING:
    from desktop.evaluation.service import EvaluationService


def _list(text: str, kind: type = str) -> list[Any]:
    try:
        return [kind(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {text!r}"
        ) from None


def _ints(text: str) -> list[int]:
    return _list(text, int)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "eval",
        parents=[common],
        help="evaluation: eval sets, runs (base, RAG, fine-tuned), comparison, sweep",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    sets = actions.add_parser("sets", parents=[common], help="list the eval sets")
    sets.set_defaults(handler=sets_command)

    importer = actions.add_parser(
        "import",
        parents=[common],
        help="import questions (JSONL, CSV with a mapping, SQuAD JSON) into a set",
        description="Lines that cannot be read are reported with their number; the rest "
        "import. SQuAD v2's unanswerable questions are kept, with 'not in the documents' as "
        "their right answer.",
    )
    importer.add_argument("file", type=Path)
    importer.add_argument("--set", required=True, dest="set_name", help="set name (made if new)")
    importer.add_argument("--format", choices=("auto", "jsonl", "csv", "squad"), default="auto")
    importer.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="PART=FIELD",
        help="the field (JSONL) or column (CSV: a header name or #N) of question, answer, "
        "source, passage, tags, answerable or alternatives; CSV needs question and answer",
    )
    importer.add_argument("--no-header", action="store_true", help="CSV: no header row")
    importer.set_defaults(handler=import_command)

    exporter = actions.add_parser("export", parents=[common], help="write a set as JSONL")
    exporter.add_argument("set_name", metavar="SET")
    exporter.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    exporter.set_defaults(handler=export_command)

    generate = actions.add_parser(
        "generate",
        parents=[common],
        help="draft questions from the library's documents with the chat model",
        description="Each question is grounded in one chunk, recorded as its expected "
        "source. Drafts are tagged 'drafted': review them in the Evaluate tab, or write them "
        "to a file with --out to review before importing.",
    )
    generate.add_argument("--set", required=True, dest="set_name", help="set name (made if new)")
    generate.add_argument("--count", type=int, required=True, help="questions to draft")
    generate.add_argument("--model", help="chat model (default: the settings' chat model)")
    generate.add_argument("--out", type=Path, help="write the drafts here instead of the set")
    generate.set_defaults(handler=generate_command)

    run = actions.add_parser(
        "run",
        parents=[common],
        help="run a set: retrieval alone, or answers from the base or fine-tuned model",
        description="Prints the estimate, then runs with progress; Ctrl+C stops (answered "
        "questions are kept: resume with --resume RUN). --json prints the run with its "
        "metrics and one result per question.",
    )
    run.add_argument("--set", dest="set_name", help="the eval set (not with --resume)")
    run.add_argument("--mode", choices=("retrieval", "base", "rag", "ft", "ft-rag"), default="rag")
    run.add_argument("--model", help="chat model (ft modes: the fine-tuned model)")
    run.add_argument("--judge", default="", help="judge model (optional)")
    run.add_argument("--judge-prompt", type=Path, help="a file with the judge's prompt")
    run.add_argument("--system-prompt", default="", help="system prompt sent with each question")
    run.add_argument("--k", type=int, help="chunks retrieved per question")
    run.add_argument(
        "--search-mode", choices=("hybrid", "vector", "lexical"), help="default: the settings'"
    )
    run.add_argument("--limit", type=int, help="only the first N questions (a quick check)")
    run.add_argument("--concurrency", type=int, help="questions in flight (default: settings)")
    run.add_argument("--resume", type=int, metavar="RUN", help="finish a stopped run")
    run.set_defaults(handler=run_command)

    runs = actions.add_parser("runs", parents=[common], help="list runs, newest first")
    runs.add_argument("--set", dest="set_name", help="only this set's runs")
    runs.set_defaults(handler=runs_command)

    show = actions.add_parser("show", parents=[common], help="a run with its results")
    show.add_argument("run", type=int, metavar="RUN")
    show.set_defaults(handler=show_command)

    compare = actions.add_parser(
        "compare",
        parents=[common],
        help="runs side by side, and the questions one got right and the other wrong",
    )
    compare.add_argument("runs", type=int, nargs="+", metavar="RUN")
    compare.set_defaults(handler=compare_command)

    sweep = actions.add_parser(
        "sweep",
        parents=[common],
        help="retrieval alone over a grid of chunking × embedder × mode × k (offline)",
        description="Chunks, embeds and searches scratch copies of the library's texts: "
        "the library is not changed unless --apply-best is given.",
    )
    sweep.add_argument("--set", required=True, dest="set_name")
    sweep.add_argument(
        "--strategies",
        type=_list,
        default=["recursive_tokens", "sentences"],
        help="comma-separated: fixed_words, sentences, recursive_tokens, structure",
    )
    sweep.add_argument(
        "--sizes",
        type=_ints,
        default=[128, 256, 512],
        help="comma-separated sizes (words for fixed_words, tokens for the others)",
    )
    sweep.add_argument(
        "--embedders",
        type=_list,
        help="comma-separated bundled models, or openai (default: the bundled models)",
    )
    sweep.add_argument("--modes", type=_list, default=["vector", "hybrid"])
    sweep.add_argument("--k", type=_ints, default=[3, 5], dest="ks")
    sweep.add_argument(
        "--apply-best",
        metavar="METRIC",
        nargs="?",
        const="hit@5",
        help="apply the best configuration (by METRIC, default hit@5) to the library",
    )
    sweep.set_defaults(handler=sweep_command)


@contextmanager
def _service(args: argparse.Namespace) -> Iterator[EvaluationService]:
    from desktop.commands.common import context_from
    from desktop.evaluation.formats import SchemaError
    from desktop.evaluation.judge import JudgePromptError
    from desktop.evaluation.service import EvaluationError
    from desktop.evaluation.store import EvalSetError
    from desktop.evaluation.sweep import SweepError

    context = context_from(args)
    try:
        yield context.evaluation()
    except (EvalSetError, EvaluationError, SweepError, SchemaError, JudgePromptError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        context.close()


def _when(moment: float | None) -> str:
    return "" if moment is None else datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M")


def sets_command(args: argparse.Namespace) -> CommandResult:
    with _service(args) as service:
        rows = []
        for found in service.sets():
            leaks = service.leaks(found.id)
            rows.append(
                {
                    "id": found.id,
                    "name": found.name,
                    "questions": found.question_count,
                    "format": found.format.to_json() or None,
                    "leaked_questions": len(leaks),
                    "runs": len(service.runs(found.id)),
                }
            )
    text = "\n".join(
        f"{r['name']}: {r['questions']} question(s), {r['runs']} run(s)"
        + (f"; {r['leaked_questions']} also in training data" if r["leaked_questions"] else "")
        for r in rows
    )
    return CommandResult(rows, text or "No eval sets yet. Make one with: ragtune eval import")


def _mapping(items: list[str]) -> dict[str, str]:
    from desktop.evaluation.files import PARTS

    mapping = {}
    for item in items:
        part, _, field = item.partition("=")
        part = part.strip()
        if not part or not field:
            raise CommandError(f"--map takes PART=FIELD, not {item!r}")
        if part not in PARTS:
            raise CommandError(f"--map: unknown part {part!r} (parts: {', '.join(PARTS)})")
        mapping[part] = field.strip()
    return mapping


def _problem(issue: Any) -> dict[str, Any]:
    return {"line": issue.line, "message": issue.message}


def import_command(args: argparse.Namespace) -> CommandResult:
    if not args.file.is_file():
        raise CommandError(f"no such file: {args.file}")
    mapping = _mapping(args.map) or None
    with _service(args) as service:
        try:
            outcome = service.import_file(
                args.file,
                args.set_name,
                args.format,
                mapping=mapping,
                has_header=not args.no_header,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        leaks = service.leaks(outcome.set_name)
    problems = [_problem(p) for p in outcome.problems]
    text = [
        f"Imported {outcome.imported} question(s) ({outcome.format}) into {outcome.set_name!r}; "
        f"{len(problems)} could not be read"
    ]
    text += [
        f"  {'line ' + str(p['line']) + ': ' if p['line'] else ''}{p['message']}" for p in problems
    ]
    if leaks:
        text.append(
            f"{len(leaks)} question(s) also appear in fine-tuning data: see ragtune eval sets"
        )
    data = {
        "set": outcome.set_name,
        "format": outcome.format,
        "imported": outcome.imported,
        "problems": problems,
        "leaked_questions": len(leaks),
    }
    return CommandResult(data, "\n".join(text))


def export_command(args: argparse.Namespace) -> CommandResult:
    with _service(args) as service:
        written = service.export(args.set_name, args.out)
    return CommandResult(
        {"file": str(args.out), "questions": written}, f"Wrote {written} question(s) to {args.out}"
    )


def generate_command(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import run_operation
    from desktop.evaluation.drafting import DraftedQuestion
    from desktop.evaluation.files import export_questions
    from desktop.finetune.generate import ChunkFailure
    from desktop.progress import CancelToken

    failures: list[str] = []

    def note(event: object) -> None:
        if isinstance(event, ChunkFailure):
            failures.append(event.reason)
            if not args.json:
                print(f"a chunk gave no question: {event.reason}", file=sys.stderr)

    with _service(args) as service:
        cancel = CancelToken()
        drafts: list[DraftedQuestion] = run_operation(
            service.draft(args.count, model=args.model, cancel=cancel),
            args,
            on_event=note,
            cancel=cancel,
        )
        questions = [d.question for d in drafts]
        if args.out:
            export_questions(questions, args.out)
            where = str(args.out)
        else:
            from desktop.evaluation.edits import AddQuestions

            service.apply(AddQuestions(None, questions, create_name=args.set_name))
            where = args.set_name
    data = {
        "drafted": len(questions),
        "target": where,
        "failures": failures,
        "questions": [q.to_json() for q in questions],
    }
    text = f"Drafted {len(questions)} question(s) into {where}"
    if not args.out:
        text += " (tagged 'drafted': review them in the Evaluate tab)"
    if failures:
        text += f"; {len(failures)} chunk(s) gave none"
    code = EXIT_FAILURE if not questions else EXIT_OK
    return CommandResult(data, text, code)


def run_command(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import run_operation
    from desktop.evaluation.runner import QuestionDone
    from desktop.progress import CancelToken

    with _service(args) as service:
        if args.resume is not None:
            run = service.run(args.resume)
        else:
            if not args.set_name:
                raise CommandError("give the set to run with --set NAME (or --resume RUN)")
            judge_prompt = None
            if args.judge_prompt is not None:
                try:
                    judge_prompt = args.judge_prompt.read_text(encoding="utf-8")
                except OSError as exc:
                    raise CommandError(f"cannot read {args.judge_prompt}: {exc}") from exc
            config = service.config(
                args.mode,
                model=args.model,
                judge_model=args.judge,
                judge_prompt=judge_prompt,
                system_prompt=args.system_prompt,
                k=args.k,
                search_mode=args.search_mode,
                limit=args.limit,
                concurrency=args.concurrency,
            )
            estimate = service.estimate(args.set_name, config)
            if not args.json:
                print(f"Estimate: {estimate.describe()}", file=sys.stderr, flush=True)
            run = service.start_run(args.set_name, config)
        failures: list[str] = []

        def note(event: object) -> None:
            if isinstance(event, QuestionDone) and not event.result.ok:
                failures.append(event.result.error)

        cancel = CancelToken()
        outcome = run_operation(
            service.run_questions(run.id, cancel),
            args,
            on_event=note,
            cancel=cancel,
            stops_itself=True,
        )
        view = service.run_view(run.id)
    data = view.to_json()
    if args.resume is None:
        data["estimate"] = estimate.to_json()
    finished = view.run
    text = [f"Run {finished.id}: {finished.config.describe()} on {finished.set_name!r}"]
    text.append(
        f"{finished.answered} answered, {finished.failed} failed of {finished.planned} "
        f"({outcome.status})"
    )
    text += _metric_lines(finished.metrics)
    if failures:
        text.append(f"first failure: {failures[0]}")
    code = EXIT_OK
    if outcome.status == "stopped":
        text.append(f"Stopped: resume with ragtune eval run --resume {finished.id}")
        code = EXIT_INTERRUPTED
    elif finished.answered == 0 and finished.failed:
        print(
            f"ragtune: error: every question failed: {failures[0] if failures else ''}",
            file=sys.stderr,
        )
        code = EXIT_FAILURE
    return CommandResult(data, "\n".join(text), code)


def _metric_lines(values: Any) -> list[str]:
    from desktop.evaluation.compare import COMPARED_KEYS, metric_label

    lines = []
    for key in COMPARED_KEYS:
        value = values.get(key)
        if isinstance(value, int | float):
            shown = f"{value:.3f}" if value <= 1 and "ms" not in key else f"{value:,.1f}"
            if key == "cost_per_answer_usd":
                shown = f"${value:.5f}"
            lines.append(f"  {metric_label(key)}: {shown}")
    return lines


def runs_command(args: argparse.Namespace) -> CommandResult:
    with _service(args) as service:
        runs = service.runs(args.set_name)
    rows = [r.to_json() for r in runs]
    text = "\n".join(
        f"#{r.id} {_when(r.created_at)} {r.set_name!r}: {r.config.describe()} — {r.status}"
        f"{' (stale)' if r.stale else ''}, {r.answered}/{r.planned} answered"
        for r in runs
    )
    return CommandResult(rows, text or "No runs yet. Start one with: ragtune eval run --set NAME")


def show_command(args: argparse.Namespace) -> CommandResult:
    with _service(args) as service:
        view = service.run_view(args.run)
    run = view.run
    text = [f"Run {run.id}: {run.config.describe()} on {run.set_name!r} ({run.status})"]
    if run.stale:
        text.append("The set changed since this run: its figures are of the earlier version.")
    text += _metric_lines(run.metrics)
    for result in view.results:
        mark = "ok" if result.ok else "FAILED"
        text.append(f"{result.position + 1}. [{mark}] {result.question}")
        if result.answer:
            text.append(f"   answer: {' '.join(result.answer.split())[:200]}")
        if result.error:
            text.append(f"   reason: {result.error}")
        if result.judge and result.judge.reason:
            text.append(f"   judge: {result.judge.status}: {result.judge.reason}")
        if result.format_violation:
            text.append(f"   format: {result.format_violation}")
    return CommandResult(view.to_json(), "\n".join(text))


def compare_command(args: argparse.Namespace) -> CommandResult:
    from desktop.evaluation.compare import metric_label

    if len(args.runs) < 2:
        raise CommandError("compare needs at least two runs")
    with _service(args) as service:
        comparison = service.compare(args.runs)
    header = " | ".join(f"#{r.id} {r.config.describe()}" for r in comparison.runs)
    text = [header]
    for key in comparison.keys:
        values = [comparison.value(i, key) for i in range(len(comparison.runs))]
        shown = ", ".join("—" if v is None else f"{v:.3f}" for v in values)
        text.append(f"  {metric_label(key)}: {shown}")
    changed = comparison.changed()
    text.append(f"{len(changed)} question(s) right in one run and wrong in another")
    for row in changed[:20]:
        marks = " ".join("?" if r is None else ("right" if r else "wrong") for r in row.right)
        text.append(f"  {row.position + 1}. {row.question} [{marks}]")
    return CommandResult(comparison.to_json(), "\n".join(text))


def sweep_command(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import run_operation
    from desktop.evaluation.sweep import SweepGrid

    with _service(args) as service:
        embedders = args.embedders or service.sweep_embedders()
        grid = SweepGrid(
            tuple(args.strategies),
            tuple(args.sizes),
            tuple(embedders),
            tuple(args.modes),
            tuple(args.ks),
            service.settings().hybrid_vector_weight,
        )
        result = run_operation(service.sweep(args.set_name, grid), args)
        applied = None
        best = result.best(args.apply_best or "hit@5")
        if args.apply_best and best is not None:
            applied = run_operation(service.apply_configuration(best), args)
    data = result.to_json()
    data["best"] = best.to_json() if best else None
    data["applied"] = applied
    text = [
        f"{len(result.rows)} configurations over {result.questions} question(s) "
        f"({result.skipped} without a usable source or answer); chunked "
        f"{result.builds['chunkings']}×, embedded {result.builds['embeddings']}× in "
        f"{result.seconds:.1f} s"
    ]
    ranked = sorted(result.rows, key=lambda r: -(r.metrics.get("hit@5") or 0.0))
    for row in ranked[:10]:
        figures = ", ".join(
            f"{key} {row.metrics[key]:.3f}"
            for key in ("hit@1", "hit@5", "mrr", "answer_in_context@k")
            if row.metrics.get(key) is not None
        )
        text.append(f"  {row.label()}: {figures}")
    if applied:
        text.append(applied)
    elif best is not None:
        text.append(f"Best by hit@5: {best.label()} (apply it with --apply-best)")
    return CommandResult(data, "\n".join(text))
