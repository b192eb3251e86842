#!/usr/bin/env bash
# Runs one of the bench Python scripts inside bench/.venv, creating the
# virtualenv (aiohttp from PyPI, see requirements.txt) on first use.
# Usage: bench/_run.sh SCRIPT.py [args...]   (the bench/load etc. wrappers call it)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="$here/.venv"
if ! "$venv/bin/python" -c 'import aiohttp' 2>/dev/null; then
  echo "bench: creating $venv" >&2
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi
script="$1"; shift
exec "$venv/bin/python" -u "$here/$script" "$@"
