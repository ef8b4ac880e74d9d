"""fp16 for XNNPACK: ExecuTorch's fp16 path is a half-precision program, which XNNPACK runs with its
fp16 kernels (ARMv8.2 phones: native fp16 vector arithmetic; CPUs without it: XNNPACK's emulation or
fp32 fallbacks). The artifact keeps float32 input and output, as every other export: one cast at
each end, so apps feed it the same tensors as the fp32 .pte."""

from __future__ import annotations

import copy

import torch

from common.errors import ExportError


class HalfInside(torch.nn.Module):
    """The model in float16 between a float32 input and a float32 output."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.inner = copy.deepcopy(model).half().eval()

    def forward(self, x):
        return self.inner(x.to(torch.float16)).to(torch.float32)


def half_program(model: torch.nn.Module, example_inputs: tuple, input_form: str) -> torch.export.ExportedProgram:
    """The fp16 program of `model` with XNNPACK's lowerings applied, as the fp32 export gets them."""
    if input_form != "nchw-float":
        raise ExportError(
            f"xnnpack fp16 takes the default input form nchw-float (got {input_form}); export fp16 "
            "with --input-form nchw-float or use fp32 for this form."
        )
    from edge.lowering import apply_lowerings
    from edge.targets.xnnpack import TARGET

    program = torch.export.export(HalfInside(model), tuple(example_inputs), strict=False)
    program, _ = apply_lowerings(program, TARGET)
    return program
