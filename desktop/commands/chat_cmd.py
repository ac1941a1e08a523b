"""``ragtune ask``: a grounded answer streamed to stdout, then its sources with scores.
OPENAI_API_KEY and OPENAI_BASE_URL work here as in the app. Exit 1 when no whole answer
came (an error, or an answer cut off: its partial text is still printed, and ``--json``
keeps it with its ``"status"``)."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from desktop.commands.result import EXIT_FAILURE, CommandError, CommandResult


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ask = subparsers.add_parser(
        "ask",
        parents=[common],
        help="answer a question from the library",
        description="Retrieve the top chunks, stream a grounded answer to stdout, then print "
        "the sources with their scores.",
    )
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--model", help="chat model (default: the settings' chat model)")
    ask.add_argument("--k", type=int, help="number of chunks to retrieve")
    ask.add_argument(
        "--embedder",
        choices=("local", "openai"),
        help="whose vectors to search (default: the ones this workspace was indexed with)",
    )
    ask.add_argument(
        "--no-retrieval", action="store_true", help="ask the model alone, without sources"
    )
    ask.set_defaults(handler=ask_command)


def ask_command(args: argparse.Namespace) -> CommandResult | int:
    from desktop.chat.answer import AnswerDelta, RateLimitWait
    from desktop.chat.session import AskOptions
    from desktop.commands.common import context_from, run_operation
    from desktop.logs import redact, redact_known
    from desktop.progress import CancelToken

    context = context_from(args)
    chat = context.chat()
    chat.retrieval.approximate = "never"  # one question, then the process ends
    settings = chat.retrieval.search_settings()
    if args.k is not None:
        if args.k < 1:
            raise CommandError("--k must be at least 1")
        settings = dataclasses.replace(settings, k=args.k)
    options = AskOptions(
        model=args.model or context.settings.chat_model,
        mode="none" if args.no_retrieval else "rag",
        search=settings,
        embedder=args.embedder,
    )
    stream = not args.json
    live = sys.stderr.isatty()

    def show(event: object) -> None:
        if stream and isinstance(event, AnswerDelta):
            print(event.text, end="", flush=True)
        elif isinstance(event, RateLimitWait):
            # A countdown in place on a terminal; one line per wait in a log or pipe.
            if live:
                end = "\n" if event.seconds <= 1 else ""
                line = f"[{event.message()}]"
                print(f"\r{line:<79}", end=end, file=sys.stderr, flush=True)
            elif not waits or waits[-1] != event.attempt:
                print(f"[{event.message()}]", file=sys.stderr, flush=True)
            waits.append(event.attempt)

    waits: list[int] = []

    cancel = CancelToken()  # Ctrl+C stops the answer; what was streamed is kept
    record = run_operation(
        chat.ask(args.question, options, cancel=cancel),
        args,
        on_event=show,
        cancel=cancel,
        stops_itself=True,
    )
    data = record.to_json()
    outcome = record.outcome
    if args.json:
        print(redact_known(__import__("json").dumps(data, indent=2, ensure_ascii=False)))
    else:
        if outcome.text:
            print()
        if outcome.status != "complete":
            print(f"\n[{outcome.status_note()}]")
        if data["sources"]:
            print("\nSources:")
        for source in data["sources"]:
            used = "cited" if source["number"] in record.cited else "not cited"
            cosine = source.get("cosine")
            cosine_text = f" cosine {cosine:.3f}" if isinstance(cosine, float) else ""
            page = f", p. {source['page']}" if source.get("page") else ""
            print(
                f"[{source['number']}] {source['document']}{page} · score "
                f"{source['score']:.4f}{cosine_text} · {used}"
            )
    if outcome.status in ("error", "no_provider", "cut_off"):
        # A cut-off answer keeps its partial text (printed above, or in --json with its
        # "status"), but the command did not get a whole answer: it fails.
        print(f"ragtune: error: {redact(outcome.status_note())}", file=sys.stderr)
        return EXIT_FAILURE
    return 0
