"""``ragtune import``, ``ragtune documents`` and ``ragtune chunks``: the Library tab's
work, headless."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from desktop.commands.result import CommandError, CommandResult

# --size and --overlap mean the main parameters of each strategy.
_SIZE_OVERLAP = {
    "fixed_words": ("size_words", "overlap_words"),
    "sentences": ("max_tokens", "overlap_sentences"),
    "recursive_tokens": ("chunk_tokens", "overlap_tokens"),
    "structure": ("max_tokens", None),
}
_SHOWN_OUTCOME = {"added": "imported"}


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    importer = subparsers.add_parser(
        "import",
        parents=[common],
        help="import files and folders into the library",
        description="Import files and folders (recursively). Exit code 0 when the run "
        "completed, even if some files were skipped.",
    )
    importer.add_argument("paths", nargs="+", metavar="PATH", type=Path)
    importer.add_argument(
        "--ocr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read scanned PDF pages and images with the bundled OCR (default: the "
        "ocr_enabled setting, on unless changed)",
    )
    importer.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="read and chunk files in N processes (0: on a thread beside the writes; "
        "default: one per core, up to 4, for 100 files or more)",
    )
    importer.set_defaults(handler=import_command)

    documents = subparsers.add_parser(
        "documents", parents=[common], help="list the library's documents"
    )
    documents.set_defaults(handler=documents_command)

    chunks = subparsers.add_parser(
        "chunks",
        parents=[common],
        help="show how a document is chunked",
        description="Print a document's chunks as the inspector shows them. With a strategy "
        "the library is not changed unless --apply is given.",
    )
    chunks.add_argument(
        "document", metavar="DOCUMENT", help="document id, source path, title or file name"
    )
    chunks.add_argument("--strategy", choices=sorted(_SIZE_OVERLAP))
    chunks.add_argument("--size", type=int, help="chunk size (words or tokens by strategy)")
    chunks.add_argument("--overlap", type=int, help="overlap (words, sentences or tokens)")
    chunks.add_argument(
        "--apply", action="store_true", help="re-chunk the whole library with this strategy"
    )
    chunks.set_defaults(handler=chunks_command)


def _service(args: argparse.Namespace):
    from desktop.commands.common import context_from

    return context_from(args).library()


def import_command(args: argparse.Namespace) -> CommandResult:
    from desktop.commands.common import run_operation

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(missing)}")
    if args.processes is not None and not 0 <= args.processes <= 64:
        raise CommandError("--processes must be between 0 and 64")
    service = _service(args)
    # After the context: the server's environment is what its reading processes get
    # (the context's settings of it included). Its start-up overlaps the folders' walk.
    service.get_ready_to_import(args.paths, processes=args.processes)
    report = run_operation(
        service.import_paths(list(args.paths), ocr=args.ocr, processes=args.processes), args
    )
    files = [
        {
            "path": o.path,
            "outcome": _SHOWN_OUTCOME.get(o.outcome, o.outcome),
            "reason": o.reason,
            "document_id": o.document_id,
            "chunks": o.chunks,
        }
        for o in [*report.outcomes, *report.passed_over]
    ]
    not_imported = [{"path": o.path, "reason": o.reason} for o in report.not_imported]
    warnings = [{"path": path, "reason": reason} for path, reason in report.warnings]
    lines = [
        f"{f['outcome']:9} {f['path']}" + (f"  ({f['reason']})" if f["reason"] else "")
        for f in files
    ]
    lines += [f"{'warning':9} {w['path']}  ({w['reason']})" for w in warnings]
    lines.append(report.summary())
    return CommandResult(
        {
            "files": files,
            "not_imported": not_imported,
            "warnings": warnings,
            "summary": report.summary(),
            "ignored": report.ignored,
        },
        "\n".join(lines),
    )


def documents_command(args: argparse.Namespace) -> CommandResult:
    snapshot = _service(args).snapshot()
    rows = [
        {
            "id": d.id,
            "title": d.title,
            "format": d.format,
            "pages": d.page_count,
            "chunks": d.chunk_count,
            "tokens": d.token_count,
            "status": d.status,
            "source_path": d.source_path,
        }
        for d in snapshot.documents
    ]
    if not rows:
        return CommandResult([], "The library is empty. Add documents with: ragtune import PATH")
    lines = [f"{'id':>4}  {'format':8} {'pages':>5} {'chunks':>6} {'tokens':>8}  title"]
    lines += [
        f"{r['id']:>4}  {r['format']:8} {r['pages'] or '':>5} {r['chunks']:>6} "
        f"{r['tokens']:>8}  {r['title']}" + ("" if r["status"] == "ok" else f"  [{r['status']}]")
        for r in rows
    ]
    documents, chunks, tokens = snapshot.totals
    lines.append(f"{documents} documents, {chunks} chunks, {tokens} tokens")
    return CommandResult(rows, "\n".join(lines))


def _strategy(args: argparse.Namespace, current: Any) -> Any:
    from desktop.library.chunking import STRATEGIES

    if args.strategy is None and args.size is None and args.overlap is None:
        return None
    name = args.strategy or current.name
    size_field, overlap_field = _SIZE_OVERLAP[name]
    values: dict[str, int] = {}
    if args.size is not None:
        values[size_field] = args.size
    if args.overlap is not None:
        if overlap_field is None:
            raise CommandError(f"the {name} strategy has no overlap")
        values[overlap_field] = args.overlap
    try:
        return STRATEGIES[name](**values)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def chunks_command(args: argparse.Namespace) -> CommandResult:
    from desktop.library.chunking import strategy_params
    from desktop.library.preview import preview, view_of
    from desktop.progress import run_to_end

    service = _service(args)
    document = service.find_document(args.document)
    if document is None:
        raise CommandError(f"no document matches {args.document!r} (see: ragtune documents)")
    chunking = service.chunking()
    strategy = _strategy(args, chunking.strategy)
    content = service.content(document.id)
    text, pages = content.text, content.pages
    if strategy is None:
        view = view_of(content.chunks, text)
        shown = chunking.strategy
    else:
        view = preview(text, pages, strategy, chunking.encoding)
        shown = strategy
    applied = None
    if args.apply:
        if strategy is None:
            raise CommandError("--apply needs --strategy, --size or --overlap")
        plan = run_to_end(service.plan_rechunk(strategy))
        diff = service.apply_rechunk(plan)
        applied = {"kept": diff.kept, "added": diff.added, "removed": diff.removed}
    chunks = [
        {
            "index": c.index,
            "start": c.start,
            "end": c.end,
            "tokens": c.token_count,
            "page": c.page,
            "headings": list(c.heading_path),
            "text": c.text,
        }
        for c in view.chunks
    ]
    stats = view.stats
    data = {
        "document": {"id": document.id, "title": document.title},
        "strategy": strategy_params(shown),
        "encoding": chunking.encoding,
        "stored": strategy is None,
        "applied": applied,
        "stats": {
            "count": stats.count,
            "mean_tokens": stats.mean_tokens,
            "min_tokens": stats.min_tokens,
            "max_tokens": stats.max_tokens,
            "coverage": stats.coverage,
            "overlap_chars": stats.overlap_chars,
        },
        "chunks": chunks,
    }
    where = (
        "stored in the library"
        if strategy is None
        else ("applied to the library" if applied else "preview, library unchanged")
    )
    lines = [
        f"{document.title}: {stats.count} chunks with {shown.name} "
        f"{strategy_params(shown)} ({where})"
    ]
    for c in chunks:
        place = f"p.{c['page']} " if c["page"] else ""
        heading = " › ".join(c["headings"])
        lines.append(
            f"--- #{c['index'] + 1} [{c['start']}:{c['end']}] {c['tokens']} tokens "
            f"{place}{heading}".rstrip()
        )
        lines.append(c["text"])
    return CommandResult(data, "\n".join(lines))
