#!/usr/bin/env bash
# Create ./.venv when it is missing and install edge with every backend into it.
# Safe to run again: it reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
[ -n "$python" ] || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 2; }

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.edge-install-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing edge[all,dev] into ./.venv (first time: a few minutes)" >&2
  # torch first and pinned, so no dependency can pull the multi-gigabyte CUDA build
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -e ".[all,dev]"
  .venv/bin/python -c 'import torch; assert torch.__version__.startswith("2.13.0"), torch.__version__'
  echo "$want" > "$stamp"
fi
# The emulated ARM64 device (runtimes/arm64): Debian's qemu-user-static and aarch64 cross compiler,
# aarch64 wheels and python3.11 in ~/.cache/edge/arm64. Optional: without it, --device arm64 and
# --verify-on say what is missing and the tests that need it skip with that line.
if [ "${EDGE_SKIP_ARM64:-0}" != 1 ] && ! .venv/bin/python -m runtimes.arm64.provision; then
  echo "setup: the ARM64 emulator is not (fully) set up; see the arm64: lines above" >&2
fi
