"""Parity of an artifact with the eager model: cosine, SQNR, max abs error, and the bar per precision."""

from __future__ import annotations

import numpy as np

# Minimum cosine similarity to the eager fp32 output, per export precision.
# Weight-only schemes (w8, pal6, pal4) lose more as the bits drop; int8 also quantizes activations.
COSINE_BOUNDS = {"fp32": 0.9999, "fp16": 0.999, "int8": 0.99, "w8": 0.995, "pal6": 0.99, "pal4": 0.95}
# An eager output whose largest magnitude is below this is judged by absolute error instead: its direction
# is float32 rounding and flushed denormals (transformers' MobileViT with random weights gives ~1e-40), so a
# cosine of 0 there says nothing. The artifact passes when it is within the same distance of it.
NEAR_ZERO = 1e-6


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict:
    ref = np.asarray(reference, dtype=np.float64).ravel()
    out = np.asarray(candidate, dtype=np.float64).ravel()
    if ref.shape != out.shape:
        raise ValueError(f"output has {out.size} values, eager has {ref.size}")
    noise = ref - out
    denom = np.linalg.norm(ref) * np.linalg.norm(out)
    cosine = float(ref @ out / denom) if denom > 0 else float(np.array_equal(ref, out))
    noise_power = float(np.sum(noise**2))
    sqnr = float("inf") if noise_power == 0 else 10 * np.log10(float(np.sum(ref**2)) / noise_power)
    return {
        "cosine": cosine,
        "sqnr_db": sqnr,
        "max_abs_error": float(np.max(np.abs(noise))),
        "reference_peak": float(np.max(np.abs(ref))) if ref.size else 0.0,
    }


def sample_passes(sample: dict, bound: float) -> bool:
    if sample["cosine"] >= bound:
        return True
    return sample.get("reference_peak", 1.0) < NEAR_ZERO and sample["max_abs_error"] <= NEAR_ZERO


def summarize(per_sample: list[dict], quant: str) -> dict:
    """Worst case over the verification inputs, judged against the precision's bound."""
    bound = COSINE_BOUNDS[quant]
    worst = {
        "cosine": min(s["cosine"] for s in per_sample),
        "sqnr_db": min(s["sqnr_db"] for s in per_sample),
        "max_abs_error": max(s["max_abs_error"] for s in per_sample),
    }
    sqnr = worst["sqnr_db"]
    near_zero = sum(1 for s in per_sample if s["cosine"] < bound and sample_passes(s, bound))
    passed = all(sample_passes(s, bound) for s in per_sample)
    return {
        "status": "passed" if passed else "failed",
        "samples": len(per_sample),
        "cosine_bound": bound,
        **worst,
        "sqnr_db": None if sqnr == float("inf") else round(sqnr, 2),
        **(
            {
                "near_zero": {
                    "samples": near_zero,
                    "absolute_tolerance": NEAR_ZERO,
                    "why": f"eager outputs below {NEAR_ZERO:g} in magnitude: judged by max abs error, not cosine",
                }
            }
            if near_zero
            else {}
        ),
    }
