"""Strip the symbol tables from the bundle's own ELF libraries (Linux; about 30 MB).

PyInstaller's ``strip=True`` strips every binary, and that breaks the libraries that
auditwheel repaired with patchelf (numpy's OpenBLAS then fails with "ELF load command
address/offset not page-aligned"). So only files that patchelf never touched are
stripped: those outside a wheel's ``*.libs`` folder whose run path does not point next to
themselves (``$ORIGIN``). That is libpython, the standard library's extension modules and
the Rust/C extensions built without vendored libraries (tokenizers, cryptography, regex,
tiktoken...). ``strip --strip-unneeded`` keeps what the dynamic linker needs.

    python packaging/strip_bundle.py dist/ragtune
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def run_path(path: Path) -> str:
    dynamic = subprocess.run(
        ["readelf", "-d", str(path)], capture_output=True, text=True, check=False
    ).stdout
    return " ".join(line for line in dynamic.splitlines() if "RPATH" in line or "RUNPATH" in line)


def strippable(path: Path) -> bool:
    if any(part.endswith(".libs") for part in path.parts):
        return False  # vendored by auditwheel: patched with patchelf
    return path.is_file() and not path.is_symlink() and is_elf(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    args = parser.parse_args()
    if not (shutil.which("strip") and shutil.which("readelf")):
        print("strip: binutils not found; the bundle is left as built", file=sys.stderr)
        return 0
    saved = stripped = 0
    for path in sorted(args.bundle.rglob("*")):
        if not strippable(path) or "$ORIGIN" in run_path(path):
            continue
        before = path.stat().st_size
        result = subprocess.run(
            ["strip", "--strip-unneeded", str(path)], capture_output=True, text=True
        )
        if result.returncode != 0:
            print(f"strip: left {path.name} as it was: {result.stderr.strip()}", file=sys.stderr)
            continue
        saved += before - path.stat().st_size
        stripped += 1
    print(f"strip: {stripped} libraries, {saved / 1e6:.1f} MB saved")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
