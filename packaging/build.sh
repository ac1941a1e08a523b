#!/usr/bin/env bash
# Builds the double-click app: icons, the PyInstaller bundle, and (on Debian/Ubuntu) the .deb.
#   bash packaging/build.sh            # or: bash packaging/bootstrap.sh build
# Output: dist/ragtune/ (the bundle; dist/RAGTune.app on macOS), dist/ragtune_<version>_amd64.deb.
# Then: bash packaging/smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
if [ ! -x "$PYTHON" ]; then
  echo "build: $PYTHON not found; run 'bash packaging/bootstrap.sh build' first" >&2
  exit 1
fi
started=$(date +%s)
step() { echo "== $* ($(($(date +%s) - started)) s)" >&2; }

step "icons"
QT_QPA_PLATFORM=offscreen "$PYTHON" packaging/make_icons.py --out build/icons

step "PyInstaller bundle"
rm -rf dist/ragtune dist/RAGTune.app
# The build runs the app's Qt hooks offscreen; no display is needed.
QT_QPA_PLATFORM=offscreen "$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/ragtune.spec

if [ "$(uname -s)" = "Linux" ]; then
  step "strip"
  "$PYTHON" packaging/strip_bundle.py dist/ragtune
fi

deb=""
if command -v dpkg-deb >/dev/null 2>&1 && [ "$(uname -s)" = "Linux" ]; then
  step ".deb"
  rm -f dist/ragtune_*.deb
  "$PYTHON" packaging/make_deb.py --bundle dist/ragtune --icons build/icons --out dist
  deb=$(ls dist/ragtune_*.deb)
fi

step "done"
echo "bundle: dist/ragtune ($(du -s --apparent-size --block-size=1 dist/ragtune | awk '{printf "%.0f MB", $1 / 1e6}'))"
if [ -n "$deb" ]; then
  echo "deb:    $deb ($(du -h --apparent-size "$deb" | cut -f1))"
fi
echo "built in $(($(date +%s) - started)) s; check it with: bash packaging/smoke.sh"
