"""Foreign models: Hugging Face `transformers` vision classifiers, built from their config classes
with random weights (nothing downloaded), in small configurations so one export takes seconds.

Nobody here wrote these graphs; they are the measure of "your own model". Name one as a MODEL
argument with `hf:<name>` (`edge export hf:mobilevit --target xnnpack`). Each entry keeps the
architecture's own structure (every stage kind, attention style, norm and token layout) and only
shrinks widths, depths and the input size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIX = "hf:"


@dataclass(frozen=True)
class CorpusEntry:
    name: str
    config_class: str  # transformers config class
    model_class: str  # transformers *ForImageClassification class
    input_size: int
    config: dict = field(default_factory=dict)
    heavy: bool = False  # among the slowest to export: tests mark it so it can be split out


def _entry(name, config_class, model_class, input_size, heavy=False, **config) -> CorpusEntry:
    return CorpusEntry(name, config_class, model_class, input_size, {"num_labels": 10, **config}, heavy)


_STAGES4 = {"depths": [1, 1, 1, 1], "hidden_sizes": [16, 24, 32, 48]}

ENTRIES: tuple[CorpusEntry, ...] = (
    _entry(
        "mobilevit",
        "MobileViTConfig",
        "MobileViTForImageClassification",
        64,
        image_size=64,
        hidden_sizes=[32, 40, 48],
        neck_hidden_sizes=[8, 16, 24, 24, 32, 40, 64],
        num_attention_heads=2,
        expand_ratio=2.0,
    ),
    _entry(
        "mobilevitv2",
        "MobileViTV2Config",
        "MobileViTV2ForImageClassification",
        64,
        image_size=64,
        width_multiplier=0.25,
        n_attn_blocks=[1, 1, 1],
    ),
    _entry(
        "levit",
        "LevitConfig",
        "LevitForImageClassification",
        64,
        image_size=64,
        hidden_sizes=[32, 48, 64],
        num_attention_heads=[2, 2, 2],
        depths=[1, 1, 1],
        key_dim=[8, 8, 8],
        drop_path_rate=0,
        mlp_ratio=[2, 2, 2],
        attention_ratio=[2, 2, 2],
    ),
    _entry(
        "swiftformer",
        "SwiftFormerConfig",
        "SwiftFormerForImageClassification",
        64,
        image_size=64,
        depths=[1, 1, 1, 1],
        embed_dims=[16, 24, 32, 48],
    ),
    _entry(
        "segformer",
        "SegformerConfig",
        "SegformerForImageClassification",
        64,
        image_size=64,
        depths=[1, 1, 1, 1],
        hidden_sizes=[16, 24, 32, 48],
        num_attention_heads=[1, 1, 2, 2],
        sr_ratios=[4, 2, 1, 1],
        decoder_hidden_size=32,
    ),
    _entry(
        "pvt",
        "PvtConfig",
        "PvtForImageClassification",
        64,
        image_size=64,
        depths=[1, 1, 1, 1],
        hidden_sizes=[16, 24, 32, 48],
        num_attention_heads=[1, 1, 2, 2],
        sequence_reduction_ratios=[4, 2, 1, 1],
        mlp_ratios=[2, 2, 2, 2],
    ),
    _entry(
        "pvt_v2",
        "PvtV2Config",
        "PvtV2ForImageClassification",
        64,
        image_size=64,
        depths=[1, 1, 1, 1],
        hidden_sizes=[16, 24, 32, 48],
        num_attention_heads=[1, 1, 2, 2],
        sr_ratios=[4, 2, 1, 1],
        mlp_ratios=[2, 2, 2, 2],
    ),
    _entry(
        "swin",
        "SwinConfig",
        "SwinForImageClassification",
        64,
        image_size=64,
        patch_size=4,
        embed_dim=16,
        depths=[1, 2],
        num_heads=[1, 2],
        window_size=4,
    ),
    _entry(
        "swinv2",
        "Swinv2Config",
        "Swinv2ForImageClassification",
        64,
        image_size=64,
        patch_size=4,
        embed_dim=16,
        depths=[1, 2],
        num_heads=[1, 2],
        window_size=4,
    ),
    _entry(
        "vit",
        "ViTConfig",
        "ViTForImageClassification",
        32,
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    ),
    _entry(
        "deit",
        "DeiTConfig",
        "DeiTForImageClassification",
        32,
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    ),
    _entry(
        "dinov2",
        "Dinov2Config",
        "Dinov2ForImageClassification",
        32,
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        mlp_ratio=2,
    ),
    _entry("convnextv2", "ConvNextV2Config", "ConvNextV2ForImageClassification", 64, **_STAGES4),
    _entry(
        "cvt",
        "CvtConfig",
        "CvtForImageClassification",
        64,
        depth=[1, 2, 3],
        embed_dim=[16, 24, 32],  # transformers indexes a stage's
        # drop-path rates by the stage number, so stage i needs more than i layers
        num_heads=[1, 2, 2],
    ),
    _entry(
        "focalnet",
        "FocalNetConfig",
        "FocalNetForImageClassification",
        64,
        image_size=64,
        patch_size=4,
        embed_dim=16,
        depths=[1, 1],
        hidden_sizes=[16, 32],
    ),
    _entry("poolformer", "PoolFormerConfig", "PoolFormerForImageClassification", 64, **_STAGES4),
    _entry(
        "mobilenet_v2",
        "MobileNetV2Config",
        "MobileNetV2ForImageClassification",
        64,
        image_size=64,
        depth_multiplier=0.35,
    ),
    _entry(
        "efficientnet",
        "EfficientNetConfig",
        "EfficientNetForImageClassification",
        64,
        image_size=64,
        width_coefficient=0.25,
        depth_coefficient=0.25,
        hidden_dim=320,
    ),
    _entry(
        "hiera",
        "HieraConfig",
        "HieraForImageClassification",
        64,
        image_size=[64, 64],
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 2, 2],
    ),
)

CORPUS: dict[str, CorpusEntry] = {e.name: e for e in ENTRIES}


def corpus_names() -> list[str]:
    return [e.name for e in ENTRIES]


def is_corpus_spec(spec) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


__all__ = ["CORPUS", "ENTRIES", "CorpusEntry", "PREFIX", "corpus_names", "is_corpus_spec"]
