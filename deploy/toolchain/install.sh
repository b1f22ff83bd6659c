#!/usr/bin/env bash
# Installs what `pip install` needs to compile the XES readers (`bench mining`'s scan,
# gateways/bench/_scan.c, and `import-xes`'s typed read, gateways/interchange/_xesread.c):
# a C compiler and the headers of the Python the project runs on. Idempotent: does nothing
# when both are there. Without them the project still installs and runs, with the same scan
# in Python and the import reading through lxml (slower).
set -euo pipefail

PY="${1:-python3}"
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
"$PY" - <<'PYTHON' || missing+=(python3-dev)
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PYTHON
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "compiled scan: C compiler and Python headers present"
  exit 0
fi

"$(dirname "$0")/../apt-install.sh" "${missing[@]}"
echo "compiled scan: installed ${missing[*]}"
