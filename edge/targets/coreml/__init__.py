"""Core ML ML Program (.mlpackage, iOS 17+). Converts anywhere; runs only on macOS."""

from edge.targets.base import Target

TARGET = Target(
    "coreml",
    ".mlpackage",
    "Core ML ML Program, iOS 17+",
    "coreml",
    export_modules=("coremltools",),
    exporter="edge.targets.coreml.exporter:export_mlpackage",
    quants=("fp32", "fp16", "int8", "w8", "pal4", "pal6"),
    max_rank=4,
    unsupported_ops=("im2col", "col2im"),  # ANE/GPU work in rank <= 4; no im2col
    run_modules=("coremltools",),
    run_platforms=("Darwin",),
    image_input=True,  # app forms: ImageType input (CVPixelBuffer) and a classifier
    runtime="coreml",
    packages=("coremltools",),
    lowering_modules=("edge.targets.coreml.lowerings",),
)
