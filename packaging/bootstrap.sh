#!/usr/bin/env bash
# One entry point for a fresh machine of this kind (Debian 12, Python 3.11):
#   bash packaging/bootstrap.sh run    # install what is missing, then start RAGTune
#   bash packaging/bootstrap.sh test   # install what is missing, then run the test suite
#   bash packaging/bootstrap.sh build  # install what is missing, then build the bundle + .deb
# Extra arguments go to ragtune (run) or pytest (test).
set -euo pipefail
cd "$(dirname "$0")/.."
action="${1:-run}"
shift || true

bash packaging/system-deps.sh

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
quiet_pip() {
  # pip here warns about local index folders that do not exist; keep real errors.
  .venv/bin/python -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  return "${PIPESTATUS[0]}"
}
extras="test,packaging"
stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-$extras"
if [ ! -f "$stamp" ]; then
  quiet_pip install -q --upgrade pip
  quiet_pip install -q -e ".[$extras]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

case "$action" in
  run)
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
      echo "No display found: starting RAGTune on a virtual screen (Xvfb)." >&2
      exec xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/ragtune "$@"
    fi
    exec .venv/bin/ragtune "$@"
    ;;
  test)
    # A private session bus with an unlocked gnome-keyring, so the keychain tests talk to
    # a real Secret Service; no display, so Qt runs offscreen and nothing prompts.
    exec dbus-run-session -- bash packaging/test-session.sh "$@"
    ;;
  build)
    exec bash packaging/build.sh "$@"
    ;;
  *)
    echo "usage: bash packaging/bootstrap.sh run|test|build [args...]" >&2
    exit 2
    ;;
esac
