"""The formats half of the smoke test: a folder of one file per format the library reads
(scans included), written with the test helpers, then `ragtune import --json` of the
built bundle checked against it. It proves the bundle carries every loader's libraries
and the OCR models, and that stripping its binaries (packaging/strip_bundle.py) broke
none of them.

    python packaging/smoke_formats.py write DIR
    dist/ragtune/ragtune --data-dir D import DIR --json > REPORT.json
    python packaging/smoke_formats.py check REPORT.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import documents, format_files  # noqa: E402

FILES = (
    "manual.pdf", "policy.docx", "deck.pptx", "prices.xlsx", "sheet.ods", "notes.odt",
    "book.epub", "letter.rtf", "message.eml", "outlook.msg", "scan.pdf", "photo.png",
    "page.html", "guide.md", "config.yaml",
)  # fmt: skip


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "manual.pdf": documents.make_pdf(["Chapter one: the appliance.", "Chapter two."]),
        "policy.docx": documents.make_docx([("paragraph", "Refunds take 14 days.")]),
        "deck.pptx": format_files.make_pptx([{"title": "Roadmap", "bullets": ["Sync v2"]}]),
        "prices.xlsx": format_files.make_xlsx({"Prices": [["plan", "euros"], ["team", 12]]}),
        "sheet.ods": format_files.make_ods({"Stock": [["item", "count"], ["hub", 3]]}),
        "notes.odt": format_files.make_odt([("paragraph", "Meeting notes.")]),
        "book.epub": format_files.make_epub("Book", [("One", "<p>The first chapter.</p>")]),
        "letter.rtf": format_files.make_rtf(["Dear customer, thank you."]),
        "message.eml": format_files.make_email("Outage", "The sync service was down.").as_bytes(),
        "scan.pdf": format_files.make_scanned_pdf([format_files.render_page()]),
        "photo.png": format_files.image_bytes(format_files.render_page()),
        "page.html": documents.make_html("Pricing", "<p>The team plan costs 12 euros.</p>"),
        "guide.md": "# Guide\n\nRun the installer.\n",
        "config.yaml": "sync:\n  interval: 5\n",
    }
    for name, content in files.items():
        path = folder / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    shutil.copyfile(ROOT / "tests/library/data/mail.msg", folder / "outlook.msg")


def check(report_file: Path) -> int:
    report = json.loads(report_file.read_text(encoding="utf-8"))
    outcome = {Path(entry["path"]).name: entry for entry in report["files"]}
    problems = [
        f"{name}: {outcome[name]['outcome']} {outcome[name]['reason']}".strip()
        if name in outcome
        else f"{name}: not in the report"
        for name in FILES
        if name not in outcome
        or outcome[name]["outcome"] != "imported"
        or not outcome[name]["chunks"]
    ]
    problems += [f"not imported: {entry}" for entry in report["not_imported"]]
    if problems:
        print("formats: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"formats: {len(FILES)} files imported, one of each format, the scans read by OCR")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("write", "check"))
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.action == "write":
        write(args.path)
        return 0
    return check(args.path)


if __name__ == "__main__":
    raise SystemExit(main())
