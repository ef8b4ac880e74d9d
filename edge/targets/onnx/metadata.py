"""ONNX metadata_props and doc string: what an app reads through InferenceSession.get_modelmeta().

custom_metadata_map holds JSON text for the structured values (preprocessing, labels), plain strings
for the rest, so an app needs no edge manifest parser to feed the model and name its classes."""

from __future__ import annotations

import json
from pathlib import Path


def metadata_props(app: dict) -> dict[str, str]:
    props = {
        "model_name": app["name"],
        "edge_version": app["version"],
        "input_form": app["input_form"],
        "input_layout": app["layout"],
        "input_dtype": app["dtype"],
        "normalization": app["normalization"],
        "preprocessing": json.dumps(app["preprocessing"]),
        "num_classes": str(app["num_classes"]),
        "output": "logits",
    }
    if app["labels"]:
        props["labels"] = json.dumps(app["labels"])
    props.update({k: app[k] for k in ("author", "license") if app.get(k)})
    return props


def write_metadata(path: Path, app: dict) -> dict:
    """Set the model's metadata_props (replacing ours from an earlier pass) and doc string, in place;
    returns the manifest's `app` record."""
    import onnx

    if not app:  # a conversion outside the export pipeline (edge bench)
        return {}
    model = onnx.load_model(str(path))
    props = metadata_props(app)
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = app["description"]
    onnx.save_model(model, str(path))
    return {
        "normalization": app["normalization"],
        # every key the file carries: ours and the tools' (onnxruntime's quantizer adds onnx.infer)
        "embedded_metadata": {"kind": "onnx_metadata_props", "keys": sorted(p.key for p in model.metadata_props)},
    }
