#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (Playwright drives it through executable_path;
# Playwright's own browser downloads are never used). Idempotent: does nothing when it is there.
set -euo pipefail

BROWSER=/usr/bin/chromium

if [[ -x "$BROWSER" ]]; then
  echo "chromium present: $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
  exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  command -v sudo >/dev/null || { echo "chromium is missing and this user cannot apt-get install it" >&2; exit 1; }
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# fonts-dejavu-core covers Vietnamese diacritics in screenshots; the rest come with chromium.
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "chromium installed: $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
