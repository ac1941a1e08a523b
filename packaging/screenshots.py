"""Screenshots of every tab, as a user sees them, at a chosen size and scale factor.

    .venv/bin/python packaging/screenshots.py --out build/shots --size 1400x900
    .venv/bin/python packaging/screenshots.py --out build/shots --size 1280x720 --scale 1.5

A fresh workspace in a temporary data dir gets the sample library (indexed with the
bundled local model), the sample dataset, and a question answered by a local
OpenAI-compatible stand-in (the tests' fake server, on 127.0.0.1), then each tab is
grabbed after the window settles. Offscreen by default (QT_QPA_PLATFORM=offscreen);
the README's screenshots come from here, so they show the app as it is."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="1400x900", help="logical window size WxH")
    parser.add_argument("--scale", type=float, default=1.0, help="QT_SCALE_FACTOR")
    parser.add_argument("--prefix", default="", help="file name prefix")
    parser.add_argument("--tabs", default="", help="comma-separated tab names (default: all)")
    parser.add_argument("--empty", action="store_true", help="a fresh workspace, no data")
    parser.add_argument(
        "--retrieval-test",
        metavar="QUERY",
        default="",
        help="also grab the Chat tab's retrieval test panel after searching QUERY, with "
        "every candidate the reranker read shown (retrieval-test.png)",
    )
    parser.add_argument(
        "--formats",
        action="store_true",
        help="only the chunk inspector on a slide deck and on a scanned (OCR'd) PDF page",
    )
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = f"{args.scale:g}"
    width, height = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from desktop.app import build_main_window, create_application
    from desktop.context import AppContext
    from desktop.workers import TaskManager
    from tests.helpers.fake_openai import FakeOpenAI

    data_dir = tempfile.mkdtemp(prefix="ragtune-shots-")
    server = FakeOpenAI().__enter__()
    app = create_application()
    context = AppContext.create(data_dir=data_dir)
    context.save_settings(
        context.settings.replace(
            provider="custom",
            base_url=server.base_url,
            chat_model="gpt-4.1-mini",
            retrieval_embedder="local",
        )
    )
    if not args.empty:
        _fill(context)
    tasks = TaskManager(app)
    window = build_main_window(context, tasks)
    window.resize(width, height)
    window.show()
    _settle(app, tasks, 2.0)
    if args.formats:
        _inspector_shots(app, tasks, window, context, args.out, args.prefix)
        wanted = ["-none-"]
    else:
        wanted = [t.strip() for t in args.tabs.split(",") if t.strip()]
    for index in range(window.tabs.count()):
        name = window.tabs.tabText(index)
        if wanted and name not in wanted:
            continue
        window.tabs.setCurrentIndex(index)
        _settle(app, tasks, 1.5)
        if name == "Chat" and not args.empty:
            chat = window.chat_tab
            if not chat.view.cards:
                chat.ask("How long do I have to return a device?")
                _settle(app, tasks, 4.0)
        slug = name.lower().replace(" ", "-")
        path = args.out / f"{args.prefix}{slug}.png"
        window.grab().save(str(path))
        print(f"{name}: {path} ({window.width()}x{window.height()} logical, scale {args.scale:g})")
        if name == "Chat" and args.retrieval_test and not args.empty:
            path = args.out / f"{args.prefix}retrieval-test.png"
            _grab_retrieval_test(app, tasks, window, args.retrieval_test, path)
            print(f"Retrieval test: {path}")
    window.close()
    tasks.shutdown()
    context.close()
    server.__exit__(None, None, None)
    QApplication.quit()
    return 0


def _fill(context) -> None:
    """The sample library, indexed offline, and the sample dataset."""
    from desktop.progress import run_to_end
    from desktop.resources import resource

    run_to_end(context.library().import_paths([resource("samples")]))
    retrieval = context.retrieval()
    embedder, plan = retrieval.plan("local")
    run_to_end(retrieval.index(embedder, plan))
    context.finetune().import_file(
        resource("datasets", "support-replies.jsonl"), "Support replies (sample)", "chat"
    )


def _grab_retrieval_test(app, tasks, window, query: str, path: Path) -> None:
    """The retrieval test panel after ``query``: each stage's ranks and scores, and the
    candidates the reranker left outside the top k."""
    chat = window.chat_tab
    panel = chat.retrieval_panel
    chat.views.setCurrentWidget(panel)
    panel.show_candidates.setChecked(True)
    panel.query.setText(query)
    panel.search()
    _settle(app, tasks, 3.0)
    panel.table.selectRow(0)
    _settle(app, tasks, 0.5)
    window.grab().save(str(path))


def _inspector_shots(app, tasks, window, context, out: Path, prefix: str) -> None:
    """The chunk inspector on a generated slide deck and on a PDF whose second page is a
    scan (read by OCR, marked with its confidence)."""
    from desktop.progress import run_to_end
    from tests.helpers.documents import make_pdf
    from tests.helpers.format_files import make_pptx, make_scanned_pdf, merge_pdfs, render_page

    folder = Path(tempfile.mkdtemp(prefix="ragtune-formats-"))
    topics = [
        (
            "Lumenfold Sync: the quarter in review",
            [
                "Sync conflicts fell 38% after the merge engine rewrite",
                (1, "Both copies are kept; the newer one keeps the name"),
                "Offline edits now upload in the background",
            ],
            "Mention the beta customers who reported the conflicts.",
        ),
        (
            "Where the support tickets came from",
            [
                "Login problems: 31% (single sign-on setup mostly)",
                "Billing questions: 22%, half about annual plan refunds",
                "Sync conflicts: 17%, down from 29% last quarter",
                (1, "The conflict dialog now explains which copy was kept"),
            ],
            "The SSO guide was rewritten in week 6.",
        ),
        ("Plans and prices", None, "Prices are per user and month, VAT excluded."),
        (
            "Security and compliance",
            [
                "Encryption at rest with per-workspace keys",
                "Audit log export to CSV and to the SIEM connector",
                "SOC 2 Type II report renewed in November",
            ],
            None,
        ),
        (
            "Next quarter",
            [
                "Selective sync for folders",
                "Refunds within 14 days, no questions asked",
                "A status page with the SLA figures of each region",
            ],
            "Ask for two more engineers for the sync team.",
        ),
    ]
    slides = []
    for title, bullets, notes in topics:
        slide: dict[str, object] = {"title": title, "bullets": bullets or []}
        if bullets is None:
            slide["table"] = [
                ["Plan", "Seats", "Price / month"],
                ["Solo", "1", "4 EUR"],
                ["Team", "up to 10", "12 EUR"],
                ["Business", "up to 50", "49 EUR"],
            ]
        if notes:
            slide["notes"] = notes
        slides.append(slide)
    deck = make_pptx(slides, title="Quarterly review")
    (folder / "quarterly-review.pptx").write_bytes(deck)
    lines = [
        "Service level agreement - scanned signed copy",
        "1. Availability. The service is available 99.9% of every calendar month.",
        "2. Support. Priority tickets are answered within four business hours.",
        "3. Credits. Each hour below the target earns a credit of 5% of the fee.",
        "4. Refunds. Annual plans are refunded pro rata within 14 days.",
    ]
    typed = make_pdf(["Service level agreement\nThe signed copy follows on the next page."])
    scan = make_scanned_pdf([render_page(lines, noise=10, angle=0.6)])
    (folder / "signed-sla.pdf").write_bytes(merge_pdfs([typed, scan]))
    library = context.library()
    run_to_end(library.import_paths([folder]))
    # Smaller chunks than the default, so that the slides' structure shows: a chunk
    # per slide or two, each with its slide number in the Page column.
    from desktop.library.chunking import RecursiveTokens

    library.apply_rechunk(run_to_end(library.plan_rechunk(RecursiveTokens(64, 0))))
    tab = window.library_tab
    for index in range(window.tabs.count()):
        if window.tabs.tabText(index) == "Library":
            window.tabs.setCurrentIndex(index)
    _settle(app, tasks, 2.0)
    tab.refresh()
    _settle(app, tasks, 2.0)
    documents = {d.title: d.id for d in context.library().documents()}
    for title, name in (("Quarterly review", "inspector-slides"), ("signed-sla", "inspector-ocr")):
        tab.select_document(documents[title])
        _settle(app, tasks, 2.5)
        if name == "inspector-ocr":
            rows = tab.inspector.panel.table_model.rowCount()
            if rows > 1:
                tab.inspector.panel.table.selectRow(rows - 1)
                _settle(app, tasks, 0.5)
        path = out / f"{prefix}{name}.png"
        window.grab().save(str(path))
        print(f"{title}: {path}")


def _settle(app, tasks, seconds: float) -> None:
    """Let the window paint and background work finish."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or tasks.running:
        app.processEvents()
        time.sleep(0.02)
        if time.monotonic() > deadline + 30:
            break


if __name__ == "__main__":
    raise SystemExit(main())
