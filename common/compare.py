"""Parity of an artifact with the eager model: cosine, SQNR, max abs error, and the bar per precision."""
from __future__ import annotations

import numpy as np

# Minimum cosine similarity to the eager fp32 output, per export precision.
# Weight-only schemes (w8, pal6, pal4) lose more as the bits drop; int8 also quantizes activations.
COSINE_BOUNDS = {"fp32": 0.9999, "fp16": 0.999, "int8": 0.99, "w8": 0.995, "pal6": 0.99, "pal4": 0.95}


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict:
    ref = np.asarray(reference, dtype=np.float64).ravel()
    out = np.asarray(candidate, dtype=np.float64).ravel()
    if ref.shape != out.shape:
        raise ValueError(f"output has {out.size} values, eager has {ref.size}")
    noise = ref - out
    denom = np.linalg.norm(ref) * np.linalg.norm(out)
    cosine = float(ref @ out / denom) if denom > 0 else float(np.array_equal(ref, out))
    noise_power = float(np.sum(noise ** 2))
    sqnr = float("inf") if noise_power == 0 else 10 * np.log10(float(np.sum(ref ** 2)) / noise_power)
    return {"cosine": cosine, "sqnr_db": sqnr, "max_abs_error": float(np.max(np.abs(noise)))}


def summarize(per_sample: list[dict], quant: str) -> dict:
    """Worst case over the verification inputs, judged against the precision's bound."""
    bound = COSINE_BOUNDS[quant]
    worst = {"cosine": min(s["cosine"] for s in per_sample),
             "sqnr_db": min(s["sqnr_db"] for s in per_sample),
             "max_abs_error": max(s["max_abs_error"] for s in per_sample)}
    sqnr = worst["sqnr_db"]
    return {"status": "passed" if worst["cosine"] >= bound else "failed", "samples": len(per_sample),
            "cosine_bound": bound, **worst, "sqnr_db": None if sqnr == float("inf") else round(sqnr, 2)}
