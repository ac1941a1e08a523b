"""``ragtune index`` and ``ragtune search``: the retrieval index, headless. ``search``
prints exactly what the chat would receive."""

from __future__ import annotations

import argparse
import sys

from desktop.commands.result import EXIT_FAILURE, CommandError, CommandResult


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    index = subparsers.add_parser(
        "index",
        parents=[common],
        help="embed the chunks that have no vector yet",
        description="Embed what is missing. For a paid embedder the number of chunks, "
        "tokens and the estimated cost are shown and confirmed unless --yes.",
    )
    index.add_argument(
        "--embedder", choices=("local", "openai"), help="default: the settings' choice"
    )
    index.add_argument(
        "--model",
        metavar="NAME",
        help="the embedding model: a bundled one for --embedder local (a wrong name lists them), "
        "the provider's model name for --embedder openai",
    )
    index.add_argument("--yes", action="store_true", help="do not ask before a paid run")
    index.set_defaults(handler=index_command)

    search = subparsers.add_parser(
        "search", parents=[common], help="search the library as the chat would"
    )
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--k", type=int, help="number of results (default: settings)")
    search.add_argument("--mode", choices=("vector", "lexical", "hybrid"))
    search.add_argument("--embedder", choices=("local", "openai"))
    search.add_argument(
        "--rerank",
        choices=("off", "maxsim", "llm"),
        help="reorder the best candidates: maxsim (bundled, offline), llm (the chat model, "
        "a request per question) or off (default: settings)",
    )
    search.add_argument(
        "--rerank-candidates", type=int, metavar="N", help="candidates the reranker reads"
    )
    search.add_argument(
        "--document",
        action="append",
        metavar="DOC",
        help="only this document (id, path, title or file name); repeatable",
    )
    search.add_argument(
        "--format",
        action="append",
        dest="formats",
        metavar="FORMAT",
        help="only documents of this format (pdf, markdown, ...); repeatable",
    )
    search.add_argument(
        "--tag",
        action="append",
        dest="tags",
        metavar="TAG",
        help="only documents with this tag; repeatable",
    )
    search.set_defaults(handler=search_command)


def _retrieval(args: argparse.Namespace):
    from desktop.commands.common import context_from

    return context_from(args).retrieval()


def index_command(args: argparse.Namespace) -> CommandResult | int:
    from desktop.commands.common import run_operation

    service = _retrieval(args)
    embedder, plan = service.plan(_requested(args))
    summary = {
        "embedder": plan.key.label(),
        "chunks": plan.total_chunks,
        "to_embed": len(plan.missing),
        "tokens": plan.tokens,
        "cost_usd": plan.cost_usd,
    }
    if not plan.missing:
        return CommandResult({**summary, "embedded": 0}, plan.describe())
    if plan.paid and not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(plan.describe() + " Re-run with --yes to confirm.")
        answer = input(plan.describe() + " Continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing embedded.", file=sys.stderr)
            return EXIT_FAILURE
    if not plan.paid and not args.json:
        print(plan.describe(), file=sys.stderr)
    result = run_operation(service.index(embedder, plan, wait_for_search_index=True), args)
    data = {
        **summary,
        "embedded": result.embedded,
        "truncated": result.truncated,
        "windowed": result.windowed,
        "requests": result.requests,
        "seconds": round(result.seconds, 3),
    }
    text = (
        f"Embedded {result.embedded:,} chunks with {plan.key.label()} in "
        f"{result.seconds:.1f} s ({result.requests} requests)"
    )
    if result.windowed:
        text += (
            f"; {result.windowed:,} were longer than the model's window and were embedded "
            "in windows"
        )
    if result.truncated:
        text += f"; {result.truncated:,} were longer than the model's limit and were cut"
    return CommandResult(data, text + ".")


def _requested(args: argparse.Namespace):
    """``--embedder`` alone, or with ``--model`` the exact embedder to index with."""
    from desktop.retrieval.local_embedder import available_models
    from desktop.retrieval.service import EmbedderChoice

    if not args.model:
        return args.embedder
    bundled = available_models()
    kind = args.embedder or ("local" if args.model in bundled else None)
    if kind is None:
        raise CommandError(
            f"{args.model!r} is not a bundled model ({', '.join(bundled)}); for your "
            "provider's model add --embedder openai"
        )
    if kind == "local" and args.model not in bundled:
        raise CommandError(
            f"no bundled embedding model is named {args.model!r}; choose one of "
            f"{', '.join(bundled)}"
        )
    return EmbedderChoice(kind, args.model)


def search_command(args: argparse.Namespace) -> CommandResult:
    import dataclasses

    service = _retrieval(args)
    service.approximate = "never"  # one search, then the process ends: one exact pass
    settings = service.search_settings()
    if args.k is not None:
        if args.k < 1:
            raise CommandError("--k must be at least 1")
        settings = dataclasses.replace(settings, k=args.k)
    if args.mode:
        settings = dataclasses.replace(settings, mode=args.mode)
    if args.rerank_candidates is not None:
        if not 2 <= args.rerank_candidates <= 100:
            raise CommandError("--rerank-candidates must be between 2 and 100")
        settings = dataclasses.replace(settings, rerank_candidates=args.rerank_candidates)
    result = service.search(
        args.query,
        settings,
        _filters(service, args),
        embedder=args.embedder,
        rerank=args.rerank,
    )
    data = [r.to_json() for r in result.results]
    lines = []
    for note in result.notes:
        lines.append(f"note: {note}")
    for r in result.results:
        parts = [f"#{r.rank}", f"score {r.score:.4f}"]
        if r.rerank is not None:
            parts[1] = f"rerank {r.rerank:.3f}"
            if r.first_rank is not None:
                parts.append(f"before reranking #{r.first_rank}")
        if r.cosine is not None:
            parts.append(f"cosine {r.cosine:.3f}")
        if r.bm25 is not None:
            parts.append(f"bm25 {r.bm25:.2f}")
        ranks = [
            f"{n} rank {v}"
            for n, v in (("vector", r.vector_rank), ("lexical", r.lexical_rank))
            if v
        ]
        source = (
            r.document
            + (f", p.{r.page}" if r.page else "")
            + (f", § {' › '.join(r.heading_path)}" if r.heading_path else "")
        )
        flag = "  [below threshold: not sent to the model]" if r.below_threshold else ""
        lines.append(" · ".join(parts + ranks) + f" · {source} [{r.start}:{r.end}]{flag}")
        lines.append("    " + " ".join(r.text.split())[:300])
    if not result.results:
        lines.append("No results.")
    reranked = f", reranked by {result.reranker}" if result.reranker else ""
    lines.append(
        f"({result.settings.mode}{reranked}, k={result.settings.k}, {result.latency_ms:.0f} ms; "
        f"{result.indexed_chunks:,} of {result.total_chunks:,} chunks embedded)"
    )
    return CommandResult(data, "\n".join(lines))


def _filters(service, args: argparse.Namespace):
    """Filters apply before ranking: a filtered-out chunk can never take a place."""
    from desktop.library.service import LibraryService
    from desktop.retrieval.search import SearchFilters

    document_ids = None
    if args.document:
        library = LibraryService(service.workspace, service.settings)
        found = [library.find_document(reference) for reference in args.document]
        missing = [r for r, d in zip(args.document, found, strict=True) if d is None]
        if missing:
            raise CommandError(f"no document matches {', '.join(map(repr, missing))}")
        document_ids = tuple(d.id for d in found if d is not None)
    return SearchFilters(
        document_ids=document_ids,
        formats=tuple(args.formats) if args.formats else None,
        tags=tuple(args.tags) if args.tags else None,
    )
