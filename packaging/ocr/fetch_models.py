"""Copy the bundled OCR models out of the rapidocr wheel into resources/ocr/.

RAGTune reads scanned pages with PaddleOCR's PP-OCRv6 small detection and recognition
models (Apache-2.0), as ONNX files that the PyPI wheel ``rapidocr==3.10.0`` ships with
their licence and attribution notice. rapidocr itself is not a dependency: it imports
OpenCV (~180 MB in the bundle) unconditionally. The app runs the two models with
onnxruntime + numpy + Pillow (``desktop/library/ocr.py``), so only the model files and
the licence texts are taken from the wheel, checked against the sha256 below.

The angle classifier (``ch_ppocr_mobile_v2.0_cls``) is left out on purpose: it flipped
upright lines on clean pages (92.7% character accuracy with it, 100% without); pages
turned by 90/180 degrees are retried rotated when their confidence is low instead.

Run from the repository root (the wheel is fetched with ``pip download --no-deps``
unless ``--wheel`` names one already downloaded)::

    .venv/bin/python packaging/ocr/fetch_models.py [--wheel PATH] [--out resources/ocr]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "rapidocr"
VERSION = "3.10.0"
WHEEL_SHA256 = "2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050"
# member of the wheel -> (file name under resources/ocr, sha256)
FILES = {
    "rapidocr/models/PP-OCRv6_det_small.onnx": (
        "PP-OCRv6_det_small.onnx",
        "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    ),
    "rapidocr/models/PP-OCRv6_rec_small.onnx": (
        "PP-OCRv6_rec_small.onnx",
        "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    ),
    f"rapidocr-{VERSION}.dist-info/licenses/LICENSE": ("LICENSE", None),
    f"rapidocr-{VERSION}.dist-info/licenses/MODEL_LICENSES.md": ("MODEL_LICENSES.md", None),
}
README = f"""# OCR models

PaddleOCR PP-OCRv6 small text detection (`PP-OCRv6_det_small.onnx`) and recognition
(`PP-OCRv6_rec_small.onnx`, its character dictionary is inside the model's metadata),
Apache-2.0, copyright Baidu / the PaddleOCR authors; see `MODEL_LICENSES.md` and
`LICENSE`. Taken unchanged from the PyPI wheel `{PACKAGE}=={VERSION}` by
`packaging/ocr/fetch_models.py` (sha256-checked); run by `desktop/library/ocr.py`
with onnxruntime, numpy and Pillow (no OpenCV).
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(folder: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(folder),
            f"{PACKAGE}=={VERSION}",
        ],
        check=True,
    )
    return next(folder.glob(f"{PACKAGE}-{VERSION}-*.whl"))


def extract(wheel: Path, out: Path) -> None:
    actual = sha256(wheel.read_bytes())
    if actual != WHEEL_SHA256:
        raise SystemExit(f"{wheel.name}: sha256 {actual}, expected {WHEEL_SHA256}")
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member, (name, expected) in FILES.items():
            data = archive.read(member)
            if expected is not None and sha256(data) != expected:
                raise SystemExit(f"{member}: sha256 {sha256(data)}, expected {expected}")
            (out / name).write_bytes(data)
            print(f"{out / name}  {len(data):,} bytes")
    (out / "README.md").write_text(README, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="a rapidocr wheel already downloaded")
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "ocr")
    args = parser.parse_args()
    if args.wheel:
        extract(args.wheel, args.out)
        return
    with tempfile.TemporaryDirectory() as folder:
        extract(download_wheel(Path(folder)), args.out)


if __name__ == "__main__":
    main()
