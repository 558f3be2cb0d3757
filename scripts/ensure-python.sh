#!/usr/bin/env bash
# Make sure the interpreter can create a virtual environment. Debian splits
# `venv`/`ensurepip` into python3.X-venv; install it when running as root.
set -euo pipefail
python="${1:?usage: ensure-python.sh PYTHON}"
"$python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
  || { echo "Tocsin needs Python 3.11 or newer (found: $("$python" --version))" >&2; exit 1; }
if "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  exit 0
fi
version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${version}-venv"
else
  echo "Python's venv module is missing: run 'sudo apt-get install python${version}-venv'" >&2
  exit 1
fi
