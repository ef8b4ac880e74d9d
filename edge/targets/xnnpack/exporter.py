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
        program = quantize_program(
            program, xnnpack_quantizer(cfg.keep_float_ops, cfg.keep_float_modules), job.calibration, job.example_inputs
        )
        plan = {
            "quantizer": "executorch XNNPACKQuantizer (pt2e), static int8, per-channel symmetric weights, "
            "min/max activation ranges",
            "keep_float_ops": list(cfg.keep_float_ops),
            "keep_float_modules": list(cfg.keep_float_modules),
            "float_by_backend": list(FLOAT_BY_BACKEND),
        }
    if job.quant == "fp16":  # ExecuTorch's fp16 path: a half program, fp32 I/O (fp16.py)
        from edge.targets.xnnpack.fp16 import half_program

        program = half_program(job.model, job.example_inputs, (job.app or {}).get("input_form", "nchw-float"))
        plan = {"precision": "float16 weights and activations inside XNNPACK, float32 input and output"}
    constants = constant_methods(job.app)
    with collect_rejections() as reasons:
        lowered = to_edge_transform_and_lower(
            program, partitioner=[XnnpackPartitioner()], constant_methods=constants or None
        )
    coverage = delegation_coverage(lowered.exported_program().graph_module, reasons)
    job.out_path.write_bytes(lowered.to_executorch().buffer)
    app = (
        {
            "normalization": job.app["normalization"],
            "embedded_metadata": {"kind": "pte_constant_methods", "keys": sorted(constants)},
        }
        if job.app
        else {}
    )
    return ExportOutcome(coverage=coverage, quant_plan=plan, app=app)


def constant_methods(app: dict) -> dict:
    """The export's facts as ExecuTorch constant methods: each a method of the .pte that returns its value
    (Module.execute("edge_labels") in an app), so the .pte describes itself without the manifest."""
    if not app:  # a conversion outside the export pipeline (edge bench)
        return {}
    import json

    pre = app["preprocessing"]
    methods = {
        "edge_metadata": json.dumps(
            {
                k: app[k]
                for k in (
                    "name",
                    "version",
                    "description",
                    "author",
                    "license",
                    "input_form",
                    "layout",
                    "dtype",
                    "normalization",
                    "preprocessing",
                    "num_classes",
                )
            }
        ),
        "edge_input_form": app["input_form"],
        "edge_input_layout": app["layout"],
        "edge_input_dtype": app["dtype"],
        "edge_normalization": app["normalization"],
        "edge_input_size": int(app["input_size"]),
        "edge_resize_shorter_to": int(pre["resize_shorter_to"]),
        "edge_mean": [float(v) for v in pre["mean"]],
        "edge_std": [float(v) for v in pre["std"]],
        "edge_version": app["version"],
    }
    if app["labels"]:
        methods["edge_labels"] = list(app["labels"])
    return methods
