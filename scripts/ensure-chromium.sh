#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/e2e) if it is not already there.
# Playwright drives this system browser; it never downloads one of its own.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

echo "installing Chromium from Debian's packages"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "Chromium is not at $CHROMIUM after installing" >&2; exit 1; }
