"""Images (.png, .jpg, .tiff: scans and photographed pages) read with the bundled OCR;
each frame of a multi-page TIFF is a page."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from desktop.library.formats.common import Extracted, LoadError, LoadOptions, join_pages

logger = logging.getLogger(__name__)
_MAX_PIXELS = 80_000_000  # beyond this an image is refused before it is decoded
_MAX_SIDE = 2600  # larger scans are scaled down: ~220 dpi for A4, plenty for print
_MAX_FRAMES = 2000


def load_image(path: Path, data: bytes, options: LoadOptions) -> Extracted:
    if not options.ocr:
        raise LoadError(path, "an image: OCR is off for this import, so it has no text to read")
    from PIL import Image, UnidentifiedImageError

    from desktop.library import ocr

    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        logger.info("%s: %r", path, error)
        raise LoadError(path, "corrupt or not an image (PNG, JPEG or TIFF)") from None
    if width * height > _MAX_PIXELS:
        raise LoadError(path, f"image too large to read ({width:,} × {height:,} pixels)")
    try:
        engine = ocr.engine()
    except ocr.OcrUnavailable as error:
        raise LoadError(path, f"OCR is not available: {error}") from None
    frames = min(getattr(image, "n_frames", 1), _MAX_FRAMES)
    texts: list[str] = []
    found: list[dict[str, Any]] = []
    for index in range(frames):
        options.check_cancelled()
        if frames > 1:
            options.report(f"OCR page {index + 1} of {frames}")
        try:
            image.seek(index)
            frame = _prepared(image)
        except (OSError, ValueError, SyntaxError) as error:
            logger.info("%s: frame %d: %r", path, index + 1, error)
            if index == 0:
                raise LoadError(path, "corrupt image: it cannot be decoded") from None
            texts.append("")
            continue
        page = engine.read(frame)
        texts.append(page.text)
        if page.text.strip():
            found.append(
                {"page": index + 1, "confidence": round(page.confidence, 4), "turned": page.turned}
            )
    if not found:
        pages = "image" if frames == 1 else f"{frames} pages of the image"
        return Extracted("", metadata={"empty_reason": f"OCR found no text on the {pages}"})
    text, starts = join_pages(texts)
    for entry in found:
        start = starts[entry["page"] - 1]
        entry["start"], entry["end"] = start, start + len(texts[entry["page"] - 1])
    return Extracted(
        text,
        pages=starts if frames > 1 else (),
        page_count=frames if frames > 1 else None,
        metadata={"ocr": found},
    )


def _prepared(image: Any) -> Any:
    from PIL import Image, ImageOps

    frame = ImageOps.exif_transpose(image) or image
    if frame.mode not in ("RGB", "L"):
        background = Image.new("RGB", frame.size, "white")
        converted = frame.convert("RGBA")
        background.paste(converted, mask=converted.getchannel("A"))
        frame = background
    frame = frame.convert("RGB")
    longest = max(frame.size)
    if longest > _MAX_SIDE:
        scale = _MAX_SIDE / longest
        frame = frame.resize(
            (max(1, int(frame.width * scale)), max(1, int(frame.height * scale))),
            Image.Resampling.LANCZOS,
        )
    return frame
