"""torch.export program -> .onnx (torch.onnx dynamo exporter, simplified by onnxslim) + .ort for ORT Mobile.

int8: the simplified fp32 model is quantized to QDQ (quant/onnx.py), and the .ort is converted from
the int8 model, so both artifacts carry the same int8 graph."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections import Counter
from pathlib import Path

from edge.targets.base import ExportJob, ExportOutcome

OPSET = 18


def export_onnx(job: ExportJob) -> ExportOutcome:
    import onnx

    model, origins, before = to_onnx(job.program, job.example_inputs)
    plan, verify_config, unjudged, deployment, ort_platform = {}, {}, {}, {}, None
    if job.quant == "int8":
        from quant.deploy_cpu import onnx_int8_format, verification_plan

        fmt = onnx_int8_format(job.quant_config.deploy_cpu)
        verify_config = verification_plan(fmt)
        plan = _quantize(job, model, origins, fmt.weight_bits, verify_config["session_config"])
        model = onnx.load_model(str(job.out_path))
        ort_platform = fmt.ort_platform
        deployment = {
            "cpu": job.quant_config.deploy_cpu,
            "resolved_cpu": fmt.deploy_cpu,
            "format": fmt.name,
            "weight_bits": fmt.weight_bits,
            "ort_target_platform": fmt.ort_platform,
            "verified_on": verify_config["host_cpu"],
            "verified_with": verify_config["kernels"],
        }
        if not verify_config["exact_on_host"]:
            unjudged[".ort"] = (
                f"the .ort bakes in onnxruntime's fused {fmt.name} kernels, which saturate on this "
                f"{verify_config['host_cpu']['class']} host and not on {fmt.deploy_cpu}; its .onnx "
                "source was verified with the QDQ reference (run it on the deployment CPU to judge it)"
            )
    else:
        onnx.save_model(model, str(job.out_path))
    coverage = {
        "backend": "onnx",
        "opset": OPSET,
        "nodes_before_simplify": before,
        "nodes": len(model.graph.node),
        "ops": dict(Counter(n.op_type for n in model.graph.node).most_common()),
    }
    from edge.targets.onnx.metadata import write_metadata

    app = write_metadata(job.out_path, job.app)  # before the .ort conversion, which carries the graph it reads
    ort_path, config_path = _convert_to_ort(job.out_path, job.name, ort_platform)
    return ExportOutcome(
        coverage=coverage,
        extra_files={".ort": ort_path, ".required_operators.config": config_path},
        quant_plan=plan,
        verify_config=verify_config,
        unjudged=unjudged,
        deployment=deployment,
        app=app,
    )


def to_onnx(program, example_inputs):
    """The simplified fp32 ModelProto, where each of its nodes came from (quant.onnx.Origins: torch.onnx
    records the aten op and module path per node, onnxslim drops them) and the node count before."""
    import onnx
    import onnxslim
    import torch

    from quant.onnx import Origins

    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates every step on stdout
        onnx_program = torch.onnx.export(
            program,
            example_inputs,
            dynamo=True,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            verbose=False,
        )
    model = onnx_program.model_proto
    origins = Origins(model)
    before = len(model.graph.node)
    model = onnxslim.slim(model)
    onnx.checker.check_model(model)
    return model, origins, before


def _quantize(job: ExportJob, model, origins, weight_bits: int, session_config: dict) -> dict:
    """Write the QDQ int8 model to job.out_path; return the plan for the manifest."""
    from quant.onnx import FLOAT_BY_BACKEND, plan_placement, quantize_qdq

    cfg = job.quant_config
    placement = plan_placement(model, origins, cfg.keep_float_ops, cfg.keep_float_modules)
    ranges = quantize_qdq(
        model, job.out_path, job.calibration, placement, weight_bits=weight_bits, session_config=session_config
    )
    return {
        "quantizer": "onnxruntime quantize_static, QDQ, uint8 asymmetric activations, int8 symmetric "
        f"per-channel {weight_bits}-bit weights; int8 only where ORT has int8 kernels",
        **ranges,
        "keep_float_ops": list(cfg.keep_float_ops),
        "keep_float_modules": list(cfg.keep_float_modules),
        "float_by_backend": list(FLOAT_BY_BACKEND),
        **placement.summary(model),
    }


def _convert_to_ort(onnx_path: Path, stem: str, target_platform: str | None = None) -> tuple[Path, Path]:
    """ORT Mobile's format and the operator list a reduced ORT build needs (onnxruntime's own tool).
    target_platform (int8): arm lets ORT fuse int8 QDQ the ARM way, amd64 allows x86's NCHWc layout."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    work = onnx_path.with_name(onnx_path.name + ".ort-work")  # the pipeline removes <out_path>* temporaries
    if work.exists():  # this export's own earlier conversion (int8 float-back converts again): replaced
        shutil.rmtree(work)
    work.mkdir()
    staged = work / f"{stem}.onnx"
    shutil.copyfile(onnx_path, staged)  # named like the final file: the tool records the name it reads
    with contextlib.redirect_stdout(io.StringIO()):
        convert_onnx_models_to_ort(
            staged, output_dir=work, optimization_styles=[OptimizationStyle.Fixed], target_platform=target_platform
        )
    ort_files = list(work.glob("*.ort"))
    configs = list(work.glob("*.config"))
    if len(ort_files) != 1 or len(configs) != 1:
        raise RuntimeError(
            f"ORT conversion produced {[p.name for p in work.iterdir()]}, expected one .ort and one .config"
        )
    # the tool writes the (temporary) folder it ran in into the config's comment; keep only file names
    lines = configs[0].read_text().splitlines()
    configs[0].write_text(
        "\n".join(ln if not ln.startswith("# - ") else f"# - {Path(ln[4:]).name}" for ln in lines) + "\n"
    )
    return ort_files[0], configs[0]
