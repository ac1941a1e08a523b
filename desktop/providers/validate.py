"""A provider's responses are checked, never trusted: a proxy's HTML page where JSON
should be, or embeddings that are not one vector per text of the promised size, are
refused with a sentence that names the server and what was wrong, before anything is
stored."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from desktop.providers.errors import BadResponse, not_json

__all__ = ["BadResponse", "embedding_matrix", "not_json", "parse_json"]

FloatArray = npt.NDArray[np.float32]


def parse_json(raw: Any, *, host: str) -> Any:
    """Parse an SDK raw response (``client.x.with_raw_response.y(...)``), refusing a body
    that is not JSON whatever its content type claims."""
    headers = getattr(raw, "headers", {}) or {}
    content_type = headers.get("content-type")
    if content_type is not None and not content_type.split(";")[0].strip().endswith("json"):
        raise not_json(host, content_type, _text(raw))
    try:
        parsed = raw.parse()
    except json.JSONDecodeError as exc:
        raise not_json(host, content_type, exc.doc) from None
    if isinstance(parsed, str | bytes):  # the SDK hands back text it could not parse
        raise not_json(host, content_type, parsed)
    return parsed


def _text(raw: Any) -> str | None:
    try:
        return str(raw.text)
    except Exception:  # a body that cannot be decoded: say what we can without it
        return None


def _field(item: Any, name: str) -> Any:
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


def embedding_matrix(
    items: Sequence[Any] | None,
    *,
    count: int,
    dimensions: int | None,
    host: str,
    model: str,
) -> FloatArray:
    """The vectors of an embeddings response in input order, unit length, float32.

    Raises ``BadResponse`` unless there is exactly one vector per input (indices a
    permutation of 0..count-1), all of one length (``dimensions`` when known), finite,
    and none all zeros. Nothing is stored before this passes."""

    def refuse(what: str) -> BadResponse:
        return BadResponse(
            f"The embeddings from {host} were refused: {what}. Nothing from this batch was "
            f"saved. Try again; if it persists, check that {model} is an embedding model "
            "on that server."
        )

    rows = list(items or [])
    if len(rows) != count:
        raise refuse(f"it sent {len(rows)} vectors for {count} texts")
    order: dict[int, Any] = {}
    for position, item in enumerate(rows, start=1):
        index = _field(item, "index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise refuse(f"item {position} has no index (or not a whole number)")
        if index in order:
            raise refuse(f"it sent index {index} twice, so the vectors cannot be matched")
        if not 0 <= index < count:
            raise refuse(f"it sent index {index}, outside 0–{count - 1}")
        order[index] = item
    vectors: list[FloatArray] = []
    for index in range(count):
        value = _field(order[index], "embedding")
        if isinstance(value, str):  # base64, when the server ignored encoding_format
            try:
                vector = np.frombuffer(base64.b64decode(value), dtype="<f4")
            except ValueError:
                raise refuse(f"the vector for text {index + 1} is not valid base64") from None
        else:
            if value is None:
                raise refuse(f"the vector for text {index + 1} is null, not a list of numbers")
            try:
                vector = np.asarray(value, dtype=np.float32)
            except (TypeError, ValueError):
                raise refuse(
                    f"the vector for text {index + 1} holds something that is not a number"
                ) from None
            # numpy quietly turns a null into NaN: name it for what it is.
            if not np.isfinite(vector).all() and isinstance(value, list) and None in value:
                raise refuse(f"the vector for text {index + 1} holds null, not a number")
        if vector.ndim != 1 or vector.size == 0:
            raise refuse(f"the vector for text {index + 1} is not a list of numbers")
        vectors.append(vector)
    lengths = sorted({int(v.size) for v in vectors})
    if len(lengths) > 1:
        raise refuse(
            f"its vectors are of different lengths ({', '.join(map(str, lengths))} numbers)"
        )
    if dimensions is not None and lengths[0] != dimensions:
        raise refuse(
            f"its vectors are {lengths[0]} numbers long; {model} ({dimensions} dims) needs "
            f"{dimensions}"
        )
    matrix = np.vstack(vectors).astype(np.float32, copy=False)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite)) + 1
        raise refuse(f"the vector for text {first} holds NaN or Infinity, not a finite number")
    norms = np.linalg.norm(matrix, axis=1)
    if not (norms > 0).all():
        first = int(np.argmin(norms > 0)) + 1
        raise refuse(f"the vector for text {first} is all zeros (it has no direction)")
    return (matrix / norms[:, None]).astype(np.float32, copy=False)
