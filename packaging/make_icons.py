"""Render the app icon from resources/icons/ragtune.svg into the files installers want:
PNGs for the Linux icon theme, a .ico for Windows and a .icns for macOS.

Qt renders the SVG (offscreen, no display needed); .ico and .icns are simple containers
of PNG images, written here so the build needs no extra tools.

    python packaging/make_icons.py [--svg SVG] [--out build/icons]
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Sizes installed into the hicolor theme (and the base of the .ico and .icns).
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
#: Windows reads PNG-compressed entries up to 256 px (0 in the directory means 256).
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
#: Apple's PNG icon types: type code -> pixel size (the @2x types reuse a larger PNG).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),  # 512@2x
    (b"ic11", 32),  # 16@2x
    (b"ic12", 64),  # 32@2x
    (b"ic13", 256),  # 128@2x
    (b"ic14", 512),  # 256@2x
)


def render_pngs(svg: Path, sizes: set[int]) -> dict[int, bytes]:
    """PNG bytes of the SVG rendered at each size, on a transparent background."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: cannot read {svg}")
    pngs: dict[int, bytes] = {}
    for size in sorted(sizes):
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise SystemExit(f"make_icons: could not encode the {size} px PNG")
        buffer.close()
        pngs[size] = bytes(data.data())
    del app
    return pngs


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICO file whose entries are PNG images (supported since Windows Vista)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    directory = b""
    images = b""
    offset = len(header) + 16 * len(pngs)
    for size, png in sorted(pngs.items()):
        side = 0 if size >= 256 else size  # 0 means 256
        directory += struct.pack(
            "<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset + len(images)
        )
        images += png
    return header + directory + images


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICNS file of PNG entries (the format macOS 10.7+ reads for every size)."""
    body = b"".join(
        code + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for code, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=ROOT / "resources" / "icons" / "ragtune.svg")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "icons")
    args = parser.parse_args(argv)

    wanted = set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES}
    pngs = render_pngs(args.svg, wanted)
    args.out.mkdir(parents=True, exist_ok=True)
    for size in PNG_SIZES:
        (args.out / f"ragtune-{size}.png").write_bytes(pngs[size])
    (args.out / "ragtune.ico").write_bytes(ico_bytes({s: pngs[s] for s in ICO_SIZES}))
    (args.out / "ragtune.icns").write_bytes(icns_bytes(pngs))
    print(
        f"icons: {len(PNG_SIZES)} PNGs ({PNG_SIZES[0]}-{PNG_SIZES[-1]} px), ragtune.ico, "
        f"ragtune.icns in {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
