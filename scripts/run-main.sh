#!/usr/bin/env bash
# The main job on its embedded default: MobileViT-XXS exported to every backend this machine can
# handle (each artifact verified against eager), every runnable artifact profiled on this host,
# then one comparison table and out/main/report.html. Uses ./.venv (created/installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=out/main
.venv/bin/edge export mobilevit_xxs --target all -o "$out"
records=()
for artifact in "$out"/mobilevit_xxs-xnnpack-fp32.pte "$out"/mobilevit_xxs-litert-fp32.tflite \
                "$out"/mobilevit_xxs-onnx-fp32.onnx "$out"/mobilevit_xxs-onnx-fp32.ort; do
  record="$out/record-$(basename "$artifact").json"
  .venv/bin/edge profile "$artifact" --threads 2 --runs 50 --warmup 10 -o "$record" > /dev/null
  records+=("$record")
done
.venv/bin/edge report "${records[@]}" -o "$out/report.html" --markdown
echo "report: $out/report.html"
