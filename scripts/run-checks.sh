#!/usr/bin/env bash
# The code's habits, checked in ./.venv: ruff (lint and format), mypy on the public API, and the
# import-linter contracts that keep the layers pointing one way (pyproject.toml). run-tests.sh runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
.venv/bin/ruff check --quiet . || status=1
.venv/bin/ruff format --check --quiet . || { echo "checks: ruff format would change the files above" >&2; status=1; }
.venv/bin/mypy --no-error-summary edge/export.py edge/models quant/config.py runtimes || status=1
.venv/bin/lint-imports --no-cache > .venv/lint-imports.log 2>&1 || { cat .venv/lint-imports.log; status=1; }  # names the broken contract and import
[ "$status" -eq 0 ] && echo "checks: ruff, mypy and import-linter passed"
exit "$status"
