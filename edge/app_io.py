"""The manifest's view of an export's app I/O, and what exporters write into the artifact's own metadata."""

from __future__ import annotations

from edge.io_form import CLASS_LABEL, PROBABILITIES
from edge.manifest import preprocessing_of, value_range_of
from edge.prepare import PreparedModel


def manifest_inputs(prepared: PreparedModel, image_input: bool) -> list[dict]:
    cfg, form = prepared.config, prepared.input_form
    x = prepared.example_inputs[0]
    if image_input:  # Core ML ImageType: the app hands a CVPixelBuffer / CGImage of this size
        return [{"name": "input", "shape": list(x.shape), "dtype": "uint8", "layout": "image", "value_range": [0, 255]}]
    return [
        {
            "name": "input",
            "shape": form.shape(int(x.shape[-1]), int(x.shape[1])),
            "dtype": form.dtype,
            "layout": form.layout,
            "value_range": form.value_range(value_range_of(cfg)),
        }
    ]


def manifest_outputs(out_shape: list[int], image_input: bool) -> list[dict]:
    if image_input:  # Core ML classifier: the top label and a label -> probability dictionary
        return [
            {"name": CLASS_LABEL, "shape": [1], "dtype": "string", "kind": "label"},
            {"name": PROBABILITIES, "shape": out_shape, "dtype": "float32", "kind": "probabilities"},
        ]
    return [
        {
            "name": "logits",
            "shape": out_shape,
            "dtype": "float32",
            "kind": "logits" if len(out_shape) == 2 else "tensor",
        }
    ]


def app_description(prepared: PreparedModel, labels, image_input: bool, credits: dict) -> dict:
    """What an exporter writes into the artifact's own metadata, so an app needs no manifest parser."""
    from importlib.metadata import version

    cfg, form = prepared.config, prepared.input_form
    normalization = "image_type" if image_input else ("in_graph" if form.normalizes_in_graph else "by_app")
    return {
        "name": prepared.name,
        "version": version("edge"),
        "author": credits.get("author", ""),
        "license": credits.get("license", ""),
        "description": f"{prepared.name} ({cfg.family}) image classifier, {cfg.num_classes} classes, "
        f"{cfg.input_size} px RGB input; exported by edge {version('edge')}",
        "labels": list(labels) if labels is not None else None,
        "num_classes": cfg.num_classes,
        "preprocessing": preprocessing_of(cfg),
        "input_form": form.name,
        "layout": form.layout,
        "dtype": form.dtype,
        "normalization": normalization,
        "input_size": cfg.input_size,
    }
