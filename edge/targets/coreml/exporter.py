"""torch.export program -> Core ML ML Program (.mlpackage, iOS 17+), validated without a runtime.

coremltools converts on Linux but cannot run a model there (libcoremlpython ships for macOS
only), so verification here is structural: the saved package re-loads as a spec, is an ML
Program for iOS 17+, its I/O match the model's, and its op inventory is recorded.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import uuid
from collections import Counter
from pathlib import Path

from edge.errors import EdgeError
from edge.targets.base import ExportJob, ExportOutcome

IOS17_SPEC_VERSION = 8
MIN_IOS = (17, 18)  # 18: fused scaled_dot_product_attention (and iOS 18 devices only)


def export_mlpackage(job: ExportJob) -> ExportOutcome:
    import coremltools as ct

    # fp32 stays fp32; fp16 and every compressed scheme compute in float16, as the Neural Engine does
    precision = ct.precision.FLOAT32 if job.quant == "fp32" else ct.precision.FLOAT16
    example = job.example_inputs[0]
    program = _w8a8(job) if job.quant == "int8" else job.program
    with _quiet():
        mlmodel = _convert(program, example, precision, min_ios(job))
        if job.quant in ("w8", "pal4", "pal6"):
            from quant.coreml import compress_weights
            mlmodel = compress_weights(mlmodel, job.quant)
        mlmodel.short_description = f"{job.name} exported by edge"
        mlmodel.save(str(job.out_path))
    make_reproducible(job.out_path)
    validation = validate_mlpackage(job.out_path, tuple(example.shape), job.quant)
    validation["min_ios"] = min_ios(job)
    ops = validation.pop("ops")
    coverage = {"backend": "coreml", "ops": ops, "max_tensor_rank": validation["max_tensor_rank"]}
    return ExportOutcome(coverage=coverage, validation=validation, quant_plan=_plan(job, ops),
                         notes=["Core ML cannot run on Linux: numerics were not checked here, only the spec."])


def min_ios(job: ExportJob) -> int:
    value = job.options.get("min_ios", 17)
    if value not in MIN_IOS:
        raise EdgeError(f"Core ML minimum iOS must be one of {', '.join(map(str, MIN_IOS))}. Got {value!r}.")
    return value


def _convert(program, example, precision, ios: int = 17):
    import coremltools as ct
    target = {17: ct.target.iOS17, 18: ct.target.iOS18}[ios]
    return ct.convert(program.run_decompositions({}), convert_to="mlprogram", minimum_deployment_target=target,
                      compute_precision=precision, inputs=[ct.TensorType(name="input", shape=tuple(example.shape))],
                      outputs=[ct.TensorType(name="logits")])


def _fp32_package_bytes(job: ExportJob) -> int:
    """The size of the fp32 package of the same program: converted, saved beside the artifact, removed."""
    import shutil

    import coremltools as ct
    from edge.manifest import size_of
    path = job.out_path.with_name(job.out_path.name + ".fp32.mlpackage")  # a temporary the pipeline also cleans
    try:
        with _quiet():
            _convert(job.program, job.example_inputs[0], ct.precision.FLOAT32, min_ios(job)).save(str(path))
        make_reproducible(path)
        return size_of(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _w8a8(job: ExportJob):
    """The program with int8 activations into and int8 weights of every conv/linear (pt2e)."""
    import importlib.util
    if importlib.util.find_spec("torchao") is None:
        raise EdgeError("Core ML int8 (W8A8) quantizes with torchao's pt2e flow, which is not installed: "
                        "pip install 'edge[xnnpack]' (it brings torchao), or choose --quant w8.")
    from quant.coreml import w8a8_quantizer
    from quant.pt2e import quantize_program
    cfg = job.quant_config
    return quantize_program(job.program, w8a8_quantizer(cfg.keep_float_ops, cfg.keep_float_modules),
                            job.calibration, job.example_inputs)


def _plan(job: ExportJob, ops: dict) -> dict:
    """What was compressed and how, and the package size over the fp32 weight bytes."""
    from edge.manifest import size_of
    from quant.coreml import COMPRESSED_SCHEMES, PALETTE_BITS
    if job.quant not in COMPRESSED_SCHEMES:
        return {}
    how = {"int8": "W8A8 (pt2e): int8 symmetric per-tensor activations into each conv/linear, int8 symmetric "
                   "per-channel weights; float16 elsewhere",
           "w8": "coremltools linear_quantize_weights: int8 symmetric per-channel weights, float16 compute",
           "pal4": "coremltools palettize_weights: k-means, 16-entry LUT per tensor, float16 compute",
           "pal6": "coremltools palettize_weights: k-means, 64-entry LUT per tensor, float16 compute"}[job.quant]
    plan = {"method": how, "compressed_weight_ops": {k: v for k, v in ops.items() if k.startswith("constexpr_")},
            "size_ratio_to_fp32": round(size_of(job.out_path) / _fp32_package_bytes(job), 4),
            "size_ratio_basis": "this package's bytes over those of the fp32 package of the same program, "
                                "converted in the same export"}
    if job.quant == "int8":
        cfg = job.quant_config
        plan.update(activation_quantize_ops=ops.get("quantize", 0), keep_float_ops=list(cfg.keep_float_ops),
                    keep_float_modules=list(cfg.keep_float_modules))
    if job.quant in PALETTE_BITS:
        plan["lut_granularity"] = "per_tensor (per-grouped-channel needs iOS 18)"
    return plan


def make_reproducible(package: Path) -> None:
    """Same model, same bytes: coremltools writes random item UUIDs into Manifest.json and
    serializes the spec's protobuf maps in arbitrary order. Rewrite both deterministically
    (item ids derived from the item's path; protobuf's deterministic serialization). Drop what is not
    a package item."""
    manifest_path = package / "Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    renamed = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, f"edge:{item['path']}"))
               for old, item in manifest["itemInfoEntries"].items()}
    manifest["itemInfoEntries"] = {renamed[k]: v for k, v in sorted(manifest["itemInfoEntries"].items(),
                                                                      key=lambda kv: renamed[kv[0]])}
    manifest["rootModelIdentifier"] = renamed[manifest["rootModelIdentifier"]]
    manifest_path.write_text(json.dumps(manifest, indent=4, sort_keys=True))
    # coremltools also saves ExecuTorch's delegate-debugging map (debug handle -> MIL ops) when the program
    # carries debug handles; it is not a package item (not in Manifest.json), Core ML never reads it, and it
    # is up to 15% of a W8A8 package
    (package / "executorch_debug_handle_mapping.json").unlink(missing_ok=True)
    root = manifest["itemInfoEntries"][manifest["rootModelIdentifier"]]
    spec_path = package / "Data" / root["path"]
    from coremltools.proto import Model_pb2
    spec = Model_pb2.Model()
    spec.ParseFromString(spec_path.read_bytes())
    spec_path.write_bytes(spec.SerializeToString(deterministic=True))


# the op a compressed scheme must leave in the program: int8 weights, LUT weights, int8 activations
COMPRESSED_OPS = {"int8": ("constexpr_affine_dequantize", "quantize"), "w8": ("constexpr_affine_dequantize",),
                  "pal4": ("constexpr_lut_to_dense",), "pal6": ("constexpr_lut_to_dense",)}


def validate_mlpackage(path, input_shape: tuple[int, ...], quant: str = "fp32") -> dict:
    """Re-load the saved package's spec and check what an app relies on; raises ValueError if wrong."""
    import coremltools as ct

    with _quiet():
        spec = ct.utils.load_spec(str(path))
    problems = []
    if spec.WhichOneof("Type") != "mlProgram":
        problems.append(f"model type is {spec.WhichOneof('Type')}, not mlProgram")
    if spec.specificationVersion < IOS17_SPEC_VERSION:
        problems.append(f"specification version {spec.specificationVersion} is below iOS 17's {IOS17_SPEC_VERSION}")
    inputs = {i.name: tuple(i.type.multiArrayType.shape) for i in spec.description.input}
    if inputs != {"input": input_shape}:
        problems.append(f"inputs are {inputs}, expected {{'input': {input_shape}}}")
    outputs = [o.name for o in spec.description.output]
    if outputs != ["logits"]:
        problems.append(f"outputs are {outputs}, expected ['logits']")
    ops: Counter = Counter()
    max_rank = 0
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for op in block.operations:
                ops[op.type] += 1
                for out in op.outputs:
                    max_rank = max(max_rank, out.type.tensorType.rank)
    if not ops:
        problems.append("the ML Program has no operations")
    missing = [op for op in COMPRESSED_OPS.get(quant, ()) if not ops[op]]
    if missing:
        problems.append(f"a {quant} program should hold {' and '.join(missing)} ops and has none")
    if problems:
        raise ValueError("Core ML spec validation failed: " + "; ".join(problems))
    return {"status": "passed", "spec_version": spec.specificationVersion, "model_type": "mlProgram",
            "inputs": {k: list(v) for k, v in inputs.items()}, "outputs": outputs,
            "ops": dict(ops.most_common()), "max_tensor_rank": max_rank}


@contextlib.contextmanager
def _quiet():
    """coremltools prints progress bars and version warnings; keep them off the user's console."""
    logger = logging.getLogger("coremltools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)
