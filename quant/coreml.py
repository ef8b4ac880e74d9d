"""Core ML compression: W8A8 (int8), int8 weights (w8), 4/6-bit palettized weights (pal4, pal6).

int8 (W8A8) is quantized on the PyTorch side with the shared pt2e flow (quant/pt2e.py) and then
converted: ct.convert turns the program's quantize/dequantize pairs into Core ML `quantize` /
`dequantize` ops and its int8 weights into `constexpr_affine_dequantize`. Only convolutions and
linear layers are annotated -- int8 symmetric per-tensor activations on their inputs, int8 symmetric
per-channel weights -- which is the W8A8 the Neural Engine runs as int8 (A17 Pro / M4 and later);
everything between them stays float16. Why not the quantizers Core ML ships:
- coremltools 9.0's `coremltools.optimize.torch.quantization` CoreMLQuantizer imports
  `torch.ao.quantization.quantizer`, which torch 2.13 no longer has (ModuleNotFoundError).
- ExecuTorch 1.5.1 carries a torchao port of it (`executorch.backends.apple.coreml.quantizer`); it
  works here (its output converts to the same quantize/dequantize/constexpr ops) but its annotation
  torch.exports 405 pattern graphs in strict mode: ~80 s per export on this machine, for any model.
- `coremltools.optimize.coreml.experimental.linear_quantize_activations` calibrates by running the
  model (MLModel.predict), which needs macOS.
Annotating every op the XNNPACK way (add, mul, cat, pooling, reshapes) as well put ~470 quantize /
dequantize ops into MobileViT-XXS and ~0.7 MB of op descriptions into the package (size 0.39x of fp32);
conv/linear inputs only keep it at ~0.27x.

w8, pal4, pal6 compress the converted fp16 ML Program with coremltools.optimize.coreml:
linear_quantize_weights (int8, symmetric, per output channel) and palettize_weights (k-means LUT with
16 / 64 entries, one LUT per tensor). Per-grouped-channel LUTs and per-channel scales need
iOS 18 (coremltools refuses them for an iOS 17 model), and edge's Core ML contract is iOS 17+.
Weights under 2048 elements (biases, norms, small depthwise kernels) stay fp16: coremltools' default
threshold, where the LUT or scales would cost about as much as they save.
"""

from __future__ import annotations

import torch

from quant.pt2e import NodeFilter, keep_float_filter

COMPRESSED_SCHEMES = ("int8", "w8", "pal4", "pal6")
PALETTE_BITS = {"pal4": 4, "pal6": 6}
WEIGHTED_OPS = ("conv2d", "linear")  # aten ops whose inputs get int8 in W8A8


def w8a8_quantizer(keep_ops=(), keep_modules=()):
    """A pt2e quantizer (torchao) for Core ML's W8A8."""
    from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec, Quantizer

    activation = QuantizationSpec(
        dtype=torch.int8,
        quant_min=-127,
        quant_max=127,
        qscheme=torch.per_tensor_symmetric,
        observer_or_fake_quant_ctr=MinMaxObserver.with_args(eps=2**-12),
    )
    weight = QuantizationSpec(
        dtype=torch.int8,
        quant_min=-127,
        quant_max=127,
        qscheme=torch.per_channel_symmetric,
        ch_axis=0,
        observer_or_fake_quant_ctr=PerChannelMinMaxObserver.with_args(eps=2**-12),
    )
    may_quantize: NodeFilter = keep_float_filter(keep_ops, keep_modules)

    class CoreMLW8A8Quantizer(Quantizer):
        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            for node in model.graph.nodes:
                if (
                    node.op == "call_function"
                    and getattr(node.target, "__name__", "").split(".")[0] in WEIGHTED_OPS
                    and may_quantize(node)
                ):
                    x, w = node.args[0], node.args[1]
                    reads_image = x.op == "placeholder"  # the model input stays exact (as on ONNX)
                    node.meta["quantization_annotation"] = QuantizationAnnotation(
                        input_qspec_map={w: weight} if reads_image else {x: activation, w: weight}, _annotated=True
                    )
            return model

        def validate(self, model: torch.fx.GraphModule) -> None:
            pass

    return CoreMLW8A8Quantizer()


def compress_weights(mlmodel, scheme: str):
    """w8 / pal4 / pal6 on a converted ML Program; returns the compressed MLModel."""
    import coremltools.optimize.coreml as cto

    if scheme == "w8":
        op_config = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel")
        return cto.linear_quantize_weights(mlmodel, cto.OptimizationConfig(global_config=op_config))
    if scheme in PALETTE_BITS:
        op_config = cto.OpPalettizerConfig(mode="kmeans", nbits=PALETTE_BITS[scheme], granularity="per_tensor")
        return cto.palettize_weights(mlmodel, cto.OptimizationConfig(global_config=op_config))
    raise ValueError(f"compress_weights takes w8, pal4 or pal6. Got {scheme!r}.")
