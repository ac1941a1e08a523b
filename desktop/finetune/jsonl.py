"""Reading and writing datasets: OpenAI chat and DPO JSONL, CSV, and open-source JSONL.

Import never stops at a bad line: a line that cannot become an example (not UTF-8,
not JSON, not an object, no message list) is reported with its 1-based line number
and the reason, and the rest import. Lines that are examples but wrong (a role
``bot``, no assistant reply) do import, so the user can fix them in the app; the
validator reports those.

Export writes through ``write_jsonl_atomic`` (a temporary file renamed into place:
never half a file), one JSON object per line with the keys in a fixed order,
``ensure_ascii=False`` and ``\\n`` line endings, so the same examples always give the
same bytes, and reading an export back gives the same examples.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from desktop.files import write_jsonl_atomic
from desktop.finetune.examples import (
    ExampleFormatError,
    Message,
    PreferenceExample,
    Split,
    TrainingExample,
)
from desktop.finetune.validation import INVALID_JSON, Issue

logger = logging.getLogger(__name__)

E = TypeVar("E", TrainingExample, PreferenceExample)

CSV_FORMAT_ERROR = "csv_format"


@dataclass
class ImportResult(Generic[E]):
    """What an import read: the examples, the line each came from, and the lines it could
    not read (as error ``Issue``s with ``index == -1``)."""

    examples: list[E] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        read = f"{len(self.examples):,} example(s) read"
        if not self.problems:
            return read
        return f"{read}; {len(self.problems):,} line(s) could not be read"


# ---------------------------------------------------------------------------
# JSONL import
# ---------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different (JSON readers silently keep the last of a
    repeated key, and the user never meant both)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return value


def _shown_key(key: str) -> str:
    """A key quoted for a message: as written, escaped only where it cannot be printed
    (a lone surrogate), and cut when long."""
    shown = json.dumps(key, ensure_ascii=not _printable(key))
    return shown if len(shown) <= 60 else shown[:57] + '…"'


def _printable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def iter_json_lines(data: bytes) -> Iterator[tuple[int, Any | None, str | None]]:
    """``(line number, value, None)`` for each non-blank line, or ``(n, None, reason)``.

    Splits on ``\\n`` only (``str.splitlines`` would also split inside a JSON string at
    U+2028 and friends) and tolerates ``\\r\\n`` and a UTF-8 byte-order mark. A key
    repeated within one object makes the line unreadable, with the key named.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, f"not UTF-8 text (byte {exc.start + 1})"
            continue
        try:
            value = json.loads(
                text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
            )
        except RecursionError:
            yield number, None, "not valid JSON: nested too deeply"
            continue
        except _RepeatedKey as exc:
            key = _shown_key(exc.key)
            yield (
                number,
                None,
                f"the key {key} appears twice in one object; JSON readers would keep only "
                "the last one, so say which one is meant",
            )
            continue
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            column = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            yield number, None, f"not valid JSON: {reason}{column}"
            continue
        if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
            yield number, None, "a string holds a lone surrogate escape (\\ud800–\\udfff)"
            continue
        yield number, value, None


def _read(
    data: bytes | str,
    build: Callable[[Any], E],
) -> ImportResult[E]:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    result: ImportResult[E] = ImportResult()
    for number, value, reason in iter_json_lines(data):
        if reason is not None:
            result.problems.append(Issue(number, -1, INVALID_JSON, "error", reason))
            continue
        try:
            example = build(value)
        except ExampleFormatError as exc:
            result.problems.append(Issue(number, -1, exc.category, "error", exc.message))
            continue
        result.examples.append(example)
        result.lines.append(number)
    if result.problems:
        logger.info("Import: %s", result.describe())
    return result


def parse_chat_jsonl(data: bytes | str, *, split: Split = "train") -> ImportResult[TrainingExample]:
    """Read OpenAI chat fine-tuning JSONL (plain, with weights, or with tools)."""
    return _read(data, lambda value: TrainingExample.from_openai(value, split=split))


def read_chat_jsonl(path: Path, *, split: Split = "train") -> ImportResult[TrainingExample]:
    return parse_chat_jsonl(Path(path).read_bytes(), split=split)


def parse_preference_jsonl(
    data: bytes | str, *, split: Split = "train"
) -> ImportResult[PreferenceExample]:
    """Read OpenAI preference (DPO) JSONL."""
    return _read(data, lambda value: PreferenceExample.from_openai(value, split=split))


def read_preference_jsonl(path: Path, *, split: Split = "train") -> ImportResult[PreferenceExample]:
    return parse_preference_jsonl(Path(path).read_bytes(), split=split)


# ---------------------------------------------------------------------------
# CSV import
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A CSV column, by header name or by 0-based position."""

    key: str | int


@dataclass(frozen=True)
class Constant:
    """The same text for every row (typically the system prompt)."""

    text: str


CsvSource = Column | Constant | str | int
"""In a mapping, a plain ``str`` is a header name and an ``int`` a column position."""

CSV_ROLES = ("system", "user", "assistant")
CSV_FIELDS = ("tags", "notes", "split")
_SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation"} | {
    "valid": "validation",
    "val": "validation",
}


def _source(value: CsvSource) -> Column | Constant:
    if isinstance(value, Column | Constant):
        return value
    if isinstance(value, str | int) and not isinstance(value, bool):
        return Column(value)
    raise TypeError(f"a CSV mapping value must be a column or a constant, not {value!r}")


def _sniff_delimiter(text: str) -> str:
    sample = text[:8192]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def parse_csv(
    data: bytes | str,
    mapping: Mapping[str, CsvSource],
    *,
    has_header: bool = True,
    delimiter: str | None = None,
    split: Split = "train",
) -> ImportResult[TrainingExample]:
    """Read a CSV file with one example per row.

    ``mapping`` gives the source of each message — ``{"system": Constant("You are…"),
    "user": "question", "assistant": "answer"}`` — and optionally ``"tags"`` (cells
    split at commas or semicolons), ``"notes"`` and ``"split"`` columns. User and
    assistant are required; an empty system cell leaves the system message out.
    Line numbers in problems are the line where the row starts (rows may span lines).
    """
    unknown = set(mapping) - set(CSV_ROLES) - set(CSV_FIELDS)
    if unknown:
        raise ValueError(f"unknown CSV mapping keys: {', '.join(sorted(unknown))}")
    for role in ("user", "assistant"):
        if role not in mapping:
            raise ValueError(f"the CSV mapping needs a source for {role!r}")
    sources = {key: _source(value) for key, value in mapping.items()}
    for key in CSV_FIELDS:
        if isinstance(sources.get(key), Constant):
            raise ValueError(f"{key!r} must be a column")
    result: ImportResult[TrainingExample] = ImportResult()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            result.problems.append(
                Issue(None, -1, CSV_FORMAT_ERROR, "error", f"not UTF-8 text (byte {exc.start + 1})")
            )
            return result
    text = data.removeprefix("\ufeff")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter or _sniff_delimiter(text)
    )
    header: list[str] | None = None
    previous_line = 0
    positions: dict[str, int] = {}
    try:
        for row in reader:
            line = previous_line + 1
            previous_line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if has_header and header is None:
                header = [cell.strip() for cell in row]
                missing = _resolve_columns(sources, header, positions)
                if missing:
                    result.problems.append(Issue(line, -1, CSV_FORMAT_ERROR, "error", missing))
                    return result
                continue
            if not has_header and not positions:
                missing = _resolve_columns(sources, None, positions)
                if missing:
                    result.problems.append(Issue(line, -1, CSV_FORMAT_ERROR, "error", missing))
                    return result
            _csv_row(row, line, sources, positions, split, result)
    except csv.Error as exc:
        result.problems.append(
            Issue(previous_line + 1, -1, CSV_FORMAT_ERROR, "error", f"not valid CSV: {exc}")
        )
    return result


def _resolve_columns(
    sources: Mapping[str, Column | Constant], header: list[str] | None, positions: dict[str, int]
) -> str | None:
    for key, source in sources.items():
        if not isinstance(source, Column):
            continue
        if isinstance(source.key, int):
            positions[key] = source.key
        elif header is None:
            return f"column {source.key!r} is named, but the file has no header row"
        elif source.key in header:
            positions[key] = header.index(source.key)
        else:
            return f"no column named {source.key!r} (columns: {', '.join(header)})"
    return None


def _csv_row(
    row: list[str],
    line: int,
    sources: Mapping[str, Column | Constant],
    positions: Mapping[str, int],
    split: Split,
    result: ImportResult[TrainingExample],
) -> None:
    cells: dict[str, str] = {}
    for key, source in sources.items():
        if isinstance(source, Constant):
            cells[key] = source.text
            continue
        position = positions[key]
        if position >= len(row) and key in CSV_FIELDS:
            cells[key] = ""  # a short row without its optional columns
            continue
        if position >= len(row):
            result.problems.append(
                Issue(
                    line,
                    -1,
                    CSV_FORMAT_ERROR,
                    "error",
                    f"the row has {len(row)} field(s); the {key} column is field {position + 1}",
                )
            )
            return
        cells[key] = row[position]
    messages = []
    if cells.get("system", "").strip():
        messages.append(Message("system", cells["system"]))
    messages.append(Message("user", cells["user"]))
    messages.append(Message("assistant", cells["assistant"]))
    tags = tuple(t.strip() for t in re.split(r"[,;]", cells.get("tags", "")) if t.strip())
    chosen = split
    if cells.get("split", "").strip():
        name = _SPLIT_NAMES.get(cells["split"].strip().lower())
        if name is None:
            result.problems.append(
                Issue(
                    line,
                    len(result.examples),
                    CSV_FORMAT_ERROR,
                    "warning",
                    f"split {cells['split']!r} is not train or validation; using {split}",
                )
            )
        else:
            chosen = "train" if name == "train" else "validation"
    result.examples.append(
        TrainingExample(tuple(messages), tags=tags, notes=cells.get("notes", ""), split=chosen)
    )
    result.lines.append(line)


def read_csv(
    path: Path,
    mapping: Mapping[str, CsvSource],
    *,
    has_header: bool = True,
    delimiter: str | None = None,
    split: Split = "train",
) -> ImportResult[TrainingExample]:
    return parse_csv(
        Path(path).read_bytes(), mapping, has_header=has_header, delimiter=delimiter, split=split
    )


def csv_header(path: Path, *, delimiter: str | None = None) -> list[str]:
    """The first row of a CSV file, for building a mapping in the import dialog."""
    with open(path, "rb") as handle:  # the first 64 KB hold the header of any sane CSV
        text = handle.read(65536).decode("utf-8-sig", "replace")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=delimiter or _sniff_delimiter(text)
    )
    for row in reader:
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row]
    return []


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSummary:
    train: int
    validation: int
    train_path: Path
    validation_path: Path | None
    """None when no validation file was written (none asked for, or no examples for it)."""


def _export(
    examples: Sequence[Any],
    record: Callable[[Any], dict[str, Any]],
    train_path: Path,
    validation_path: Path | None,
) -> ExportSummary:
    if validation_path is None:
        train = write_jsonl_atomic(Path(train_path), (record(e) for e in examples))
        return ExportSummary(train, 0, Path(train_path), None)
    if Path(validation_path).resolve() == Path(train_path).resolve():
        raise ValueError("the training and validation files must be different files")
    training = [e for e in examples if e.split == "train"]
    validating = [e for e in examples if e.split == "validation"]
    train = write_jsonl_atomic(Path(train_path), (record(e) for e in training))
    if not validating:
        return ExportSummary(train, 0, Path(train_path), None)
    validation = write_jsonl_atomic(Path(validation_path), (record(e) for e in validating))
    return ExportSummary(train, validation, Path(train_path), Path(validation_path))


def export_chat_jsonl(
    examples: Sequence[TrainingExample],
    train_path: Path,
    validation_path: Path | None = None,
) -> ExportSummary:
    """OpenAI chat JSONL. With ``validation_path``, examples go to the file of their
    split (the validation file is not written when no example is in it); without it,
    every example goes to ``train_path``."""
    return _export(examples, TrainingExample.to_openai, train_path, validation_path)


def export_preference_jsonl(
    examples: Sequence[PreferenceExample],
    train_path: Path,
    validation_path: Path | None = None,
) -> ExportSummary:
    """OpenAI preference (DPO) JSONL; splits as in ``export_chat_jsonl``."""
    return _export(examples, PreferenceExample.to_openai, train_path, validation_path)


def chat_messages_record(
    example: TrainingExample, *, training_field: str | None = None
) -> dict[str, Any]:
    """An example in the plain ``{"messages": [...]}`` shape open-source trainers read.

    What they expect (2025):
    - Hugging Face TRL ``SFTTrainer`` treats a ``messages`` column of
      ``{"role", "content"}`` dicts as a conversational dataset and applies the
      model's chat template; an optional ``tools`` column (OpenAI JSON-schema function
      definitions) is passed to the template.
    - Axolotl ``type: chat_template`` reads ``field_messages: messages`` with the
      default ``message_property_mappings`` (``role``/``content``) and
      ``field_tools: tools``; ``roles_to_train: ["assistant"]`` trains on replies.

    So: roles and string ``content`` (text parts joined; image parts dropped, as most
    chat templates take text); tool calls as ``{"type": "function", "function":
    {"name", "arguments"}}`` with ``arguments`` decoded to an object where it is JSON,
    because Hugging Face chat templates render it with ``tojson``; ``tool_call_id``
    kept on tool replies. OpenAI-only keys (``weight``, ``parallel_tool_calls``,
    ``name``) are left out. Since dropping ``weight`` would train on replies marked 0,
    ``training_field`` (e.g. ``"train"``, Axolotl's ``message_field_training``) writes
    a per-message true/false instead for assistant messages that have a weight.
    """
    messages: list[dict[str, Any]] = []
    for message in example.messages:
        out: dict[str, Any] = {"role": message.role, "content": message.text}
        if message.tool_calls:
            calls = []
            for call in message.tool_calls:
                if not isinstance(call, Mapping):
                    continue
                function = call.get("function")
                function = function if isinstance(function, Mapping) else {}
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    with contextlib.suppress(ValueError):
                        arguments = json.loads(arguments)
                calls.append(
                    {
                        "id": call.get("id"),
                        "type": "function",
                        "function": {"name": function.get("name"), "arguments": arguments},
                    }
                )
            out["tool_calls"] = calls
        if message.tool_call_id is not None:
            out["tool_call_id"] = message.tool_call_id
        if training_field and message.role == "assistant" and message.weight is not None:
            out[training_field] = message.weight != 0
        messages.append(out)
    record: dict[str, Any] = {"messages": messages}
    if example.tools:
        record["tools"] = [
            dict(tool) if isinstance(tool, Mapping) else tool for tool in example.tools
        ]
    return record


def export_chat_messages_jsonl(
    examples: Sequence[TrainingExample],
    train_path: Path,
    validation_path: Path | None = None,
    *,
    training_field: str | None = None,
) -> ExportSummary:
    """JSONL for TRL, Axolotl and similar trainers (see ``chat_messages_record``)."""
    return _export(
        examples,
        lambda e: chat_messages_record(e, training_field=training_field),
        train_path,
        validation_path,
    )


def chat_lines(examples: Iterable[TrainingExample]) -> bytes:
    """The exact bytes ``export_chat_jsonl`` writes, for previews and comparisons."""
    return b"".join(
        (json.dumps(e.to_openai(), ensure_ascii=False) + "\n").encode("utf-8") for e in examples
    )
