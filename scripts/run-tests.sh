#!/usr/bin/env bash
# The whole test suite, in ./.venv (created and installed when missing). Extra args go to pytest.
# Without arguments: the code checks (scripts/run-checks.sh: ruff, mypy, import-linter), then two
# pytest-xdist workers (conversions are mostly single-threaded Python, so two cores run two test files
# at once; the 40 slowest tests are listed), then the timing-sensitive tests (-m serial) alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -q "$@"
fi
status=0
bash scripts/run-checks.sh || status=$?
.venv/bin/python -m pytest -q -n 2 --dist loadfile -m "not serial" --durations=40 || status=$((status ? status : $?))
.venv/bin/python -m pytest -q -m serial || status=$((status ? status : $?))
exit "$status"
