"""`edge bench --quant int8`: what a user would pick instead of edge, each runtime's own int8 flow
used the way its documentation shows, on the plain PyTorch model, with the same calibration inputs.

- litert-torch: its PT2EQuantizer with the default `get_symmetric_quantization_config()` (per-tensor
  weights), then `litert_torch.convert(..., quant_config=QuantConfig(pt2e_quantizer=...))`;
- onnxruntime: `quantize_static` with its defaults (QDQ, uint8 activations, int8 weights, MinMax) on
  the plain model's fp32 ONNX export;
- ExecuTorch: `XNNPACKQuantizer` with `get_symmetric_quantization_config(is_per_channel=True)` (its
  XNNPACK docs' example), then `to_edge_transform_and_lower` with the XnnpackPartitioner.
None of them gets edge's lowerings, fallbacks, delegate rewrites or per-backend plans.
"""

from __future__ import annotations

from pathlib import Path

import torch

PEER_INT8 = (
    "litert-torch int8 (PT2EQuantizer defaults)",
    "onnxruntime int8 (quantize_static defaults)",
    "executorch int8 (XNNPACKQuantizer, docs example)",
)


def peer_int8_artifacts(
    plain, folder: Path, calibration: list[torch.Tensor], plain_onnx: Path
) -> dict[str, Path | str]:
    """name -> artifact path for each peer flow, or the one-line reason it failed (a peer failing on a
    model is a result too). `plain` is the plain-PyTorch PreparedModel, `plain_onnx` its fp32 ONNX
    export (onnxruntime quantizes an ONNX file)."""
    flows = {
        PEER_INT8[0]: (_litert, plain, ".tflite"),
        PEER_INT8[1]: (_onnxruntime, plain_onnx, ".onnx"),
        PEER_INT8[2]: (_executorch, plain, ".pte"),
    }
    made: dict[str, Path | str] = {}
    for i, (name, (flow, source, suffix)) in enumerate(flows.items()):
        path = folder / f"{plain.name}-peer{i}-int8{suffix}"
        try:
            flow(source, calibration, path)
            made[name] = path
        except Exception as e:  # a peer's own converter failing is reported, not raised
            made[name] = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return made


def _litert(plain, calibration, path: Path) -> None:
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    from quant.litert import quantized_tflite

    quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config())
    path.write_bytes(quantized_tflite(plain.program, quantizer, calibration, plain.example_inputs))


def _onnxruntime(fp32_onnx, calibration, path: Path) -> None:
    import onnx
    from onnxruntime.quantization import quantize_static

    from quant.onnx import CalibrationReader

    name = onnx.load_model(str(fp32_onnx), load_external_data=False).graph.input[0].name
    quantize_static(str(fp32_onnx), str(path), CalibrationReader([{name: x.numpy()} for x in calibration]))


def _executorch(plain, calibration, path: Path) -> None:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from executorch.exir import to_edge_transform_and_lower

    from quant.pt2e import quantize_program

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    program = quantize_program(plain.program, quantizer, calibration, plain.example_inputs)
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    path.write_bytes(lowered.to_executorch().buffer)
