"""ExecuTorch with the XNNPACK delegate: .pte files for Android and iOS."""

from edge.targets.base import Target

TARGET = Target(
    "xnnpack",
    ".pte",
    "ExecuTorch with the XNNPACK delegate (Android, iOS)",
    "xnnpack",
    export_modules=("executorch",),
    exporter="edge.targets.xnnpack.exporter:export_pte",
    quants=("fp32", "fp16", "int8"),
    run_modules=("executorch",),
    runtime="executorch",
    packages=("executorch",),
    lowering_modules=(
        "edge.targets.xnnpack.lowerings",
        "edge.targets.xnnpack.large_dwconv",
        "edge.targets.xnnpack.finish",
        "edge.targets.xnnpack.layout",
        "edge.targets.xnnpack.reductions",
        "edge.targets.xnnpack.indexing",
    ),
    quantizer="quant.xnnpack:xnnpack_quantizer",
    latency_candidates=("depthwise",),
    coverage="edge.targets.xnnpack.coverage:partitioner_coverage",
)
