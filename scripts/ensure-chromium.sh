#!/usr/bin/env bash
# Makes sure a Chromium for the web app's end-to-end tests is present.
# The tests use CHROMIUM_PATH when set, else /usr/bin/chromium (Debian's `chromium` package).
# Installs that package with apt-get when running as root and it is absent; otherwise it
# explains what is missing and exits non-zero, so CI fails early with a readable message.
set -euo pipefail

target="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ -x "$target" ]; then
  echo "ensure-chromium: found $target ($("$target" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if [ -n "${CHROMIUM_PATH:-}" ]; then
  echo "ensure-chromium: CHROMIUM_PATH is set to '$CHROMIUM_PATH' but no executable is there." >&2
  echo "ensure-chromium: point CHROMIUM_PATH at a Chromium binary, or unset it to use /usr/bin/chromium." >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: /usr/bin/chromium is missing and this script is not running as root." >&2
  echo "ensure-chromium: install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2
  echo "ensure-chromium: or set CHROMIUM_PATH to an existing Chromium binary." >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium is missing and apt-get is not available on this system." >&2
  echo "ensure-chromium: install Chromium with the system's package manager, or set CHROMIUM_PATH." >&2
  exit 1
fi

echo "ensure-chromium: /usr/bin/chromium is missing; installing Debian's chromium package"
echo "ensure-chromium: running apt-get update"
DEBIAN_FRONTEND=noninteractive apt-get update
echo "ensure-chromium: running apt-get install -y chromium"
DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-chromium: apt-get finished but /usr/bin/chromium is still missing." >&2
  exit 1
fi
echo "ensure-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
