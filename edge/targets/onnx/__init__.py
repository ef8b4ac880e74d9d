"""ONNX for ONNX Runtime, plus the .ort format for ONNX Runtime Mobile."""
from edge.targets.base import Target

TARGET = Target("onnx", ".onnx", "ONNX + .ort for ONNX Runtime Mobile", "onnx",
                export_modules=("onnx", "onnxscript"), run_modules=("onnxruntime",))
