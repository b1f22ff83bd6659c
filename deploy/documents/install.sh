#!/usr/bin/env bash
# Installs what the printed forms need from Debian: pango (WeasyPrint lays out and renders with
# it) and the DejaVu fonts (Vietnamese diacritics; the -extra package has the italics the forms
# use). Idempotent: does nothing when everything is there.
set -euo pipefail

PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fonts-dejavu-extra)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "printed forms: pango and fonts present"
  exit 0
fi

"$(dirname "$0")/../apt-install.sh" "${missing[@]}"
echo "printed forms: installed ${missing[*]}"
