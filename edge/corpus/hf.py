"""Hugging Face vision models as MODEL arguments: `hf:<corpus name>` or a `save_pretrained` folder.

Nothing is downloaded: corpus models are built from their config classes with random weights, and a
folder is read with `local_files_only`. A transformers model's `.config` is its PretrainedConfig, so
what edge needs (input size, classes, preprocessing) is attached as `edge_config`, which
`edge.loading.model_config` reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from common.errors import EdgeError
from edge.corpus import CORPUS, PREFIX, CorpusEntry
from edge.models.registry import IMAGENET_MEAN, IMAGENET_STD, ModelConfig, suggest

# PIL resample codes as preprocessor_config.json stores them
_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def _transformers():
    try:
        import transformers
    except ImportError:
        raise EdgeError(
            "Hugging Face models need transformers: pip install 'edge[hf]' (it is pulled in by litert-torch)."
        ) from None
    transformers.logging.set_verbosity_error()
    return transformers


def is_pretrained_folder(spec) -> bool:
    return isinstance(spec, (str, Path)) and (Path(spec) / "config.json").is_file()


def build_corpus_model(
    spec: str, num_classes: int | None = None, input_size: int | None = None, seed: int = 0
) -> nn.Module:
    """`hf:<name>`: the corpus entry with random weights (a fixed seed: the same model every time)."""
    name = spec[len(PREFIX) :]
    if name not in CORPUS:
        raise EdgeError(
            f"unknown Hugging Face corpus model {spec!r}.{suggest(name, list(CORPUS))} "
            f"Corpus: {', '.join(PREFIX + n for n in CORPUS)}; or give a save_pretrained folder."
        )
    entry = CORPUS[name]
    model = instantiate(entry, num_classes, seed)
    size = input_size or entry.input_size
    model.edge_config = ModelConfig(
        name=f"hf_{name}",
        family="huggingface",
        input_size=size,
        num_classes=model.config.num_labels,
        extra={"transformers_class": entry.model_class},
    )
    return model.eval()


def instantiate(entry: CorpusEntry, num_classes: int | None = None, seed: int = 0, init: str = "variance") -> nn.Module:
    """init="variance": weights that keep activations at unit scale through the depth, so the logits
    depend on the input and verification judges real numerics (transformers' own init gives MobileViT
    all-zero and MobileNetV2 ~1e-25 logits); init="transformers": the library's initialization as is."""
    t = _transformers()
    config = getattr(t, entry.config_class)(**{**entry.config, **({"num_labels": num_classes} if num_classes else {})})
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = getattr(t, entry.model_class)(config)
        if init == "variance":
            randomize(model)
    return model.eval()


_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


@torch.no_grad()
def randomize(model: nn.Module) -> nn.Module:
    """Variance-preserving random weights; norms get non-trivial scales, shifts and running statistics
    (so folding them is tested); any other parameter (layer scales, position tables, GRN) is spread
    around its initial value so no branch is silently switched off."""
    done = set()
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.normal_(0.0, 1.0 / fan_in**0.5)
            if m.bias is not None:
                m.bias.normal_(0.0, 0.05)
        elif isinstance(m, _NORMS) and getattr(m, "weight", None) is not None:
            m.weight.uniform_(0.7, 1.3)
            m.bias.normal_(0.0, 0.05)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.normal_(0.0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
        done.update(
            id(p) for p in m.parameters(recurse=False) if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear) + _NORMS)
        )
    for p in model.parameters():
        if id(p) not in done:
            mean = float(p.mean())
            p.copy_(mean + torch.randn_like(p) * (0.1 * max(abs(mean), 0.2)))
    return model


def load_pretrained_folder(folder, num_classes: int | None = None, input_size: int | None = None) -> nn.Module:
    """A folder written by `save_pretrained` (config.json + model.safetensors), read locally only."""
    t = _transformers()
    folder = Path(folder)
    try:
        config = t.AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise EdgeError(
            f"{str(folder)!r}: config.json is not a transformers config this version reads ({_first_line(e)})."
        ) from None
    if num_classes is not None and num_classes != config.num_labels:
        raise EdgeError(
            f"{str(folder)!r} has {config.num_labels} classes (config.json num_labels); "
            f"--num-classes {num_classes} cannot change a saved head. Drop --num-classes."
        )
    classes = [a for a in (config.architectures or []) if a.endswith("ForImageClassification")]
    cls = getattr(t, classes[0], None) if classes else None
    if cls is None:
        try:
            cls = t.AutoModelForImageClassification._model_mapping[type(config)]
        except KeyError:
            raise EdgeError(
                f"{str(folder)!r} holds a {config.model_type} model with no image-classification "
                f"class in transformers {t.__version__} (architectures: {config.architectures}); "
                "edge exports image classifiers."
            ) from None
    if not any((folder / f).is_file() for f in ("model.safetensors", "pytorch_model.bin")):
        raise EdgeError(
            f"{str(folder)!r} has config.json but no model.safetensors; write it with model.save_pretrained(folder)."
        )
    try:
        model = cls.from_pretrained(
            folder, local_files_only=True, use_safetensors=(folder / "model.safetensors").is_file()
        )
    except (OSError, ValueError, RuntimeError) as e:
        raise EdgeError(f"{str(folder)!r}: the weights do not load into {cls.__name__} ({_first_line(e)}).") from None
    model.edge_config = folder_config(folder, config, cls.__name__, input_size)
    return model.eval()


def folder_config(folder: Path, config, class_name: str, input_size: int | None) -> ModelConfig:
    """Preprocessing from preprocessor_config.json when present, else ImageNet defaults at config.image_size."""
    pre = {}
    path = folder / "preprocessor_config.json"
    if path.is_file():
        try:
            pre = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise EdgeError(f"{str(path)!r} is not readable JSON ({_first_line(e)}); fix or remove it.") from None
    crop = _side(pre.get("crop_size")) if pre.get("do_center_crop", "crop_size" in pre) else None
    resize = _side(pre.get("size"))
    image_size = getattr(config, "image_size", None)
    image_size = image_size[0] if isinstance(image_size, (list, tuple)) else image_size
    size = input_size or crop or resize or image_size or 224
    crop_pct = pre.get("crop_pct") or (min(1.0, crop / resize) if crop and resize and resize >= crop else 1.0)
    return ModelConfig(
        name=_safe_name(folder.resolve().name),
        family="huggingface",
        input_size=int(size),
        num_classes=config.num_labels,
        mean=tuple(pre.get("image_mean", IMAGENET_MEAN)),
        std=tuple(pre.get("image_std", IMAGENET_STD)),
        interpolation=_RESAMPLE.get(pre.get("resample", 3), "bicubic"),
        crop_pct=float(crop_pct),
        extra={
            "transformers_class": class_name,
            "preprocessing_from": path.name if pre else "ImageNet defaults (no preprocessor_config.json)",
        },
    )


def _side(size) -> int | None:
    if isinstance(size, int):
        return size
    if isinstance(size, dict):
        return size.get("shortest_edge") or size.get("height")
    return None


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return cleaned or "hf_model"


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
