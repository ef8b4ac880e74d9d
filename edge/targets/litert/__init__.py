"""LiteRT (formerly TFLite): .tflite files for Android."""

from edge.targets.base import Target

TARGET = Target(
    "litert",
    ".tflite",
    "LiteRT / TFLite (Android)",
    "litert",
    export_modules=("litert_torch",),
    exporter="edge.targets.litert.exporter:export_tflite",
    quants=("fp32", "fp16", "int8"),
    max_rank=4,  # TFLite GPU delegate: tensors of rank <= 4 only
    run_modules=("ai_edge_litert",),
    runtime="litert",
    packages=("litert-torch", "ai-edge-litert", "ai-edge-quantizer"),
    lowering_modules=("edge.targets.litert.lowerings",),
    quantizer="quant.litert:litert_quantizer",
    latency_candidates=("depthwise",),
)
