#!/usr/bin/env bash
# Runs inside `dbus-run-session`: starts a throwaway gnome-keyring, then the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/run" XDG_CONFIG_HOME="$scratch/config"
export XDG_CACHE_HOME="$scratch/cache"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
chmod 700 "$XDG_RUNTIME_DIR"
unset DISPLAY WAYLAND_DISPLAY
export QT_QPA_PLATFORM=offscreen
# gnome-keyring reads the unlock password on stdin and prints the variables to export.
eval "$(printf 'ragtune-test' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# The full test command: a missing system piece fails a test instead of skipping it.
export RAGTUNE_FULL_TESTS=1
status=0
# Lint first: ruff's rules are part of the suite (pyproject.toml [tool.ruff]).
.venv/bin/ruff check desktop tests packaging || status=$?
.venv/bin/python -m pytest "$@" || status=$?
exit "$status"
