"""Format adherence: does an answer keep the format the set declares? Without it a
comparison rewards knowledge only, and what fine-tuning is mostly for goes unmeasured.

Three kinds of format (``FormatSpec``):

- ``json``: the answer is a JSON object or array (optionally in one Markdown fence);
- ``json_schema``: and it is valid against the set's schema. ``jsonschema`` is not a
  dependency, so a documented subset of JSON Schema is checked here: ``type`` (a name or
  a list of names: object, array, string, number, integer, boolean, null), ``enum``,
  ``const``, ``required``, ``properties``, ``additionalProperties`` (false or a schema),
  ``items`` (one schema), ``minItems``/``maxItems``, ``minLength``/``maxLength``,
  ``minimum``/``maximum``. A schema using any other keyword is refused when it is set,
  with the keyword named, rather than half-checked;
- ``template``: the shape inferred from a dataset's assistant replies
  (``desktop.reply_format``): a JSON object with the replies' keys, or the dominant line
  template (labels and Markdown markers, in order).

``check_format`` returns None for an answer that keeps the format, else its first
violation in words."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from desktop.evaluation.records import FormatSpec
from desktop.reply_format import PROSE, json_reply, reply_formats, reply_skeleton

SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
    }
)
DESCRIPTIVE_KEYWORDS = frozenset(
    {"$schema", "$id", "title", "description", "default", "examples", "$comment"}
)
_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}
MIN_TEMPLATE_SHARE = 0.5
"""A dataset's replies must be at least this share JSON objects, or this share one
template, for a format to be inferred from it."""


class SchemaError(ValueError):
    """A schema this checker cannot use, with the keyword or place named."""


def check_schema(schema: Any, where: str = "$") -> None:
    """Refuse a schema outside the supported subset (so nothing is half-checked)."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, Mapping):
        raise SchemaError(f"the schema at {where} is not an object")
    unknown = set(schema) - SCHEMA_KEYWORDS - DESCRIPTIVE_KEYWORDS
    if unknown:
        raise SchemaError(
            f"the schema at {where} uses {', '.join(sorted(unknown))}, which this version "
            f"does not check (supported: {', '.join(sorted(SCHEMA_KEYWORDS))})"
        )
    kinds = schema.get("type")
    for kind in kinds if isinstance(kinds, list) else [kinds] if kinds is not None else []:
        if kind not in (*_TYPES, "number", "integer"):
            raise SchemaError(f"the schema at {where} has an unknown type {kind!r}")
    for name, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{where}.{name}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        check_schema(extra, f"{where}.*")
    if "items" in schema:
        check_schema(schema["items"], f"{where}[]")


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, _TYPES[kind])


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "…"


def schema_violation(value: Any, schema: Any, where: str = "$") -> str | None:
    """The first place ``value`` breaks ``schema`` (the subset above), or None."""
    if schema is True or schema is None:
        return None
    if schema is False:
        return f"{where} is not allowed"
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, k) for k in names):
            return f"{where} is {_shown(value)}, not of type {' or '.join(names)}"
    if "const" in schema and value != schema["const"]:
        return f"{where} is {_shown(value)}, not {_shown(schema['const'])}"
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_shown(v) for v in schema["enum"])
        return f"{where} is {_shown(value)}, not one of {allowed}"
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return f"{where} is shorter than {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{where} is longer than {schema['maxLength']} characters"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where} is {value}, below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where} is {value}, above the maximum {schema['maximum']}"
    if isinstance(value, dict):
        for name in schema.get("required") or ():
            if name not in value:
                return f"{where} has no {name!r}"
        properties = schema.get("properties") or {}
        for name, item in value.items():
            if name in properties:
                found = schema_violation(item, properties[name], f"{where}.{name}")
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                if extra is False:
                    return f"{where} has an unexpected key {name!r}"
                found = schema_violation(item, extra, f"{where}.{name}")
            else:
                found = None
            if found:
                return found
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return f"{where} has fewer than {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{where} has more than {schema['maxItems']} items"
        if "items" in schema:
            for number, item in enumerate(value):
                found = schema_violation(item, schema["items"], f"{where}[{number}]")
                if found:
                    return found
    return None


def _not_json(answer: str) -> str:
    stripped = answer.strip()
    if not stripped:
        return "the answer is empty"
    try:
        json.loads(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos == 0:
            start = " ".join(stripped.split())
            start = start if len(start) <= 40 else start[:40].rstrip() + "…"
            return f"plain text, not JSON (it begins “{start}”)"
        reason = exc.msg[0].lower() + exc.msg[1:]
        return f"not valid JSON at line {exc.lineno}, column {exc.colno}: {reason}"
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    return "not a JSON object or array"


def check_format(answer: str, spec: FormatSpec) -> str | None:
    """None when ``answer`` keeps the format, else its first violation."""
    if not spec.declared:
        return None
    if spec.kind == "template" and spec.skeleton and not spec.json_keys:
        return _template_violation(answer, spec.skeleton)
    value = json_reply(answer)
    if value is None:
        return _not_json(answer)
    if spec.kind == "json_schema" and spec.schema is not None:
        return schema_violation(value, spec.schema)
    if spec.kind == "template" and spec.json_keys:
        if not isinstance(value, dict):
            return "a JSON array, where the replies are JSON objects"
        missing = [k for k in spec.json_keys if k not in value]
        if missing:
            return f"no {missing[0]!r} key"
        extra = [k for k in value if k not in spec.json_keys]
        if extra:
            return f"an unexpected key {extra[0]!r}"
    return None


def _template_violation(answer: str, template: tuple[str, ...]) -> str | None:
    found = reply_skeleton(answer)
    for number, (expected, got) in enumerate(zip(template, found, strict=False), start=1):
        if expected != got:
            return f"part {number} is {_frame(got)} where the template has {_frame(expected)}"
    if len(found) < len(template):
        return f"ends before {_frame(template[len(found)])}"
    if len(found) > len(template):
        return f"goes on after the template ends, with {_frame(found[len(template)])}"
    return None


def _frame(frame: str) -> str:
    return "a paragraph" if frame == PROSE else f"“{frame}”"


def infer_format(examples: Iterable[Any], source: str) -> tuple[FormatSpec, str]:
    """The format a dataset's trained replies share (for answers, the first reply's), and
    a sentence saying what was found."""
    found = reply_formats(examples)
    if not found.examples:
        return FormatSpec(), f"{source} has no assistant replies to learn a format from"
    if found.json_keys and found.json_objects >= MIN_TEMPLATE_SHARE * found.examples:
        count = dict(found.key_counts).get(found.json_keys, 0)
        spec = FormatSpec("template", json_keys=found.json_keys, source=source)
        return spec, (
            f"{count} of {found.examples} replies in {source} are JSON objects with the keys "
            f"{', '.join(found.json_keys)}"
        )
    if found.dominant and sum(found.template_flags) >= MIN_TEMPLATE_SHARE * found.examples:
        spec = FormatSpec("template", skeleton=found.dominant[0], source=source)
        return spec, (
            f"{sum(found.template_flags)} of {found.examples} replies in {source} follow "
            f"the template {found.template_text}"
        )
    if sum(found.json_flags) >= MIN_TEMPLATE_SHARE * found.examples:
        return FormatSpec("json", source=source), (
            f"{sum(found.json_flags)} of {found.examples} replies in {source} are JSON"
        )
    return FormatSpec(), (
        f"the replies in {source} share no format (under {MIN_TEMPLATE_SHARE:.0%} JSON or one "
        "template): declare one by hand"
    )
