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

from edge.targets.base import ExportJob, ExportOutcome

IOS17_SPEC_VERSION = 8


def export_mlpackage(job: ExportJob) -> ExportOutcome:
    import coremltools as ct

    precision = ct.precision.FLOAT16 if job.quant == "fp16" else ct.precision.FLOAT32
    example = job.example_inputs[0]
    with _quiet():
        mlmodel = ct.convert(job.program.run_decompositions({}), convert_to="mlprogram",
                             minimum_deployment_target=ct.target.iOS17, compute_precision=precision,
                             inputs=[ct.TensorType(name="input", shape=tuple(example.shape))],
                             outputs=[ct.TensorType(name="logits")])
        mlmodel.short_description = f"{job.name} exported by edge"
        mlmodel.save(str(job.out_path))
    make_reproducible(job.out_path)
    validation = validate_mlpackage(job.out_path, tuple(example.shape))
    ops = validation.pop("ops")
    coverage = {"backend": "coreml", "ops": ops, "max_tensor_rank": validation["max_tensor_rank"]}
    return ExportOutcome(coverage=coverage, validation=validation,
                         notes=["Core ML cannot run on Linux: numerics were not checked here, only the spec."])


def make_reproducible(package: Path) -> None:
    """Same model, same bytes: coremltools writes random item UUIDs into Manifest.json and
    serializes the spec's protobuf maps in arbitrary order. Rewrite both deterministically
    (item ids derived from the item's path; protobuf's deterministic serialization)."""
    manifest_path = package / "Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    renamed = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, f"edge:{item['path']}"))
               for old, item in manifest["itemInfoEntries"].items()}
    manifest["itemInfoEntries"] = {renamed[k]: v for k, v in sorted(manifest["itemInfoEntries"].items(),
                                                                      key=lambda kv: renamed[kv[0]])}
    manifest["rootModelIdentifier"] = renamed[manifest["rootModelIdentifier"]]
    manifest_path.write_text(json.dumps(manifest, indent=4, sort_keys=True))
    root = manifest["itemInfoEntries"][manifest["rootModelIdentifier"]]
    spec_path = package / "Data" / root["path"]
    from coremltools.proto import Model_pb2
    spec = Model_pb2.Model()
    spec.ParseFromString(spec_path.read_bytes())
    spec_path.write_bytes(spec.SerializeToString(deterministic=True))


def validate_mlpackage(path, input_shape: tuple[int, ...]) -> dict:
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
