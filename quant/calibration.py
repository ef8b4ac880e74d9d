"""Calibration inputs for static int8: an image folder, a .npy/.npz of tensors, or a stand-in.

Images go through the model's own preprocessing (the manifest's), so the ranges observed are
the ranges the app will feed. Without data, a stand-in set is used -- random crops of the sample
photographs shipped with edge (random noise for non-RGB models) -- and that is said loudly: in
the console and in the manifest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.errors import EdgeError
from common.preprocess import IMAGE_SUFFIXES, SAMPLE_IMAGES, preprocess_image

SYNTHETIC_WARNING = (
    "no calibration data given: int8 ranges come from random crops of edge's sample photographs, "
    "not from your data; accuracy on your images may be worse. Pass --calib DIR (images) or "
    "--calib FILE.npz."
)


@dataclass
class Calibration:
    inputs: list[torch.Tensor]  # each (1, C, H, W) float32, preprocessed
    kind: str  # "images" | "tensors" | "synthetic"
    source: str
    warning: str | None = None

    def describe(self) -> dict:
        return {"kind": self.kind, "source": self.source, "samples": len(self.inputs), "warning": self.warning}


def load_calibration(source, config, in_chans: int = 3, samples: int = 32, seed: int = 0) -> Calibration:
    """`source`: a folder of images, a .npy/.npz file, or None for the stand-in set."""
    if samples < 1:
        raise EdgeError(f"--calib-samples must be at least 1, got {samples}.")
    if source is None:
        return _synthetic(config, in_chans, samples, seed)
    path = check_source(source)
    if path.is_dir():
        return _images(path, config, in_chans, samples, seed)
    return _tensors(path, config, in_chans, samples)


def check_source(source) -> Path:
    """Cheap checks done before any model is built, so a typo fails at once."""
    path = Path(source)
    if not path.exists():
        raise EdgeError(f"calibration data {str(path)!r} does not exist; pass a folder of images or a .npy/.npz file.")
    if not path.is_dir() and path.suffix not in (".npy", ".npz"):
        raise EdgeError(f"calibration data {str(path)!r} is neither a folder of images nor a .npy/.npz file.")
    return path


def _images(folder: Path, config, in_chans: int, samples: int, seed: int) -> Calibration:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        others = sum(1 for p in folder.rglob("*") if p.is_file())
        what = f"{others} files but none is an image" if others else "it is empty"
        raise EdgeError(
            f"calibration folder {str(folder)!r} has no images ({what}); expected "
            f"{', '.join(sorted(IMAGE_SUFFIXES))} files, in the folder or its sub-folders."
        )
    if in_chans != 3:
        raise EdgeError(
            f"the model takes {in_chans}-channel input; calibration images are RGB. "
            "Pass a .npy/.npz of preprocessed tensors instead."
        )
    rng = np.random.default_rng(seed)
    chosen = (
        files if len(files) <= samples else [files[i] for i in sorted(rng.choice(len(files), samples, replace=False))]
    )
    inputs = [preprocess_image(p, config) for p in chosen]  # EdgeError names any file that is not an image
    return Calibration(inputs, "images", str(folder))


def _tensors(path: Path, config, in_chans: int, samples: int) -> Calibration:
    try:
        loaded = np.load(path, allow_pickle=False)
        array = loaded[loaded.files[0]] if isinstance(loaded, np.lib.npyio.NpzFile) else loaded
    except (OSError, ValueError, IndexError) as e:
        raise EdgeError(
            f"cannot read calibration tensors from {str(path)!r} ({e}); save them with numpy.save or numpy.savez."
        ) from None
    want = (in_chans, config.input_size, config.input_size)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or tuple(array.shape[1:]) != want:
        raise EdgeError(
            f"calibration tensors in {str(path)!r} have shape {tuple(array.shape)}; the model takes "
            f"(N, {', '.join(map(str, want))}) preprocessed inputs."
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise EdgeError(
            f"calibration tensors in {str(path)!r} are {array.dtype}; give preprocessed float32 inputs "
            "(after the model's normalisation), not raw pixels."
        )
    if array.size and not np.isfinite(array).all():
        bad = int((~np.isfinite(array.reshape(len(array), -1))).any(1).sum())
        raise EdgeError(
            f"calibration tensors in {str(path)!r} hold NaN or Inf ({bad} of {len(array)} inputs); "
            "fix or drop those inputs."
        )
    tensors = [torch.from_numpy(np.ascontiguousarray(a[None], dtype=np.float32)) for a in array[:samples]]
    return Calibration(tensors, "tensors", str(path))


def _synthetic(config, in_chans: int, samples: int, seed: int) -> Calibration:
    g = torch.Generator().manual_seed(seed)
    size = config.input_size
    if in_chans != 3:
        inputs = [torch.randn(1, in_chans, size, size, generator=g) for _ in range(samples)]
        return Calibration(inputs, "synthetic", "gaussian noise", SYNTHETIC_WARNING)
    # preprocess at a larger size, then take random crops and flips of it: varied, photo-like statistics
    big = dataclasses.replace(config, input_size=int(size * 1.5))
    photos = [preprocess_image(p, big) for p in SAMPLE_IMAGES]
    inputs = []
    for i in range(samples):
        photo = photos[i % len(photos)]
        top, left = (int(torch.randint(0, photo.shape[-1] - size + 1, (1,), generator=g)) for _ in range(2))
        crop = photo[..., top : top + size, left : left + size]
        inputs.append(crop.flip(-1).contiguous() if i % 2 else crop.contiguous())
    return Calibration(inputs, "synthetic", "random crops of edge's sample photographs", SYNTHETIC_WARNING)
