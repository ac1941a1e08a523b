#!/usr/bin/env bash
# Installs the Debian packages RAGTune needs on a fresh machine of this kind:
# Qt's xcb libraries, Xvfb for a headless screen, a Secret Service (gnome-keyring)
# for the keychain, fonts that cover CJK, and the tools the packaging checks use.
# Only what is missing is installed; a machine that has everything is left alone.
set -euo pipefail

packages=(
  # Qt's xcb platform plugin (see shared NOTES: the error message blames the wrong one)
  libegl1 libgl1 libglx0 libglvnd0 libglib2.0-0 libfontconfig1 libfreetype6
  libdbus-1-3 libx11-6 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0
  libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1
  libxkbcommon0 libxkbcommon-x11-0
  # a virtual screen and a session bus
  xvfb xauth dbus dbus-x11
  # a real Secret Service for the keychain tests
  gnome-keyring
  # fonts: Latin and CJK, so no glyph renders as a box
  fonts-dejavu-core fonts-droid-fallback
  # packaging checks: desktop entry validation, `gio launch` of the installed entry
  desktop-file-utils libglib2.0-bin
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing system packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
