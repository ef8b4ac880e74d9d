"""Prune a digits-trained zoo model, recover with a few epochs through the fine-tuning hook, print top-1.

    python examples/prune_digits.py [MODEL] [--ratio 0.3] [--epochs 3] [--importance l2|l1|taylor]

MODEL is one of the zoo variants with committed digits weights (edge.digits: scikit-learn's 1,797
handwritten digits, upscaled to 64 px; nothing is downloaded). `quant.prune.prune` removes channels
and head dims for real, then calls `finetune` with the pruned model: here edge.digits.train, in your
code your own training loop. The table shows test top-1 of the unpruned model, of the pruned model
before fine-tuning, and after it, with parameter and GMAC counts.
"""

from __future__ import annotations

import argparse
import time

import torch

from edge.digits import DIGITS_INPUT_SIZE, digits_model, digits_tensors, top1, train
from edge.models.stats import count_macs, count_params
from quant.prune import IMPORTANCES, prune


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="mobilevit_xxs")
    parser.add_argument("--ratio", type=float, default=0.3, help="fraction of channels removed (default 0.3)")
    parser.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (default 3)")
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning peak learning rate (default 1e-3)")
    parser.add_argument("--importance", choices=IMPORTANCES, default="l2")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = digits_model(args.model)
    x_train, y_train = digits_tensors(model.config, "train")
    x_test, y_test = digits_tensors(model.config, "test")
    rows = [("unpruned", top1(model, x_test, y_test), model)]

    def finetune(pruned: torch.nn.Module) -> torch.nn.Module:  # the hook: any training loop goes here
        rows.append(("pruned, before fine-tuning", top1(pruned, x_test, y_test), pruned))
        start = time.perf_counter()
        tuned = train(pruned, x_train, y_train, epochs=args.epochs, lr=args.lr, seed=0)
        print(f"fine-tuned {args.epochs} epochs in {time.perf_counter() - start:.0f}s")
        return tuned

    calib = (x_train[:256], y_train[:256]) if args.importance == "taylor" else None
    pruned, report = prune(
        model, x_test[:1], ratio=args.ratio, importance=args.importance, calib=calib, finetune=finetune
    )
    rows.append((f"pruned, after {args.epochs} epochs of fine-tuning", top1(pruned, x_test, y_test), pruned))

    print(
        f"\n{args.model} on digits ({len(y_test)} test images, {DIGITS_INPUT_SIZE} px), "
        f"--prune {args.ratio} ({args.importance}, round_to {report['round_to']})"
    )
    print(f"| {'model':42} | test top-1 | params    | GMACs  |")
    print(f"|{'-' * 44}|-----------:|----------:|-------:|")
    for label, acc, m in rows:
        print(f"| {label:42} | {acc:9.2f}% | {count_params(m):9,} | {count_macs(m, DIGITS_INPUT_SIZE) / 1e9:.4f} |")
    change = rows[-1][1] - rows[0][1]
    print(f"\ntop-1 after pruning and fine-tuning vs unpruned: {change:+.2f} points")
    return {"rows": [(label, acc) for label, acc, _ in rows], "report": report}


if __name__ == "__main__":
    main()
