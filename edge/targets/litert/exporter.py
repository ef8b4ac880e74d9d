"""torch.export program -> LiteRT .tflite through litert-torch (fp16: weights cast by ai-edge-quantizer)."""

from __future__ import annotations

from edge.targets.base import ExportJob, ExportOutcome


def export_tflite(job: ExportJob) -> ExportOutcome:
    import litert_torch

    # litert-torch re-exports a module; the program's module carries any rewrite applied to the graph.
    # It was captured in eval mode but reports training=True (and refuses .eval()): clear the stale flag.
    notes, plan = [], {}
    if job.quant == "int8":
        flatbuffer, plan = _int8(job)
        flatbuffer, coverage, notes = _fit_for_xnnpack(flatbuffer, job)
        flatbuffer, app = with_app_metadata(flatbuffer, job)  # last: it must survive every rewrite
        job.out_path.write_bytes(flatbuffer)
        return ExportOutcome(coverage=coverage, notes=notes, quant_plan=plan, app=app)
    module = job.program.module()
    for sub in module.modules():
        sub.training = False
    edge_model = litert_torch.convert(module, job.example_inputs)
    flatbuffer = bytes(edge_model.model_content())
    if job.quant == "fp16":
        flatbuffer = _cast_weights_fp16(flatbuffer)
        notes.append("fp16: weights stored as float16 (dequantized to fp32 on CPU; used as fp16 by the GPU delegate)")
    flatbuffer, coverage, fit_notes = _fit_for_xnnpack(flatbuffer, job)
    flatbuffer, app = with_app_metadata(flatbuffer, job)
    job.out_path.write_bytes(flatbuffer)
    return ExportOutcome(coverage=coverage, notes=notes + fit_notes, app=app)


def _fit_for_xnnpack(flatbuffer: bytes, job: ExportJob) -> tuple[bytes, dict, list[str]]:
    """The converter's output with the ops XNNPACK turns down rewritten (edge.targets.litert.delegation);
    the coverage holds the op inventory and what the delegate takes of the final model. Option
    as_converted: keep litert-torch's output as it is (edge bench's LiteRT baseline)."""
    from edge.targets.litert.delegation import delegate_coverage, fit_for_xnnpack

    rewrites: list[dict] = []
    if job.options.get("as_converted"):
        xnnpack = delegate_coverage(flatbuffer)
    else:
        flatbuffer, rewrites, xnnpack = fit_for_xnnpack(flatbuffer)
    coverage = {**tflite_op_inventory(flatbuffer), "xnnpack": xnnpack}
    if rewrites:
        coverage["xnnpack"]["rewrites"] = rewrites
    notes = [f"for XNNPACK: {r['count']} x {r['rewrite']}" for r in rewrites]
    return flatbuffer, coverage, notes


def with_app_metadata(flatbuffer: bytes, job: ExportJob) -> tuple[bytes, dict]:
    """TFLite Model Metadata (and the labels file) for MediaPipe Tasks and the LiteRT Support Library."""
    from edge.targets.litert.metadata import LABELS_FILE, METADATA_NAME, ImageClassifierInfo, attach_metadata

    app = job.app
    if not app:  # a conversion outside the export pipeline (edge bench): nothing to describe
        return flatbuffer, {}
    pre, in_graph = app["preprocessing"], app["normalization"] == "in_graph"
    mean = [0.0] * 3 if in_graph else [m * 255 for m in pre["mean"]]
    std = [1.0] * 3 if in_graph else [s * 255 for s in pre["std"]]
    lows = [(0 - m) / s for m, s in zip(mean, std)]
    highs = [(255 - m) / s for m, s in zip(mean, std)]
    how = (
        "uint8 RGB pixels 0-255 as decoded; the graph casts and normalizes ((x/255 - mean) / std)"
        if in_graph
        else "float32 RGB, (pixel - mean) / std with the normalization options here (pixels 0-255)"
    )
    info = ImageClassifierInfo(
        name=app["name"],
        description=app["description"],
        version=app["version"],
        author=app["author"],
        license=app["license"],
        image_is_nhwc=app["layout"] == "NHWC",
        size=app["input_size"],
        mean=tuple(mean),
        std=tuple(std),
        input_range=(min(lows), max(highs)),
        input_description=f"{app['layout']} {how}; resize the shorter side to {pre['resize_shorter_to']} "
        f"({pre['interpolation']}) and crop the centre {pre['center_crop']} px",
        output_description=f"class scores (logits, {app['num_classes']} classes): higher is more likely",
        labels=tuple(app["labels"]) if app["labels"] else None,
    )
    per_channel = not in_graph and (len(set(mean)) > 1 or len(set(std)) > 1)
    record = {
        "normalization": app["normalization"],
        **(
            {
                "note": "per-channel float normalization: the LiteRT Support Library applies it; MediaPipe Tasks "
                'rejects it ("Per-channel image normalization is not available"): export with '
                "--input-form nhwc-uint8 for MediaPipe"
            }
            if per_channel and app["layout"] == "NHWC"
            else {}
        ),
        "embedded_metadata": {
            "kind": "tflite_metadata",
            "keys": [METADATA_NAME],
            "associated_files": [LABELS_FILE] if info.labels else [],
        },
    }
    return attach_metadata(flatbuffer, info), record


def _int8(job: ExportJob) -> tuple[bytes, dict]:
    from quant.litert import FLOAT_BY_BACKEND, float_io, litert_quantizer, quantized_tflite

    cfg = job.quant_config
    flatbuffer = quantized_tflite(
        job.program, litert_quantizer(cfg.keep_float_ops, cfg.keep_float_modules), job.calibration, job.example_inputs
    )
    if cfg.io == "float":
        flatbuffer = float_io(flatbuffer)
    return flatbuffer, {
        "quantizer": "litert-torch PT2EQuantizer, static int8, per-channel symmetric weights",
        "io": cfg.io,
        "keep_float_ops": list(cfg.keep_float_ops),
        "keep_float_modules": list(cfg.keep_float_modules),
        "float_by_backend": list(FLOAT_BY_BACKEND),
    }


def _cast_weights_fp16(flatbuffer: bytes) -> bytes:
    from ai_edge_quantizer import quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName

    q = quantizer.Quantizer(bytearray(flatbuffer))
    q.add_weight_only_config(
        regex=".*",
        operation_name=TFLOperationName.ALL_SUPPORTED,
        num_bits=16,
        algorithm_key=AlgorithmName.FLOAT_CASTING,
    )
    return bytes(q.quantize().quantized_model)


def tflite_op_inventory(flatbuffer: bytes) -> dict:
    """Builtin op counts and the highest tensor rank of a .tflite model (read from its flatbuffer)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    counts: dict[str, int] = {}
    max_rank = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            name = (
                names.get(builtin, f"op_{builtin}")
                if builtin != schema.BuiltinOperator.CUSTOM
                else f"CUSTOM:{code.customCode.decode()}"
            )
            counts[name] = counts.get(name, 0) + 1
        for tensor in graph.tensors:
            max_rank = max(max_rank, len(tensor.shape) if tensor.shape is not None else 0)
    return {
        "backend": "litert",
        "ops": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        "max_tensor_rank": max_rank,
    }
