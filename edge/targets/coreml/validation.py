"""Structural validation of a saved .mlpackage: what an app relies on, checked without a Core ML runtime
(coremltools cannot run a model on Linux). Re-loads the spec and checks program type, iOS version, I/O or
image-classifier interface, and that a compressed scheme left its compressed ops in the program."""

from __future__ import annotations

import contextlib
import io
import logging
from collections import Counter

IOS17_SPEC_VERSION = 8


# the op a compressed scheme must leave in the program: int8 weights, LUT weights, int8 activations
COMPRESSED_OPS = {
    "int8": ("constexpr_affine_dequantize", "quantize"),
    "w8": ("constexpr_affine_dequantize",),
    "pal4": ("constexpr_lut_to_dense",),
    "pal6": ("constexpr_lut_to_dense",),
}


def validate_mlpackage(
    path, input_shape: tuple[int, ...], quant: str = "fp32", labels: list[str] | None = None
) -> dict:
    """Re-load the saved package's spec and check what an app relies on; raises ValueError if wrong.
    With `labels`, the package must be an image classifier: an RGB image input of the model's size (its
    scale and bias, read from the program, are returned) and a classifier over exactly those labels."""
    import coremltools as ct

    with quiet_coremltools():
        spec = ct.utils.load_spec(str(path))
    problems = []
    if spec.WhichOneof("Type") != "mlProgram":
        problems.append(f"model type is {spec.WhichOneof('Type')}, not mlProgram")
    if spec.specificationVersion < IOS17_SPEC_VERSION:
        problems.append(f"specification version {spec.specificationVersion} is below iOS 17's {IOS17_SPEC_VERSION}")
    ops: Counter = Counter()
    max_rank = 0
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for op in block.operations:
                ops[op.type] += 1
                for out in op.outputs:
                    max_rank = max(max_rank, out.type.tensorType.rank)
    io = (
        _check_image_classifier(spec, input_shape, labels, problems)
        if labels is not None
        else _check_tensor_io(spec, input_shape, problems)
    )
    if not ops:
        problems.append("the ML Program has no operations")
    missing = [op for op in COMPRESSED_OPS.get(quant, ()) if not ops[op]]
    if missing:
        problems.append(f"a {quant} program should hold {' and '.join(missing)} ops and has none")
    if problems:
        raise ValueError("Core ML spec validation failed: " + "; ".join(problems))
    return {
        "status": "passed",
        "spec_version": spec.specificationVersion,
        "model_type": "mlProgram",
        **io,
        "ops": dict(ops.most_common()),
        "max_tensor_rank": max_rank,
    }


def _check_tensor_io(spec, input_shape, problems: list[str]) -> dict:
    inputs = {i.name: tuple(i.type.multiArrayType.shape) for i in spec.description.input}
    if inputs != {"input": input_shape}:
        problems.append(f"inputs are {inputs}, expected {{'input': {input_shape}}}")
    outputs = [o.name for o in spec.description.output]
    if outputs != ["logits"]:
        problems.append(f"outputs are {outputs}, expected ['logits']")
    return {"inputs": {k: list(v) for k, v in inputs.items()}, "outputs": outputs}


def _check_image_classifier(spec, input_shape, labels: list[str], problems: list[str]) -> dict:
    from coremltools.proto import FeatureTypes_pb2

    from edge.io_form import CLASS_LABEL, PROBABILITIES

    (given,) = spec.description.input
    image = given.type.imageType if given.type.WhichOneof("Type") == "imageType" else None
    if image is None or given.name != "input":
        problems.append(f"input {given.name!r} is a {given.type.WhichOneof('Type')}, expected an image named 'input'")
    elif (image.height, image.width) != tuple(
        input_shape[2:]
    ) or image.colorSpace != FeatureTypes_pb2.ImageFeatureType.RGB:
        problems.append(
            f"input image is {image.width}x{image.height} colour space {image.colorSpace}, expected RGB "
            f"{input_shape[3]}x{input_shape[2]}"
        )
    outputs = [o.name for o in spec.description.output]
    if (
        outputs != [CLASS_LABEL, PROBABILITIES]
        or spec.description.predictedFeatureName != CLASS_LABEL
        or spec.description.predictedProbabilitiesName != PROBABILITIES
    ):
        problems.append(f"outputs are {outputs}, expected a classifier's [{CLASS_LABEL!r}, {PROBABILITIES!r}]")
    consts, classify = _program_constants(spec)
    classes = None
    if classify is not None:  # the class list is an inline value of the classify op (or a const it names)
        argument = classify.inputs["classes"].arguments[0]
        classes = (
            [item.immediateValue.tensor.strings.values[0] for item in argument.value.immediateValue.list.values]
            if not argument.name
            else consts.get(argument.name)
        )
    if classes != list(labels):
        problems.append(f"the classifier's classes are {(classes or [])[:3]}..., not the {len(labels)} labels given")
    scale, bias = _input_scale_bias(spec, consts)
    return {
        "inputs": {
            "input": {
                "image": "RGB",
                "width": image.width if image else None,
                "height": image.height if image else None,
            }
        },
        "outputs": outputs,
        "classes": len(classes or []),
        "image_scale": scale,
        "image_bias": bias,
    }


def _program_constants(spec) -> tuple[dict, object]:
    """Every const op's value (floats or strings) by output name, and the classify op."""
    consts, classify = {}, None
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for op in block.operations:
                if op.type == "const":
                    tensor = op.attributes["val"].immediateValue.tensor
                    kind = tensor.WhichOneof("value")
                    if kind == "bytes":  # float16 constants are stored as raw bytes
                        import numpy as np

                        consts[op.outputs[0].name] = np.frombuffer(tensor.bytes.values, np.float16).tolist()
                    else:
                        consts[op.outputs[0].name] = list(getattr(tensor, kind).values) if kind else None
                elif op.type == "classify":
                    classify = op
    return consts, classify


def _input_scale_bias(spec, consts: dict) -> tuple[float | None, list[float] | None]:
    """The ImageType's preprocessing as coremltools wrote it: mul(input, scale), then add(bias); it leaves out
    a scale of 1 and a bias of 0."""
    scale = bias = None
    current = "input"
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            for op in block.operations:
                x = op.inputs["x"].arguments[0].name if "x" in op.inputs else None
                if x == current and op.type in ("mul", "add"):
                    value = consts.get(op.inputs["y"].arguments[0].name)
                    if op.type == "mul" and scale is None:
                        scale = float(value[0])
                    elif op.type == "add" and bias is None:
                        bias = [float(v) for v in value]
                    current = op.outputs[0].name
    return (1.0 if scale is None else scale), ([0.0, 0.0, 0.0] if bias is None else bias)


@contextlib.contextmanager
def quiet_coremltools():
    """coremltools prints progress bars and version warnings; keep them off the user's console."""
    logger = logging.getLogger("coremltools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)
