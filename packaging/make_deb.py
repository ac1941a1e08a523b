"""Build dist/ragtune_<version>_amd64.deb from the PyInstaller bundle in dist/ragtune/.

Layout: the bundle in /opt/ragtune, a launcher /usr/bin/ragtune, the desktop entry and the
icons in the hicolor theme. Depends is worked out from the bundle itself: every library a
bundled binary loads from the system (ldd, with the bundle first on the search path, as the
PyInstaller bootloader arranges at run time) is mapped to its Debian package (dpkg-query), so
the list follows whatever PyInstaller copied or left out. Compressed with zstd, which takes
seconds where xz takes minutes (dpkg 1.21.18 or later reads it: Debian 12, Ubuntu 21.10).

    python packaging/make_deb.py [--bundle dist/ragtune] [--out dist]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ragtune"
INSTALL_DIR = Path("opt") / PACKAGE
MAINTAINER = "RAGTune developers <ragtune@example.invalid>"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

# Needed at run time but not linked, so ldd cannot see them. fontconfig-config provides
# /etc/fonts (the bundled libfontconfig reads it) and depends on at least one font.
EXTRA_DEPENDS = ("fontconfig-config",)
RECOMMENDS = ("fonts-droid-fallback | fonts-noto-cjk",)  # CJK text renders as boxes without
SUGGESTS = ("gnome-keyring | kwalletmanager",)  # a Secret Service for the API key

LAUNCHER = f"""#!/bin/sh
# Starts RAGTune from its bundle (installed by the {PACKAGE} package).
exec /{INSTALL_DIR}/{PACKAGE} "$@"
"""

# Debian's hicolor-icon-theme and desktop-file-utils packages also refresh these caches
# through dpkg triggers; the explicit calls cover systems without the triggers and never
# fail the installation. The icon cache is only touched where the theme itself is
# installed, so no cache file is created that removal would leave behind.
_REFRESH = """refresh_caches() {
    if [ -f /usr/share/icons/hicolor/index.theme ] \\
        && command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q /usr/share/icons/hicolor >/dev/null 2>&1 || true
    fi
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q /usr/share/applications >/dev/null 2>&1 || true
    fi
}
"""
POSTINST = f"""#!/bin/sh
set -e
{_REFRESH}
case "$1" in
    configure|abort-upgrade|abort-remove|abort-deconfigure) refresh_caches ;;
esac
exit 0
"""
POSTRM = f"""#!/bin/sh
set -e
{_REFRESH}
case "$1" in
    remove|purge|abort-install|abort-upgrade) refresh_caches ;;
esac
exit 0
"""


def read_version() -> str:
    tree = ast.parse((ROOT / "desktop" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise SystemExit("make_deb: no __version__ in desktop/__init__.py")


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


_LDD_LINE = re.compile(r"^\s*(\S+) => (.+?) \(0x[0-9a-f]+\)$")
_LDD_VERSION = re.compile(r"\((GLIBC_(\d+)\.(\d+)(?:\.\d+)?)\)")


def system_libraries(bundle: Path) -> tuple[set[str], set[str], tuple[int, int]]:
    """(system library paths, unresolved names, newest GLIBC version) over all ELF files."""
    elf_files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    internal = bundle / "_internal"
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [str(internal)] + ([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else [])
    )

    def ldd(path: Path) -> str:
        result = subprocess.run(
            ["ldd", "-v", str(path)], capture_output=True, text=True, env=env, check=False
        )
        return result.stdout

    found: set[str] = set()
    missing: set[str] = set()
    glibc = (2, 0)
    bundle_prefix = str(bundle.resolve()) + os.sep
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for output in pool.map(ldd, elf_files):
            for line in output.splitlines():
                match = _LDD_LINE.match(line)
                if match:
                    name, target = match.groups()
                    if target == "not found":
                        missing.add(name)
                    elif not os.path.realpath(target).startswith(bundle_prefix):
                        found.add(target)
                    continue
                for _, major, minor in _LDD_VERSION.findall(line):
                    glibc = max(glibc, (int(major), int(minor)))
    return found, missing, glibc


def owning_package(path: str) -> str | None:
    """The Debian package that installed ``path`` (tries the /usr-merged spellings too)."""
    real = os.path.realpath(path)
    candidates = [path, real]
    for candidate in list(candidates):
        if candidate.startswith("/usr/"):
            candidates.append(candidate[4:])
        else:
            candidates.append("/usr" + candidate)
    for candidate in dict.fromkeys(candidates):
        result = subprocess.run(
            ["dpkg-query", "--search", candidate], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout:
            first = result.stdout.splitlines()[0]
            if first.startswith("diversion by"):
                continue
            return first.split(":", 1)[0].split(",")[0].strip()
    return None


def compute_depends(bundle: Path) -> list[str]:
    libraries, missing, glibc = system_libraries(bundle)
    if missing:
        raise SystemExit(
            "make_deb: the bundle needs libraries this machine lacks: "
            + ", ".join(sorted(missing))
            + " (run packaging/system-deps.sh)"
        )
    packages: set[str] = set()
    unowned = []
    for library in sorted(libraries):
        package = owning_package(library)
        if package is None:
            unowned.append(library)
        else:
            packages.add(package)
    if unowned:
        raise SystemExit(
            "make_deb: no Debian package owns " + ", ".join(unowned) + "; cannot state Depends"
        )
    packages.discard("libc6")
    depends = [f"libc6 (>= {glibc[0]}.{glibc[1]})"]
    depends += sorted(packages | set(EXTRA_DEPENDS))
    return depends


def installed_size_kib(tree: Path) -> int:
    total = 0
    for path in tree.rglob("*"):
        if path.is_relative_to(tree / "DEBIAN"):
            continue
        info = path.lstat()
        total += info.st_size if stat.S_ISREG(info.st_mode) else 0
    return (total + 1023) // 1024


def control_text(version: str, depends: list[str], size_kib: int) -> str:
    fields = {
        "Package": PACKAGE,
        "Version": version,
        "Architecture": "amd64",
        "Maintainer": MAINTAINER,
        "Installed-Size": str(size_kib),
        "Depends": ", ".join(depends),
        "Recommends": ", ".join(RECOMMENDS),
        "Suggests": ", ".join(SUGGESTS),
        "Section": "devel",
        "Priority": "optional",
        "Description": (
            "workbench to give an LLM knowledge of a domain\n"
            " RAGTune keeps your documents in a local, offline library, shows how they\n"
            " are chunked, retrieves from them to ground a chat model's answers (RAG),\n"
            " helps curate fine-tuning data and follow fine-tuning jobs, and answers\n"
            " whether RAG, fine-tuning or both fit the domain, from the evidence in\n"
            " your own workspace. It talks to the OpenAI API or any OpenAI-compatible\n"
            " server; the API key is kept in the system keychain.\n"
            " .\n"
            " This package installs a self-contained build (Python, Qt and all Python\n"
            " libraries included) in /opt/ragtune."
        ),
    }
    return "".join(f"{key}: {value}\n" for key, value in fields.items() if value)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def stage(bundle: Path, icons: Path, staging: Path, version: str) -> list[str]:
    if staging.exists():
        shutil.rmtree(staging)
    # Hard links when dist/ and build/ share a file system: staging 200+ MB then takes no time.
    shutil.copytree(bundle, staging / INSTALL_DIR, symlinks=True, copy_function=_link_or_copy)
    write(staging / "usr" / "bin" / PACKAGE, LAUNCHER, 0o755)
    share = staging / "usr" / "share"
    desktop_entry = share / "applications" / f"{PACKAGE}.desktop"
    desktop_entry.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / "packaging" / f"{PACKAGE}.desktop", desktop_entry)
    hicolor = share / "icons" / "hicolor"
    for size in ICON_SIZES:
        target = hicolor / f"{size}x{size}" / "apps" / f"{PACKAGE}.png"
        target.parent.mkdir(parents=True)
        shutil.copyfile(icons / f"{PACKAGE}-{size}.png", target)
    scalable = hicolor / "scalable" / "apps" / f"{PACKAGE}.svg"
    scalable.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / "resources" / "icons" / f"{PACKAGE}.svg", scalable)
    # Normalise permissions: the archive must not depend on the builder's umask.
    for path in staging.rglob("*"):
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            executable = path.stat().st_mode & 0o111
            path.chmod(0o755 if executable else 0o644)
    depends = compute_depends(staging / INSTALL_DIR)
    debian = staging / "DEBIAN"
    write(debian / "control", control_text(version, depends, installed_size_kib(staging)))
    write(debian / "postinst", POSTINST, 0o755)
    write(debian / "postrm", POSTRM, 0o755)
    return depends


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / PACKAGE)
    parser.add_argument("--icons", type=Path, default=ROOT / "build" / "icons")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--staging", type=Path, default=ROOT / "build" / "deb")
    parser.add_argument("--zstd-level", type=int, default=9)
    args = parser.parse_args(argv)

    if not (args.bundle / PACKAGE).is_file():
        raise SystemExit(f"make_deb: no bundle at {args.bundle} (run PyInstaller first)")
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("make_deb: dpkg-deb not found (Debian/Ubuntu only)")
    version = read_version()
    staging = args.staging / f"{PACKAGE}_{version}_amd64"
    depends = stage(args.bundle, args.icons, staging, version)
    args.out.mkdir(parents=True, exist_ok=True)
    deb = args.out / f"{PACKAGE}_{version}_amd64.deb"
    subprocess.run(
        [
            "dpkg-deb",
            "--build",
            "--root-owner-group",
            "-Zzstd",
            f"-z{args.zstd_level}",
            str(staging),
            str(deb),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(staging)
    print(f"deb: {deb} (Depends: {', '.join(depends)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
