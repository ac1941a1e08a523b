"""Check the retrieval questions in sample_questions.jsonl against the sample library.

Each question names a file in resources/samples and quotes a short passage from it that
contains the answer. A benchmark scores a retriever by whether the chunk it returns holds
that quote, so the quote must survive loading and must point to one place only:

- it occurs exactly once across all sample files (case-insensitive), in the named file,
  after decoding (UTF-8, else Windows-1252) and normalising CRLF to LF;
- it lies within one line of text (one element's text for HTML, with <script>, <style>
  and <nav> dropped, as the loader drops them; one line for CSV and JSON), so that
  re-flowing or re-serialising a document cannot split it;
- it is 3 to 25 words long (8 to 60 characters for Chinese or Japanese text).

"paraphrase" questions must share at most two content words with their quote, so that
they reward retrievers that match meaning, not vocabulary; "keyword" questions use the
product's own codes and setting names. It also checks that the library still exercises
what it is there to exercise: a Windows-1252 file, a CRLF file, valid JSON and CSV, HTML
with a title, a table and the boilerplate a loader must drop.

Run it by hand: python tests/benchmarks/data/check_questions.py. No third-party imports.
Exit status 0 when everything holds, 1 otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "resources" / "samples"
QUESTIONS = Path(__file__).resolve().parent / "sample_questions.jsonl"

EXPECTED_QUESTIONS = 60
MIN_PARAPHRASE = 40
MAX_SHARED_WORDS = 2  # content words a paraphrase question may share with its quote
KINDS = {"paraphrase", "keyword"}
FIELDS = {"id", "question", "document", "answer", "kind"}
DROPPED_TAGS = {"script", "style", "nav", "noscript", "template"}

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        """a about above after again all also am an and any are as at be been before being
    but by can could did do does doing done during each either for from get gets got had
    has have having he her here how i if in into is it its just may me might more most
    much must my no nor not now of off on once one only or other our out over own per
    same she should so some such than that the their them then there these they this
    those through to too under until up us very was we were what when where whether which
    while who whom why will with would yes yet you your lumenfold""",
    )
)


def decode(raw: bytes) -> tuple[str, str]:
    """The text of a sample file and the encoding it was read with."""
    try:
        text, encoding = raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("cp1252"), "cp1252"
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page, one segment per run of text between tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.segments: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_head = False
        self._in_title = False
        self.tags: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        if tag in DROPPED_TAGS:
            self._skip += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text or self._skip:
            return
        if self._in_title:
            self.title += text
            self.segments.append(text)
        elif not self._in_head:
            self.segments.append(text)


def segments_of(path: Path, text: str) -> list[str]:
    """The pieces of a document that a quote may not cross."""
    if path.suffix.lower() in {".html", ".htm"}:
        parser = _TextExtractor()
        parser.feed(text)
        parser.close()
        return parser.segments
    return text.split("\n")


def word_count_ok(answer: str) -> bool:
    if _CJK.search(answer):
        return 8 <= len(answer) <= 60
    return 3 <= len(re.findall(r"\w+", answer)) <= 25


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", text.lower())
    return {_stem(w) for w in words if w not in _STOPWORDS and len(w) > 1}


def check_library(errors: list[str]) -> dict[str, tuple[str, list[str]]]:
    """Read every sample file; check that the formats the library exists to show hold."""
    docs: dict[str, tuple[str, list[str]]] = {}
    encodings: dict[str, str] = {}
    crlf: list[str] = []
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file()):
        name = path.relative_to(SAMPLES).as_posix()
        raw = path.read_bytes()
        text, encodings[name] = decode(raw)
        if b"\r\n" in raw:
            crlf.append(name)
        suffix = path.suffix.lower()
        if suffix == ".json":
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                errors.append(f"{name}: invalid JSON: {exc}")
        elif suffix == ".csv":
            rows = list(csv.reader(io.StringIO(text)))
            widths = {len(r) for r in rows if r}
            if len(rows) < 2 or len(widths) != 1:
                errors.append(f"{name}: CSV rows have differing widths {sorted(widths)}")
        elif suffix in {".html", ".htm"}:
            parser = _TextExtractor()
            parser.feed(text)
            parser.close()
            missing = [
                t
                for t in ("title", "h1", "h2", "p", "table", "script", "nav")
                if not parser.tags[t]
            ]
            if missing or not parser.title:
                errors.append(f"{name}: HTML lacks {missing or ['a title']}")
            if any("lfTrack" in s or "schema.org" in s for s in parser.segments):
                errors.append(f"{name}: script text leaked into the extracted text")
        elif suffix == ".md" and not re.search(r"^## ", text, re.M):
            errors.append(f"{name}: Markdown without ## headings")
        docs[name] = (text, segments_of(path, text))

    cp1252 = [n for n, e in encodings.items() if e == "cp1252"]
    if not cp1252:
        errors.append("no Windows-1252 sample file (one must not decode as UTF-8)")
    for name in cp1252:
        text = docs[name][0]
        for needed in ("café", "naïve", "€"):
            if needed not in text:
                errors.append(f"{name}: decoded as cp1252 but has no {needed!r}")
    if not crlf:
        errors.append("no sample file with CRLF line endings")
    if not any(_CJK.search(text) for text, _ in docs.values()):
        errors.append("no sample file with Chinese or Japanese text")
    size = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    print(
        f"library: {len(docs)} files, {size / 1024:.1f} KiB; "
        f"cp1252: {', '.join(cp1252) or '-'}; CRLF: {', '.join(crlf) or '-'}"
    )
    return docs


def check_questions(docs: dict[str, tuple[str, list[str]]], errors: list[str]) -> None:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    kinds: Counter[str] = Counter()
    per_document: Counter[str] = Counter()
    seen_questions: set[str] = set()
    overlaps: list[int] = []
    lowered = {name: text.lower() for name, (text, _) in docs.items()}
    for number, line in enumerate(lines, start=1):
        where = f"line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: not JSON: {exc}")
            continue
        if not isinstance(item, dict) or set(item) != FIELDS:
            errors.append(f"{where}: fields must be exactly {sorted(FIELDS)}")
            continue
        qid, question, document, answer, kind = (
            item[k] for k in ("id", "question", "document", "answer", "kind")
        )
        where = f"{qid}"
        if qid != f"q{number:02d}":
            errors.append(f"{where}: expected id q{number:02d}")
        if kind not in KINDS:
            errors.append(f"{where}: kind {kind!r} is not one of {sorted(KINDS)}")
        kinds[kind] += 1
        if question in seen_questions:
            errors.append(f"{where}: duplicate question")
        seen_questions.add(question)
        if document not in docs:
            errors.append(f"{where}: no sample file named {document!r}")
            continue
        per_document[document] += 1
        if not word_count_ok(answer):
            errors.append(f"{where}: quote must be 3-25 words: {answer!r}")
        hits = {name: text.count(answer.lower()) for name, text in lowered.items()}
        total = sum(hits.values())
        if total != 1 or hits[document] != 1:
            found = {n: c for n, c in hits.items() if c}
            errors.append(
                f"{where}: quote must occur exactly once, in {document}; "
                f"found {found or 'nowhere'}: {answer!r}"
            )
            continue
        if not any(answer in segment for segment in docs[document][1]):
            errors.append(f"{where}: quote crosses a line or an HTML element: {answer!r}")
        if kind == "paraphrase" and not _CJK.search(question):
            shared = content_words(question) & content_words(answer)
            overlaps.append(len(shared))
            if len(shared) > MAX_SHARED_WORDS:
                errors.append(
                    f"{where}: paraphrase shares {len(shared)} content words "
                    f"with its quote: {sorted(shared)}"
                )
    if len(lines) != EXPECTED_QUESTIONS:
        errors.append(f"expected {EXPECTED_QUESTIONS} questions, found {len(lines)}")
    if kinds["paraphrase"] < MIN_PARAPHRASE:
        errors.append(
            f"need at least {MIN_PARAPHRASE} paraphrase questions, found {kinds['paraphrase']}"
        )
    untouched = sorted(set(docs) - set(per_document))
    mean = sum(overlaps) / len(overlaps) if overlaps else 0.0
    print(
        f"questions: {len(lines)} ({kinds['paraphrase']} paraphrase, "
        f"{kinds['keyword']} keyword) over {len(per_document)} of {len(docs)} files"
    )
    print("  per file: " + ", ".join(f"{n} {c}" for n, c in sorted(per_document.items())))
    if untouched:
        print(f"  files without questions: {', '.join(untouched)}")
    print(
        f"  paraphrase overlap (content words shared with the quote): mean {mean:.2f}, "
        f"histogram {dict(sorted(Counter(overlaps).items()))}"
    )


def main() -> int:
    errors: list[str] = []
    docs = check_library(errors)
    check_questions(docs, errors)
    for error in errors:
        print(f"FAIL {error}")
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
