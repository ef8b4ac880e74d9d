"""The input form an artifact takes: what the platform hands an app, chosen per export.

- `nchw-float` (the default, as before): (1, 3, H, W) float32, already normalized by the app.
- `nhwc-float`: (1, H, W, 3) float32, normalized by the app ((pixel/255 - mean) / std); LiteRT's
  metadata carries the normalization, so MediaPipe and the LiteRT Support Library apply it themselves.
- `nhwc-uint8`: (1, H, W, 3) uint8 RGB as decoded; the cast and (x/255 - mean) / std are in the graph.

The form is one thin module around the prepared model before torch.export, so every backend gets it
through the same mechanism; verification feeds the artifact its own form built from the same photos
and compares with eager fp32 on the float preprocessing. Core ML takes no layout or dtype of ours: any
form other than nchw-float gives it an ImageType input (a CVPixelBuffer in the app) and a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from common.errors import EdgeError


@dataclass(frozen=True)
class InputForm:
    name: str
    layout: str  # "NCHW" | "NHWC"
    dtype: str  # "float32" | "uint8"

    @property
    def is_default(self) -> bool:
        return self.name == "nchw-float"

    @property
    def normalizes_in_graph(self) -> bool:
        return self.dtype == "uint8"

    def wrap(self, model: nn.Module, mean, std) -> nn.Module:
        """The model taking this form: the same NCHW float model behind a permute (and cast + normalize)."""
        return model if self.is_default else AppInput(model, self, mean, std)

    def shape(self, size: int, chans: int = 3) -> list[int]:
        return [1, chans, size, size] if self.layout == "NCHW" else [1, size, size, chans]

    def feed(self, x: torch.Tensor, mean, std) -> torch.Tensor:
        """A preprocessed (1, C, H, W) float input in this form (uint8: back to the pixels it came from)."""
        if self.dtype == "uint8":
            m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
            s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
            x = torch.round((x * s + m) * 255).clamp(0, 255).to(torch.uint8)
        return x if self.layout == "NCHW" else x.permute(0, 2, 3, 1).contiguous()

    def value_range(self, float_range: list[float]) -> list[float]:
        return [0.0, 255.0] if self.dtype == "uint8" else float_range


CLASS_LABEL, PROBABILITIES = "classLabel", "classLabel_probs"  # a Core ML classifier's outputs (coremltools names)

FORMS = {
    f.name: f
    for f in (
        InputForm("nchw-float", "NCHW", "float32"),
        InputForm("nhwc-float", "NHWC", "float32"),
        InputForm("nhwc-uint8", "NHWC", "uint8"),
    )
}
DEFAULT = FORMS["nchw-float"]


def input_form(name: str | InputForm | None) -> InputForm:
    if name is None:
        return DEFAULT
    if isinstance(name, InputForm):
        return name
    if name not in FORMS:
        raise EdgeError(f"unknown input form {name!r}; choose one of {', '.join(FORMS)} (--input-form).")
    return FORMS[name]


class AppInput(nn.Module):
    """NHWC (uint8 or float) in, the wrapped NCHW float model behind it. For uint8 the normalization is one
    multiply-add per channel: x * 1/(255 std) - mean/std, so the app feeds decoded pixels as they are."""

    def __init__(self, model: nn.Module, form: InputForm, mean, std):
        super().__init__()
        self.model = model
        self.uint8 = form.dtype == "uint8"
        std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("scale", 1.0 / (255.0 * std_t), persistent=False)
        self.register_buffer(
            "shift", -torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) / std_t, persistent=False
        )

    def forward(self, x):
        x = x.permute(0, 3, 1, 2)
        if self.uint8:
            x = x.to(torch.float32) * self.scale + self.shift
        return self.model(x)


def uint8_pixels_roundtrip(x: torch.Tensor, mean, std) -> torch.Tensor:
    """A float input snapped to the nearest uint8 pixels and normalized again: what a uint8 artifact can be
    fed. The shipped photographs are already on that grid; the noise image is not."""
    m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    pixels = np.clip(np.round((x.numpy() * s + m) * 255), 0, 255)
    return torch.from_numpy(((pixels / 255.0 - m) / s).astype(np.float32))


def image_type_params(mean, std) -> dict:
    """Core ML's ImageType computes scale * pixel + bias with one scale for all channels. With one std for
    all channels that is the whole preprocessing; otherwise scale is 1/255, bias -mean, and the remaining
    1/std per channel is a multiply at the top of the graph (`channel_scale`)."""
    if len(set(std)) == 1:
        return {"scale": 1.0 / (255.0 * std[0]), "bias": [-m / std[0] for m in mean], "channel_scale": None}
    return {"scale": 1.0 / 255.0, "bias": [-m for m in mean], "channel_scale": [1.0 / s for s in std]}


class ImageClassifierInput(nn.Module):
    """The model as a platform image classifier: ImageType-scaled NCHW input (times a per-channel correction
    when one scale cannot express the std), softmax probabilities out."""

    def __init__(self, model: nn.Module, mean, std):
        super().__init__()
        self.model = model
        channel_scale = image_type_params(mean, std)["channel_scale"]
        self.correct = channel_scale is not None
        self.register_buffer(
            "channel_scale",
            torch.tensor(channel_scale or [1.0, 1.0, 1.0], dtype=torch.float32).view(1, -1, 1, 1),
            persistent=False,
        )

    def forward(self, x):
        if self.correct:
            x = x * self.channel_scale
        return torch.softmax(self.model(x), dim=-1)
