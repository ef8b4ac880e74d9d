"""ExecuTorch with the XNNPACK delegate: .pte files for Android and iOS."""
from edge.targets.base import Target

TARGET = Target("xnnpack", ".pte", "ExecuTorch with the XNNPACK delegate (Android, iOS)", "xnnpack",
                export_modules=("executorch",), exporter="edge.targets.xnnpack.exporter:export_pte", quants=("fp32", "fp16", "int8"),
                run_modules=("executorch",))
