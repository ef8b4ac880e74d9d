"""torch.export program -> Core ML ML Program (.mlpackage, iOS 17+), validated without a runtime.

coremltools converts on Linux but cannot run a model there (libcoremlpython ships for macOS
only), so verification here is structural: the saved package re-loads as a spec, is an ML
Program for iOS 17+, its I/O match the model's, and its op inventory is recorded.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from common.errors import EdgeError
from edge.targets.base import ExportJob, ExportOutcome
from edge.targets.coreml.validation import quiet_coremltools, validate_mlpackage

MIN_IOS = (17, 18)  # 18: fused scaled_dot_product_attention (and iOS 18 devices only)


def export_mlpackage(job: ExportJob) -> ExportOutcome:
    import coremltools as ct

    # fp32 stays fp32; fp16 and every compressed scheme compute in float16, as the Neural Engine does
    precision = ct.precision.FLOAT32 if job.quant == "fp32" else ct.precision.FLOAT16
    example = job.example_inputs[0]
    program = _w8a8(job) if job.quant == "int8" else job.program
    with quiet_coremltools():
        mlmodel = _convert(program, example, precision, min_ios(job), job.app)
        if job.quant in ("w8", "pal4", "pal6"):
            from quant.coreml import compress_weights

            mlmodel = compress_weights(mlmodel, job.quant)
        mlmodel.short_description = f"{job.name} exported by edge"
        keys = describe(mlmodel, job.app)
        mlmodel.save(str(job.out_path))
    make_reproducible(job.out_path)
    image = is_image_classifier(job.app)
    validation = validate_mlpackage(
        job.out_path, tuple(example.shape), job.quant, labels=class_labels(job.app) if image else None
    )
    validation["min_ios"] = min_ios(job)
    ops = validation.pop("ops")
    coverage = {"backend": "coreml", "ops": ops, "max_tensor_rank": validation["max_tensor_rank"]}
    app = (
        {}
        if not job.app
        else {
            "normalization": job.app["normalization"],
            "classifier": image,
            "embedded_metadata": {"kind": "coreml_metadata", "keys": keys},
            **({"image_type": {"color_layout": "RGB", **image_type_of(job.app)}} if image else {}),
        }
    )
    return ExportOutcome(
        coverage=coverage,
        validation=validation,
        quant_plan=_plan(job, ops),
        app=app,
        notes=["Core ML cannot run on Linux: numerics were not checked here, only the spec."],
    )


def is_image_classifier(app: dict) -> bool:
    return bool(app) and app["normalization"] == "image_type"


def image_type_of(app: dict) -> dict:
    from edge.io_form import image_type_params

    pre = app["preprocessing"]
    return image_type_params(pre["mean"], pre["std"])


def class_labels(app: dict) -> list[str]:
    return list(app["labels"]) if app["labels"] else [str(i) for i in range(app["num_classes"])]


def describe(mlmodel, app: dict) -> list[str]:
    """Author, license, description, version and preprocessing in the package's own metadata (Xcode shows them)."""
    if not app:
        return []
    mlmodel.author, mlmodel.license, mlmodel.version = app["author"], app["license"], app["version"]
    mlmodel.short_description = app["description"]
    how = (
        "an RGB image of the input size (CVPixelBuffer or CGImage; Vision scales and crops it); Core ML applies "
        "the preprocessing"
        if is_image_classifier(app)
        else "NCHW float32, (pixel/255 - mean) / std, applied by the app"
    )
    mlmodel.input_description["input"] = how
    meta = {
        "edge.preprocessing": json.dumps(app["preprocessing"]),
        "edge.input_form": app["input_form"],
        "edge.normalization": app["normalization"],
        "edge.version": app["version"],
        "edge.model": app["name"],
    }
    if app["labels"]:
        meta["edge.labels"] = json.dumps(app["labels"])
    for key, value in meta.items():
        mlmodel.user_defined_metadata[key] = value
    return ["author", "license", "short_description", "version", *sorted(meta)]


def min_ios(job: ExportJob) -> int:
    value = job.options.get("min_ios", 17)
    if value not in MIN_IOS:
        raise EdgeError(f"Core ML minimum iOS must be one of {', '.join(map(str, MIN_IOS))}. Got {value!r}.")
    return value


def _convert(program, example, precision, ios: int = 17, app: dict | None = None):
    """A tensor in, logits out; or, for an app form, an RGB image in (ImageType with the preprocessing's
    scale and bias) and a classifier out (top label and label -> probability, from the program's softmax)."""
    import coremltools as ct

    target = {17: ct.target.iOS17, 18: ct.target.iOS18}[ios]
    io = {
        "inputs": [ct.TensorType(name="input", shape=tuple(example.shape))],
        "outputs": [ct.TensorType(name="logits")],
    }
    if is_image_classifier(app or {}):
        params = image_type_of(app)
        io = {
            "inputs": [
                ct.ImageType(
                    name="input",
                    shape=tuple(example.shape),
                    scale=params["scale"],
                    bias=params["bias"],
                    color_layout=ct.colorlayout.RGB,
                )
            ],
            "classifier_config": ct.ClassifierConfig(class_labels(app), predicted_feature_name="classLabel"),
        }
    return ct.convert(
        program.run_decompositions({}),
        convert_to="mlprogram",
        minimum_deployment_target=target,
        compute_precision=precision,
        **io,
    )


def _fp32_package_bytes(job: ExportJob) -> int:
    """The size of the fp32 package of the same program: converted, saved beside the artifact, removed."""
    import shutil

    import coremltools as ct

    from edge.manifest import size_of

    path = job.out_path.with_name(job.out_path.name + ".fp32.mlpackage")  # a temporary the pipeline also cleans
    try:
        with quiet_coremltools():
            _convert(job.program, job.example_inputs[0], ct.precision.FLOAT32, min_ios(job), job.app).save(str(path))
        make_reproducible(path)
        return size_of(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _w8a8(job: ExportJob):
    """The program with int8 activations into and int8 weights of every conv/linear (pt2e)."""
    import importlib.util

    if importlib.util.find_spec("torchao") is None:
        raise EdgeError(
            "Core ML int8 (W8A8) quantizes with torchao's pt2e flow, which is not installed: "
            "pip install 'edge[xnnpack]' (it brings torchao), or choose --quant w8."
        )
    from quant.coreml import w8a8_quantizer
    from quant.pt2e import quantize_program

    cfg = job.quant_config
    return quantize_program(
        job.program, w8a8_quantizer(cfg.keep_float_ops, cfg.keep_float_modules), job.calibration, job.example_inputs
    )


def _plan(job: ExportJob, ops: dict) -> dict:
    """What was compressed and how, and the package size over the fp32 weight bytes."""
    from edge.manifest import size_of
    from quant.coreml import COMPRESSED_SCHEMES, PALETTE_BITS

    if job.quant not in COMPRESSED_SCHEMES:
        return {}
    how = {
        "int8": "W8A8 (pt2e): int8 symmetric per-tensor activations into each conv/linear, int8 symmetric "
        "per-channel weights; float16 elsewhere",
        "w8": "coremltools linear_quantize_weights: int8 symmetric per-channel weights, float16 compute",
        "pal4": "coremltools palettize_weights: k-means, 16-entry LUT per tensor, float16 compute",
        "pal6": "coremltools palettize_weights: k-means, 64-entry LUT per tensor, float16 compute",
    }[job.quant]
    plan = {
        "method": how,
        "compressed_weight_ops": {k: v for k, v in ops.items() if k.startswith("constexpr_")},
        "size_ratio_to_fp32": round(size_of(job.out_path) / _fp32_package_bytes(job), 4),
        "size_ratio_basis": "this package's bytes over those of the fp32 package of the same program, "
        "converted in the same export",
    }
    if job.quant == "int8":
        cfg = job.quant_config
        plan.update(
            activation_quantize_ops=ops.get("quantize", 0),
            keep_float_ops=list(cfg.keep_float_ops),
            keep_float_modules=list(cfg.keep_float_modules),
        )
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
    renamed = {
        old: str(uuid.uuid5(uuid.NAMESPACE_URL, f"edge:{item['path']}"))
        for old, item in manifest["itemInfoEntries"].items()
    }
    manifest["itemInfoEntries"] = {
        renamed[k]: v for k, v in sorted(manifest["itemInfoEntries"].items(), key=lambda kv: renamed[kv[0]])
    }
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
