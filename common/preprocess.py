"""The model's own preprocessing: resize, centre crop, scale to [0, 1], normalise (NCHW float32)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from common.errors import EdgeError

if TYPE_CHECKING:
    import PIL.Image

    from edge.models.registry import ModelConfig  # only its fields are read: any object with them will do

SAMPLE_IMAGES = sorted((Path(__file__).parent / "data" / "images").glob("*.jpg"))
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def preprocess_image(image: str | Path | PIL.Image.Image, config: ModelConfig) -> torch.Tensor:
    """One image file (or PIL image) -> (1, 3, S, S) tensor exactly as the manifest tells apps to prepare it."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, Image.Image):
        return _to_tensor(_resize_and_crop(image.convert("RGB"), config), config)
    try:
        with Image.open(image) as im:
            pixels = _resize_and_crop(im.convert("RGB"), config)
    except (UnidentifiedImageError, OSError) as e:
        raise EdgeError(f"{str(image)!r} is not a readable image ({e}).") from None
    return _to_tensor(pixels, config)


def _resize_and_crop(im: PIL.Image.Image, config: ModelConfig) -> np.ndarray:
    """Resize the shorter side to input_size / crop_pct, crop the centre square: HWC float32 in [0, 1]."""
    from PIL import Image

    size = config.input_size
    resize_to = int(math.floor(size / config.crop_pct))
    w, h = im.size
    scale = resize_to / min(w, h)
    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
    im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), resample[config.interpolation])
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    im = im.crop((left, top, left + size, top + size))
    return np.asarray(im, dtype=np.float32) / 255.0


def _to_tensor(pixels: np.ndarray, config: ModelConfig) -> torch.Tensor:
    mean = np.asarray(config.mean, dtype=np.float32)
    std = np.asarray(config.std, dtype=np.float32)
    return torch.from_numpy(((pixels - mean) / std).transpose(2, 0, 1).copy()).unsqueeze(0)


def verification_inputs(config: ModelConfig, in_chans: int = 3, seed: int = 0) -> list[torch.Tensor]:
    """The shipped sample photographs plus one noise image: what every artifact is checked on."""
    inputs = [preprocess_image(p, config) for p in SAMPLE_IMAGES] if in_chans == 3 else []
    g = torch.Generator().manual_seed(seed)
    inputs.append(torch.randn(1, in_chans, config.input_size, config.input_size, generator=g))
    return inputs
