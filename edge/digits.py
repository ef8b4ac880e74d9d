"""Real data for accuracy tests: scikit-learn's handwritten digits, upscaled, and small models trained on them.

The 1,797 8x8 grey images of `sklearn.datasets.load_digits` (shipped with scikit-learn; nothing is
downloaded) are split 80/20, stratified by class with seed 0 (1,438 train, 359 test), and upscaled
to 64x64 RGB with bicubic interpolation, **white digit on a black background** (the data set's ink
value 16 becomes 255). Each model then sees them through its own preprocessing
(`common.preprocess.preprocess_image`), the way an app would feed it a photo.

`train` and `top1` are generic: any `nn.Module` classifier on NCHW float tensors.
`scripts/train_digits.py` trains `DIGITS_MODELS` with them and writes the committed weights in
`edge/data/digits/`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.errors import EdgeError
from edge.models.registry import ModelConfig

if TYPE_CHECKING:
    import PIL.Image

DIGITS_INPUT_SIZE = 64
DIGITS_MODELS = ("mobilevit_xxs", "fasternet_t0", "iformer_t")
DIGITS_DIR = Path(__file__).parent / "data" / "digits"
RESULTS_FILE = DIGITS_DIR / "results.json"  # test top-1 per model, written by scripts/train_digits.py
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise EdgeError(
            "the digits data set comes with scikit-learn, which is not installed; pip install scikit-learn"
        ) from None
    data = load_digits()
    return data.images, data.target


def split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Stratified, deterministic: per class, a seed-0 permutation; the first 20% (rounded) are test."""
    if split not in ("train", "test"):
        raise EdgeError(f"unknown digits split {split!r}; choose 'train' or 'test'.")
    rng = np.random.default_rng(SPLIT_SEED)
    chosen = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(members) * TEST_FRACTION))
        chosen.append(members[:n_test] if split == "test" else members[n_test:])
    return np.sort(np.concatenate(chosen))


@lru_cache(maxsize=2)
def _split(split: str) -> tuple[tuple, tuple[int, ...]]:
    from PIL import Image

    images, labels = _load_digits()
    idx = split_indices(labels, split)
    grey = [Image.fromarray(np.uint8(np.round(images[i] * (255 / 16)))) for i in idx]
    size = (DIGITS_INPUT_SIZE, DIGITS_INPUT_SIZE)
    return tuple(g.resize(size, Image.BICUBIC).convert("RGB") for g in grey), tuple(int(labels[i]) for i in idx)


def digits_images(split: str) -> tuple[list[PIL.Image.Image], list[int]]:
    """The split's images (RGB, 64x64, white on black) and their labels 0..9."""
    images, labels = _split(split)
    return [im.copy() for im in images], list(labels)


def digits_tensors(config: ModelConfig, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The split through `config`'s own preprocessing: x float32 [N, 3, S, S], y int64 [N]."""
    from common.preprocess import preprocess_image

    images, labels = _split(split)
    return torch.cat([preprocess_image(im, config) for im in images]), torch.tensor(labels, dtype=torch.long)


def write_image_folder(out_dir: str | Path, split: str = "test") -> Path:
    """PNGs in out_dir/0 .. out_dir/9 (the layout `edge eval --data` reads); returns out_dir."""
    out = Path(out_dir)
    images, labels = _split(split)
    for c in range(10):
        (out / str(c)).mkdir(parents=True, exist_ok=True)
    for i, (im, label) in enumerate(zip(images, labels)):
        im.save(out / str(label) / f"{split}-{i:04d}.png")
    return out


def digits_model(name: str) -> nn.Module:
    """Zoo model `name` with 10 classes at 64 px and its committed digits weights; eval mode."""
    from edge.loading import build_model

    weights = DIGITS_DIR / f"{name}.safetensors"
    if not weights.is_file():
        raise EdgeError(
            f"no digits weights for {name!r}; there are weights for {', '.join(DIGITS_MODELS)} "
            "(python scripts/train_digits.py writes them)."
        )
    return build_model(name, num_classes=10, input_size=DIGITS_INPUT_SIZE, weights=weights)


def recorded_top1() -> dict[str, float]:
    """The test top-1 (percent) each committed model reached when it was trained, by model name."""
    return {name: row["test_top1"] for name, row in json.loads(RESULTS_FILE.read_text()).items()}


def _augment(
    x: torch.Tensor,
    g: torch.Generator,
    shift: float = 0.08,
    degrees: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
) -> torch.Tensor:
    """Light random affine per image (shift, rotation, zoom); borders repeat the edge pixels."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(degrees)
    zoom = torch.empty(n).uniform_(*scale, generator=g)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos, -sin, (torch.rand(n, generator=g) * 2 - 1) * shift * 2], 1),
            torch.stack([sin, cos, (torch.rand(n, generator=g) * 2 - 1) * shift * 2], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    lr: float = 2e-3,
    batch_size: int = 64,
    seed: int = 0,
    weight_decay: float = 0.05,
    warmup_epochs: float = 1.0,
    augment: bool = True,
    label_smoothing: float = 0.1,
    log: Callable[[str], None] | None = None,
) -> nn.Module:
    """AdamW with linear warm-up then cosine decay to 0, cross-entropy; returns the model in eval mode.

    Augmentation (for 4-D image batches): a random shift of up to 8%, rotation up to 10 degrees and
    zoom of 0.9-1.1 per image. Seeded: the same seed, data and thread count give the same weights.
    """
    if epochs < 1 or batch_size < 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"train needs epochs >= 1, batch_size >= 1 and as many labels as inputs. "
            f"Got epochs={epochs}, batch_size={batch_size}, {len(x)} inputs, {len(y)} labels."
        )
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    total, warmup = epochs * steps_per_epoch, max(1, int(warmup_epochs * steps_per_epoch))
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)  # no weight decay on norms and biases
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=g)
        seen, loss_sum = 0, 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            xb = _augment(x[idx], g) if augment and x.ndim == 4 else x[idx]
            loss = F.cross_entropy(model(xb), y[idx], label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen, loss_sum = seen + len(idx), loss_sum + loss.item() * len(idx)
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {loss_sum / seen:.4f}")
    return model.eval()


@torch.no_grad()
def predict(
    model_or_callable: nn.Module | Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """Arg-max class per input; an nn.Module is put in eval mode first."""
    if isinstance(model_or_callable, nn.Module):
        model_or_callable.eval()
    preds = [torch.as_tensor(model_or_callable(x[i : i + batch_size])).argmax(-1) for i in range(0, len(x), batch_size)]
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.long)


def top1(
    model_or_callable: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 256,
) -> float:
    """Top-1 accuracy in percent of a model (or any batch -> logits callable) on (x, y)."""
    if len(y) == 0:
        raise ValueError("top1 needs at least one labelled input. Got 0.")
    return float((predict(model_or_callable, x, batch_size) == y).float().mean() * 100)
