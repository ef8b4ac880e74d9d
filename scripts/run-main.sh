#!/usr/bin/env bash
# The main job on its embedded default (MobileViT-XXS), in ./.venv (created and installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/edge list
