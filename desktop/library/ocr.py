"""Reading scanned pages offline: PaddleOCR's PP-OCRv6 small models on onnxruntime.

The models (resources/ocr/, from the rapidocr wheel: see packaging/ocr/fetch_models.py)
are run without rapidocr and without OpenCV, which rapidocr needs and which would cost
~180 MB of the bundle: the pre- and post-processing here (text-region grouping,
rotated boxes, box scores, box expansion, line crops) is numpy and Pillow. It follows
rapidocr 3.x's defaults (DB threshold 0.3, box threshold 0.5, unclip ratio 1.6, 2x2
dilation, recognition height 48, CTC greedy decoding, line score >= 0.5).

The angle classifier is not used (it turned upright lines upside down on clean pages);
a page read with low confidence is tried again turned by 90, 180 and 270 degrees.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from desktop.onnx import cpu_session

logger = logging.getLogger(__name__)

DETECTION_MODEL = "PP-OCRv6_det_small.onnx"
RECOGNITION_MODEL = "PP-OCRv6_rec_small.onnx"
#: Pages are rendered for OCR at this resolution (the models need no more for print).
RENDER_DPI = 150
_DET_MAX_SIDE = 960  # the detector sees the page at most this size: no accuracy lost
_DET_THRESHOLD = 0.3
_BOX_THRESHOLD = 0.5
_UNCLIP_RATIO = 1.6
_LINE_SCORE = 0.5
_REC_HEIGHT = 48
_REC_BATCH = 6
#: Below this page confidence the page is tried turned (a scan fed sideways).
RETRY_TURNED_BELOW = 0.85


class OcrUnavailable(RuntimeError):
    """The OCR models or onnxruntime are missing: said to the user as a reason."""


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: tuple[tuple[float, float], ...]  # four corners (x, y) in the image's pixels


@dataclass(frozen=True)
class OcrPage:
    """What OCR read on one page: its text (lines, blank lines between paragraphs) and
    the mean confidence of its characters (0..1)."""

    text: str
    confidence: float
    lines: tuple[OcrLine, ...]
    turned: int = 0  # degrees the page was turned to be read


def models_dir() -> Path:
    from desktop.resources import resource

    return resource("ocr")


class OcrEngine:
    """The two ONNX sessions, loaded once (0.5 s) and shared; onnxruntime releases the
    GIL, so pages of different files may be read on different threads."""

    def __init__(self, folder: Path | None = None, threads: int | None = None) -> None:
        folder = folder or models_dir()
        detection, recognition = folder / DETECTION_MODEL, folder / RECOGNITION_MODEL
        if not (detection.is_file() and recognition.is_file()):
            raise OcrUnavailable(
                f"the OCR models are missing from {folder} (packaging/ocr/fetch_models.py)"
            )
        threads = threads or max(1, min(4, os.cpu_count() or 1))
        try:
            self._det = cpu_session(detection, threads, memory_arena=False)
            self._rec = cpu_session(recognition, threads, memory_arena=False)
        except ImportError:  # pragma: no cover - a dependency
            raise OcrUnavailable("onnxruntime is not installed") from None
        self._det_input = self._det.get_inputs()[0].name
        self._rec_input = self._rec.get_inputs()[0].name
        characters = self._rec.get_modelmeta().custom_metadata_map["character"].split("\n")
        self._chars = np.array(["", *characters, " "], dtype=object)

    # -- the page ----------------------------------------------------------------------

    def read(self, image: Any) -> OcrPage:
        """Read a page: a PIL image or an RGB uint8 array (H, W, 3)."""
        from PIL import Image

        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        image = image.convert("RGB")
        page = self._read_upright(image)
        if page.lines and page.confidence >= RETRY_TURNED_BELOW:
            return page
        if not page.lines and not _has_ink(image):
            return page
        best = page
        for degrees in (180, 90, 270):
            turned = self._read_upright(image.rotate(degrees, expand=True))
            if (
                turned.confidence > best.confidence + 0.05
                and len(turned.text) >= len(best.text) // 2
            ):
                best = OcrPage(turned.text, turned.confidence, turned.lines, degrees)
            if best.confidence >= RETRY_TURNED_BELOW:
                break
        return best

    def _read_upright(self, image: Any) -> OcrPage:
        boxes = self._detect(image)
        if not boxes:
            return OcrPage("", 0.0, ())
        results = self._recognize([_crop(image, box) for box in boxes])
        lines = tuple(
            OcrLine(text.strip(), score, tuple((float(x), float(y)) for x, y in box))
            for (text, score), box in zip(results, boxes, strict=True)
            if score >= _LINE_SCORE and text.strip()
        )
        return OcrPage(_page_text(lines), _confidence(lines), lines)

    # -- detection -----------------------------------------------------------------------

    def _detect(self, image: Any) -> list[npt.NDArray[np.float64]]:
        from PIL import Image

        width, height = image.size
        ratio = min(1.0, _DET_MAX_SIDE / max(width, height))
        resized_h = max(32, int(round(int(height * ratio) / 32) * 32))
        resized_w = max(32, int(round(int(width * ratio) / 32) * 32))
        small = image.resize((resized_w, resized_h), Image.Resampling.BILINEAR)
        pixels = np.asarray(small, dtype=np.float32)[:, :, ::-1]  # the models read BGR
        batch = ((pixels / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32)
        probability = self._det.run(None, {self._det_input: batch})[0][0, 0]
        mask = probability > _DET_THRESHOLD
        dilated = mask.copy()  # a 2x2 dilation, as rapidocr's cv2.dilate
        dilated[1:, :] |= mask[:-1, :]
        dilated[:, 1:] |= mask[:, :-1]
        dilated[1:, 1:] |= mask[:-1, :-1]
        limit = np.array([probability.shape[1] - 1, probability.shape[0] - 1])
        boxes = []
        for rows, first, last in _components(dilated):
            points = np.concatenate([np.stack([first, rows], 1), np.stack([last, rows], 1)])
            center, u, v, w, h = _min_area_rect(_hull(points))
            if min(w, h) < 3:
                continue
            corners = _corners(center, u, v, w, h)
            x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, limit)
            x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int), 0, limit)
            yy, xx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
            dx, dy = xx - center[0], yy - center[1]
            inside = (np.abs(dx * u[0] + dy * u[1]) <= w / 2 + 0.5) & (
                np.abs(dx * v[0] + dy * v[1]) <= h / 2 + 0.5
            )
            region = probability[y0 : y1 + 1, x0 : x1 + 1][inside]
            if not region.size or float(region.mean()) < _BOX_THRESHOLD:
                continue
            # Unclip: offsetting a rectangle by d grows each side by 2d.
            d = w * h * _UNCLIP_RATIO / (2 * (w + h))
            if min(w, h) + 2 * d < 5:
                continue
            box = _corners(center, u, v, w + 2 * d, h + 2 * d)
            box[:, 0] = np.clip(np.round(box[:, 0] / resized_w * width), 0, width - 1)
            box[:, 1] = np.clip(np.round(box[:, 1] / resized_h * height), 0, height - 1)
            if np.linalg.norm(box[0] - box[1]) <= 3 or np.linalg.norm(box[0] - box[3]) <= 3:
                continue
            boxes.append(box)
        return _reading_order(boxes)

    # -- recognition ---------------------------------------------------------------------

    def _recognize(self, crops: Sequence[Any]) -> list[tuple[str, float]]:
        from PIL import Image

        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        ratios = [c.size[0] / c.size[1] for c in crops]
        order = np.argsort(ratios)
        for start in range(0, len(crops), _REC_BATCH):
            chosen = order[start : start + _REC_BATCH]
            widest = max(320 / _REC_HEIGHT, *(ratios[i] for i in chosen))
            width = int(_REC_HEIGHT * widest)
            batch = np.zeros((len(chosen), 3, _REC_HEIGHT, width), dtype=np.float32)
            for k, i in enumerate(chosen):
                line_width = min(width, math.ceil(_REC_HEIGHT * ratios[i]))
                resized = crops[i].resize((line_width, _REC_HEIGHT), Image.Resampling.BILINEAR)
                pixels = np.asarray(resized, dtype=np.float32)[:, :, ::-1]
                batch[k, :, :, :line_width] = ((pixels / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
            predictions = self._rec.run(None, {self._rec_input: batch})[0]
            ids, probabilities = predictions.argmax(2), predictions.max(2)
            for k, i in enumerate(chosen):
                keep = ids[k] != 0
                keep[1:] &= ids[k][1:] != ids[k][:-1]
                text = "".join(self._chars[ids[k][keep]])
                score = float(probabilities[k][keep].mean()) if keep.any() else 0.0
                out[i] = (text, score)
        return out


_ENGINE: OcrEngine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> OcrEngine:
    """The shared engine, loaded on first use; raises OcrUnavailable."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = OcrEngine()
        return _ENGINE


# ---------------------------------------------------------------------------
# Geometry (numpy stand-ins for the OpenCV calls rapidocr makes)
# ---------------------------------------------------------------------------


def _has_ink(image: Any) -> bool:
    """Whether a page has anything dark on it (a blank scan needs no second try)."""
    grey = np.asarray(image.convert("L").reduce(4), dtype=np.uint8)
    return bool((grey < 128).mean() > 0.001)


def _components(
    mask: npt.NDArray[np.bool_],
) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """8-connected regions of a mask as runs: (rows, first column, last column)."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    start_rows, start_cols = np.nonzero(steps == 1)
    _, end_cols = np.nonzero(steps == -1)
    parent = list(range(len(start_rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_start = np.searchsorted(start_rows, np.arange(height + 1)).tolist()
    starts, ends = start_cols.tolist(), end_cols.tolist()
    for row in range(1, height):
        i, i_end = row_start[row - 1], row_start[row]
        j, j_end = row_start[row], row_start[row + 1]
        while i < i_end and j < j_end:
            if starts[i] <= ends[j] and starts[j] <= ends[i]:  # touching, diagonals too
                a, b = find(i), find(j)
                if a != b:
                    parent[b] = a
            if ends[i] < ends[j]:
                i += 1
            else:
                j += 1
    groups: dict[int, list[int]] = {}
    for k in range(len(parent)):
        groups.setdefault(find(k), []).append(k)
    out = []
    for members in groups.values():
        index = np.array(members)
        out.append((start_rows[index], start_cols[index], end_cols[index] - 1))
    return out


def _hull(points: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    unique = np.unique(points, axis=0)
    if len(unique) < 3:
        return unique.astype(np.float64)
    ordered = unique[np.lexsort((unique[:, 1], unique[:, 0]))].tolist()

    def cross(o: list[int], a: list[int], b: list[int]) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[list[int]] = []
    upper: list[list[int]] = []
    for p in ordered:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(ordered):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1], dtype=np.float64)


def _min_area_rect(hull: npt.NDArray[np.float64]) -> tuple[Any, Any, Any, float, float]:
    """(center, u, v, w, h) of the smallest rectangle around the hull; u runs along w."""
    if len(hull) < 3:
        low, high = hull.min(0), hull.max(0)
        return (
            (low + high) / 2,
            np.array([1.0, 0.0]),
            np.array([0.0, 1.0]),
            float(high[0] - low[0]),
            float(high[1] - low[1]),
        )
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    c, s = np.cos(angles), np.sin(angles)
    px = hull[:, 0][None] * c[:, None] + hull[:, 1][None] * s[:, None]
    py = -hull[:, 0][None] * s[:, None] + hull[:, 1][None] * c[:, None]
    wx, wy = px.max(1) - px.min(1), py.max(1) - py.min(1)
    k = int(np.argmin(wx * wy))
    u, v = np.array([c[k], s[k]]), np.array([-s[k], c[k]])
    cx, cy = (px[k].max() + px[k].min()) / 2, (py[k].max() + py[k].min()) / 2
    return cx * u + cy * v, u, v, float(wx[k]), float(wy[k])


def _corners(center: Any, u: Any, v: Any, w: float, h: float) -> npt.NDArray[np.float64]:
    """Top-left, top-right, bottom-right, bottom-left (rapidocr's order)."""
    points = np.array(
        [
            center + sx * u * w / 2 + sy * v * h / 2
            for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
    )
    by_x = points[np.argsort(points[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1], kind="stable")]
    top_right, bottom_right = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([top_left, top_right, bottom_right, bottom_left])


def _reading_order(boxes: list[npt.NDArray[np.float64]]) -> list[npt.NDArray[np.float64]]:
    """Top to bottom, then left to right for boxes within 10 pixels of one line."""
    boxes.sort(key=lambda b: (b[0][1], b[0][0]))
    for i in range(len(boxes) - 1):
        for j in range(i, -1, -1):
            if (
                abs(boxes[j + 1][0][1] - boxes[j][0][1]) < 10
                and boxes[j + 1][0][0] < boxes[j][0][0]
            ):
                boxes[j], boxes[j + 1] = boxes[j + 1], boxes[j]
            else:
                break
    return boxes


def _crop(image: Any, box: npt.NDArray[np.float64]) -> Any:
    from PIL import Image

    top_left, top_right, bottom_right, bottom_left = box
    width = int(
        max(np.linalg.norm(top_left - top_right), np.linalg.norm(bottom_right - bottom_left))
    )
    height = int(
        max(np.linalg.norm(top_left - bottom_left), np.linalg.norm(top_right - bottom_right))
    )
    quad = (*top_left, *bottom_left, *bottom_right, *top_right)
    crop = image.transform(
        (max(width, 1), max(height, 1)),
        Image.Transform.QUAD,
        quad,
        resample=Image.Resampling.BICUBIC,
    )
    if height / max(width, 1) >= 1.5:
        crop = crop.transpose(Image.Transpose.ROTATE_90)
    return crop


def _page_text(lines: Sequence[OcrLine]) -> str:
    """Boxes side by side on one row become one line; a gap taller than half a line
    starts a paragraph. Lines arrive in reading order (``_reading_order``)."""
    if not lines:
        return ""

    def top(item: OcrLine) -> float:
        return min(y for _, y in item.box)

    def bottom(item: OcrLine) -> float:
        return max(y for _, y in item.box)

    rows: list[list[OcrLine]] = []
    for line in lines:
        if rows:
            last = rows[-1][-1]
            height = bottom(last) - top(last)
            same_height = abs((top(line) + bottom(line)) - (top(last) + bottom(last))) / 2
            after = min(x for x, _ in line.box) >= max(x for x, _ in last.box) - 2
            if after and same_height < 0.4 * height:
                rows[-1].append(line)
                continue
        rows.append([line])
    heights = sorted(bottom(r[0]) - top(r[0]) for r in rows)
    typical = heights[len(heights) // 2] or 1.0
    out: list[str] = []
    previous: float | None = None
    for row in rows:
        row_top = min(top(item) for item in row)
        if previous is not None:
            out.append("\n\n" if row_top - previous > 0.5 * typical else "\n")
        out.append(" ".join(item.text for item in row))
        previous = max(bottom(item) for item in row)
    return "".join(out)


def _confidence(lines: Sequence[OcrLine]) -> float:
    characters = sum(len(line.text) for line in lines)
    if not characters:
        return 0.0
    return sum(line.confidence * len(line.text) for line in lines) / characters
