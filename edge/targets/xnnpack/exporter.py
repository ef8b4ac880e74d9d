"""torch.export program -> ExecuTorch .pte with the XNNPACK delegate (fp32, or static int8 via pt2e)."""
from __future__ import annotations

from edge.targets.base import ExportJob, ExportOutcome
from edge.targets.xnnpack.coverage import collect_rejections, delegation_coverage


def export_pte(job: ExportJob) -> ExportOutcome:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program, plan = job.program, {}
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

