#!/usr/bin/env bash
# The main job on its embedded default: MobileViT-XXS exported to every backend this machine can
# handle (each artifact verified against eager), then timed side by side. Uses ./.venv (created
# and installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/edge export mobilevit_xxs --target all -o out/main
.venv/bin/edge bench mobilevit_xxs --threads 2 --runs 50 --warmup 10
