"""torch.export program -> ExecuTorch .pte with the XNNPACK delegate (fp32, or static int8 via pt2e)."""
from __future__ import annotations

from edge.targets.base import ExportJob, ExportOutcome
from edge.targets.xnnpack.coverage import collect_rejections, delegation_coverage


def export_pte(job: ExportJob) -> ExportOutcome:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program, plan = job.program, {}
    if job.quant == "fp32":
        program = fold_weight_slices(program)
    if job.quant == "int8":
        from quant.pt2e import quantize_program
        from quant.xnnpack import FLOAT_BY_BACKEND, xnnpack_quantizer
        cfg = job.quant_config
        program = quantize_program(program, xnnpack_quantizer(cfg.keep_float_ops, cfg.keep_float_modules),
                                   job.calibration, job.example_inputs)
        plan = {"quantizer": "executorch XNNPACKQuantizer (pt2e), static int8, per-channel symmetric weights, "
                             "min/max activation ranges",
                "keep_float_ops": list(cfg.keep_float_ops), "keep_float_modules": list(cfg.keep_float_modules),
                "float_by_backend": list(FLOAT_BY_BACKEND)}
    with collect_rejections() as reasons:
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    coverage = delegation_coverage(lowered.exported_program().graph_module, reasons)
    job.out_path.write_bytes(lowered.to_executorch().buffer)
    return ExportOutcome(coverage=coverage, quant_plan=plan)


def fold_weight_slices(program):
    """Lowerings may slice a weight (large depthwise convs split into strips); XNNPACK needs static
    weights, so fold every computation on constants into new constants (on a copy: the program
    may be shared with other targets). int8 needs no pass: pt2e's convert folds them."""
    import torch
    from executorch.exir.passes.constant_prop_pass import constant_prop_pass
    if not any(n.op == "call_function" and n.target == torch.ops.aten.slice.Tensor
               and n.args[0].op == "placeholder" and n.args[0].name in _constant_inputs(program)
               for n in program.graph.nodes):
        return program
    for tensor in list(program.state_dict.values()) + list(program.constants.values()):
        if isinstance(tensor, torch.Tensor):
            tensor.requires_grad_(False)  # folded values must not track autograd: the delegate deep-copies them
    with torch.no_grad():
        return constant_prop_pass(program.run_decompositions({}))  # a new program: the pass edits in place


def _constant_inputs(program) -> set:
    sig = program.graph_signature
    return set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers) | set(sig.inputs_to_lifted_tensor_constants)
