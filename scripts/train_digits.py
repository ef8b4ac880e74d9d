"""Train the digits models (edge.digits.DIGITS_MODELS) and write their weights to edge/data/digits/.

    python scripts/train_digits.py                      # all three, the committed settings
    python scripts/train_digits.py --models iformer_t   # one; keeps the other rows of results.json

Seeded and single-process: the same torch build and --threads give the same weights. Weights are
stored as fp16 safetensors (half the size); they load into the fp32 model through edge.loading,
and the top-1 recorded is measured after that round trip, on the 359 held-out test images.
Nothing is downloaded: the images come with scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from edge import models
from edge.digits import (
    DIGITS_DIR,
    DIGITS_INPUT_SIZE,
    DIGITS_MODELS,
    RESULTS_FILE,
    digits_model,
    digits_tensors,
    top1,
    train,
)
from edge.manifest import write_json_atomic

# Per model: epochs and peak learning rate (AdamW, warm-up 1 epoch then cosine; batch 64).
SETTINGS = {
    "mobilevit_xxs": {"epochs": 10, "lr": 2e-3},
    "fasternet_t0": {"epochs": 10, "lr": 2e-3},
    "iformer_t": {"epochs": 10, "lr": 2e-3},
}


def save_fp16(model: torch.nn.Module, path: Path) -> None:
    """Floating tensors as fp16 (integer buffers such as BN's num_batches_tracked stay as they are)."""
    from safetensors.torch import save_file

    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.partial")
    save_file(state, str(tmp))
    tmp.replace(path)


def write_readme(results: dict, command: str) -> None:
    rows = "\n".join(
        f"| {name} | {r['params']:,} | {r['epochs']} | {r['lr']:g} | {r['train_seconds']:.0f} s | "
        f"{r['test_top1_fp32_trained']:.2f} | {r['test_top1']:.2f} |"
        for name, r in results.items()
    )
    threads = {r["threads"] for r in results.values()}
    text = f"""# Digits models

Small variants of each zoo family trained on scikit-learn's handwritten digits (1,797 real 8x8 images,
shipped with scikit-learn: nothing is downloaded), upscaled to {DIGITS_INPUT_SIZE}x{DIGITS_INPUT_SIZE}
RGB, white digit on black, through each model's own preprocessing. Split: stratified 80/20 with seed 0
(1,438 train, 359 test); see `edge/digits.py`. Tests use them to measure a real top-1 drop
(quantization, pruning) and `edge eval` examples use them.

| model | params | epochs | peak lr | train time (torch threads: {", ".join(map(str, sorted(threads)))}) | test top-1 fp32 (%) | test top-1 as stored, fp16 weights (%) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

The last column is what `edge.digits.digits_model(name)` reaches (fp16 weights loaded into the fp32
model); `results.json` holds the same numbers for tests. AdamW (weight decay 0.05), 1 warm-up epoch then
cosine, batch 64, label smoothing 0.1, light augmentation (shift 8%, rotation 10 degrees, zoom 0.9-1.1).
Train times are wall-clock on a shared 2-core machine, so only roughly comparable. The default is 2
threads; on cores busy with other jobs `--threads 1` is several times faster (two OpenMP threads spend
most of their time waiting for each other), and the weights depend on the thread count.

Regenerate (from the repository root, about {sum(r["train_seconds"] for r in results.values()) / 60:.0f} minutes):

    {command}
"""
    (DIGITS_DIR / "README.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(DIGITS_MODELS), choices=DIGITS_MODELS)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--epochs", type=int, help="override every model's epochs (for quick trials)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    DIGITS_DIR.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    for name in args.models:
        settings = dict(SETTINGS[name], **({"epochs": args.epochs} if args.epochs else {}))
        torch.manual_seed(0)
        model = models.create(name, num_classes=10, input_size=DIGITS_INPUT_SIZE)
        x, y = digits_tensors(model.config, "train")
        xt, yt = digits_tensors(model.config, "test")
        start = time.perf_counter()
        train(
            model,
            x,
            y,
            settings["epochs"],
            lr=settings["lr"],
            seed=0,
            log=lambda msg: print(f"  {name} {msg} ({time.perf_counter() - start:.0f} s)", flush=True),  # noqa: B023
        )  # the log is called during this iteration only
        seconds = time.perf_counter() - start
        fp32 = top1(model, xt, yt)
        save_fp16(model, DIGITS_DIR / f"{name}.safetensors")
        stored = top1(digits_model(name), xt, yt)
        print(
            f"{name}: trained in {seconds:.0f} s, test top-1 {fp32:.2f}% (fp32), {stored:.2f}% (stored fp16)",
            flush=True,
        )
        results[name] = {
            "params": sum(p.numel() for p in model.parameters()),
            "epochs": settings["epochs"],
            "lr": settings["lr"],
            "threads": args.threads,
            "train_seconds": round(seconds, 1),
            "test_top1_fp32_trained": round(fp32, 2),
            "test_top1": round(stored, 2),
            "torch": torch.__version__,
        }
    results = {name: results[name] for name in DIGITS_MODELS if name in results}
    write_json_atomic(RESULTS_FILE, results)
    write_readme(results, "PYTHONPATH=. python " + shlex.join(["scripts/train_digits.py", *(argv or sys.argv[1:])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
