"""ONNX for ONNX Runtime, plus the .ort format for ONNX Runtime Mobile."""

from edge.targets.base import Target

TARGET = Target(
    "onnx",
    ".onnx",
    "ONNX + .ort for ONNX Runtime Mobile",
    "onnx",
    export_modules=("onnx", "onnxscript"),
    exporter="edge.targets.onnx.exporter:export_onnx",
    quants=("fp32", "int8"),
    unsupported_ops=("im2col", "col2im"),  # no ONNX op: exported as huge gather graphs
    run_modules=("onnxruntime",),
    runtime="onnxruntime",
    packages=("onnx", "onnxscript", "onnxslim", "onnxruntime"),
    lowering_modules=("edge.targets.onnx.lowerings",),
    latency_candidates=("depthwise",),
)
