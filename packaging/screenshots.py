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
        if not args.tabs or "Evaluate" in args.tabs:
            _fill_evaluation(context, server)
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
                demo, server.chat_reply = server.chat_reply, _chat_reply
                chat.ask("How long do I have to return a device?")
                _settle(app, tasks, 4.0)
                server.chat_reply = demo  # the Evaluate tab's run answers its own questions
        slug = name.lower().replace(" ", "-")
        if name == "Library" and not args.empty:
            _select_in_library(app, tasks, window, context, "refund-policy")
        if name == "Evaluate" and not args.empty:
            for page, shot in _evaluate_pages(window, app, tasks, server):
                path = args.out / f"{args.prefix}{slug}-{page}.png"
                shot.save(str(path))
                print(f"{name} ({page}): {path}")
            continue
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


def _select_in_library(app, tasks, window, context, title: str, row: int = 1) -> None:
    """Show how the document ``title`` is chunked, its chunk ``row`` selected (-1: the
    last) when it has more than one."""
    documents = {d.title: d.id for d in context.library().documents()}
    if title not in documents:
        return
    tab = window.library_tab
    tab.select_document(documents[title])
    _settle(app, tasks, 2.5)
    rows = tab.inspector.panel.table_model.rowCount()
    if rows > 1:
        tab.inspector.panel.table.selectRow(row % rows)
        _settle(app, tasks, 0.5)


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
    for title, name, row in (
        ("Quarterly review", "inspector-slides", 0),
        ("signed-sla", "inspector-ocr", -1),
    ):
        _select_in_library(app, tasks, window, context, title, row)
        path = out / f"{prefix}{name}.png"
        window.grab().save(str(path))
        print(f"{title}: {path}")


FINE_TUNED = "ft:gpt-4.1-mini:lumenfold::demo"
QUESTIONS_FILE = ROOT / "tests" / "benchmarks" / "data" / "sample_questions.jsonl"


def _chat_reply(body: dict) -> str:
    """The stand-in server's answer to the Chat tab's question, citing the sources that
    hold the facts it states (found by their text, whatever their order)."""
    import re

    text = "\n".join(str(m.get("content") or "") for m in body.get("messages") or [])
    blocks = dict(re.findall(r'<source id="(\d+)"[^>]*>(.*?)</source>', text, re.DOTALL))

    def cite(fact: str) -> str:
        numbers = [n for n, block in blocks.items() if fact in " ".join(block.split())]
        return f" [{numbers[0]}]" if numbers else ""

    return (
        "You can return a Lumenfold Hub 2 or Hub 4 for any reason **within 30 days** of the "
        "delivery date shown in your order history"
        + cite("within 30 days of the delivery date")
        + ". Ask for an RMA number first and send the parcel while it is valid: the RMA "
        "number is valid for 21 days" + cite("valid for 21 days") + "."
    )


def _demo_reply(passages: dict[str, str]):
    """The stand-in server's answers for the Evaluate demo: with sources it quotes the
    passage for most questions, alone it often does not know; the fine-tuned model keeps
    the sample dataset's JSON format; the judge compares the answer with the reference.
    Deterministic (by the question's text), so the screenshots are the same each time."""
    import json
    import zlib

    def reply(body: dict) -> str:
        messages = body.get("messages") or []
        text = str(messages[-1].get("content") if messages else "")
        if body.get("response_format"):  # the judge
            answer = text.split("Answer to grade:")[-1]
            reference = text.split("Reference answer:")[-1].split("Sources given")[0].strip()
            correct = reference[:30].lower() in answer.lower()
            reason = "states the reference" if correct else "does not state the reference"
            return json.dumps({"correct": correct, "faithful": correct, "reason": reason})
        question = text.split("Question:")[-1].strip()
        passage = passages.get(question, "")
        luck = zlib.crc32(question.encode()) % 100
        grounded = "Sources:" in text
        knows = passage and luck < (85 if grounded else 25)
        answer = passage if knows else "The provided documents do not answer this question."
        if str(body.get("model", "")).startswith("ft:"):
            return json.dumps(
                {
                    "category": "other",
                    "answer": answer,
                    "next_step": "No action needed.",
                    "escalate": False,
                }
            )
        return answer + (" [1]" if grounded and knows else "")

    return reply


def _fill_evaluation(context, server) -> None:
    """The sample questions as an eval set with the sample dataset's format, runs in every
    mode answered by the stand-in server, and a small retrieval sweep."""
    import json

    from desktop.evaluation.sweep import SweepGrid
    from desktop.progress import drive, run_to_end
    from desktop.resources import resource

    finetune = context.finetune()
    finetune.import_file(resource("datasets", "support-replies.jsonl"), "Support replies")
    finetune.close()
    service = context.evaluation()
    mapping = {
        "question": "question",
        "answer": "answer",
        "source": "document",
        "passage": "answer",
        "tags": "kind",
    }
    service.import_file(QUESTIONS_FILE, "Sample questions", "jsonl", mapping=mapping)
    spec, _message = service.infer_format("Support replies")
    service.set_format("Sample questions", spec)
    passages = {}
    for line in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        passages[record["question"]] = record["answer"]
    server.models.append(FINE_TUNED)
    server.chat_reply = _demo_reply(passages)
    for mode in ("retrieval", "base", "rag", "ft", "ft-rag"):
        model = FINE_TUNED if mode.startswith("ft") else None
        judge = "gpt-4.1-mini" if mode != "retrieval" else ""
        config = service.config(mode, model=model, judge_model=judge, limit=40)
        run = service.start_run("Sample questions", config)
        drive(service.run_questions(run.id), stops_itself=True)
    grid = SweepGrid(
        ("recursive_tokens", "sentences", "fixed_words"),
        (96, 256),
        ("minilm-l6-v2-static256",),
        ("vector", "hybrid"),
        (3, 5),
    )
    run_to_end(service.sweep("Sample questions", grid))


def _evaluate_pages(window, app, tasks, server):
    """The Evaluate tab's pages: the set editor, a run in progress, compare, the sweep."""
    from desktop.ui.evaluation.dialogs import RunRequest

    tab = window.tab("Evaluate")
    _settle(app, tasks, 2.0)
    tab.questions.select_question(tab.questions.model.item(2).id)
    _settle(app, tasks, 0.5)
    yield "questions", window.grab()
    server.inject("/v1/chat/completions", delay=0.6, times=400)
    request = RunRequest(("rag",), "gpt-4.1-mini", "", "", "", "", "hybrid", 5, 60, 4)
    tab.start_runs(request)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
        if tab.runs_view.progress.isVisible() and tab.runs_view.progress.value() >= 14:
            break
    if tab.runs_view.results.rowCount() > 1:
        tab.runs_view.results_table.selectRow(1)
        app.processEvents()
    shot = window.grab()
    tab.stop_runs()
    _settle(app, tasks, 1.0)
    yield "run", shot
    _settle(app, tasks, 15.0)
    tab.pages.setCurrentWidget(tab.compare)
    _settle(app, tasks, 2.0)
    compare = tab.compare
    index = compare.metric.findData("correct")
    if index >= 0:
        compare.metric.setCurrentIndex(index)
    compare.questions_table.selectRow(2)
    _settle(app, tasks, 1.0)
    yield "compare", window.grab()
    tab.pages.setCurrentWidget(tab.sweep)
    _settle(app, tasks, 1.0)
    yield "sweep", window.grab()


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
