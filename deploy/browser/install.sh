#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (Playwright drives it through executable_path;
# Playwright's own browser downloads are never used). Idempotent: does nothing when it is there.
set -euo pipefail

BROWSER=/usr/bin/chromium

if [[ -x "$BROWSER" ]]; then
  echo "chromium present: $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
  exit 0
fi

# fonts-dejavu-core covers Vietnamese diacritics in screenshots; the rest come with chromium.
"$(dirname "$0")/../apt-install.sh" chromium fonts-dejavu-core
echo "chromium installed: $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
