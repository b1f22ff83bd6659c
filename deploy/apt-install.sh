#!/usr/bin/env bash
# apt-get installs the Debian packages named, as root or through sudo; the install scripts of
# deploy/ call it with what they found missing.
set -euo pipefail

[[ $# -gt 0 ]] || exit 0
SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  command -v sudo >/dev/null || { echo "missing $* and this user cannot apt-get install them" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "$@"
