"""Static int8 for ExecuTorch's XNNPACK delegate: the XNNPACK pt2e quantizer, per-channel weights.

What XNNPACK runs in int8: conv, linear, add, mul, cat, average pooling. Softmax, the attention
bmm and the LayerNorm arithmetic stay fp32 inside the same delegate (XNNPACK has no int8 kernels
for them), with the (de)quantize steps between also delegated.
"""
from __future__ import annotations

from quant.pt2e import keep_float_filter, with_activation_observer

FLOAT_BY_BACKEND = ("matmul", "softmax", "layer_norm", "activation")


def xnnpack_quantizer(keep_ops=(), keep_modules=(), observer: str = "minmax"):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)
    config = get_symmetric_quantization_config(is_per_channel=True)
    if observer == "minmax":
        from torchao.quantization.pt2e.observer import MinMaxObserver
        config = with_activation_observer(config, MinMaxObserver.with_args(eps=2 ** -12))
    quantizer = XNNPACKQuantizer().set_global(config)
    quantizer.set_filter_function(keep_float_filter(keep_ops, keep_modules))
    return quantizer
