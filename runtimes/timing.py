"""Side-by-side timing of callables (one artifact run each) in one process, rounds interleaved."""

from __future__ import annotations

import time


def measure(candidates: dict, runs: int, warmup: int, rounds: int = 5, settle_s: float = 0.05) -> dict:
    """Interleaved rounds. Runtimes leave worker threads spinning after a run (ONNX Runtime's
    intra-op pool, OpenMP under eager torch), which on a 2-core machine steal the CPU from whatever
    runs next; so each candidate's turn starts after a pause and one untimed run."""
    import torch  # eager candidates run without autograd

    times: dict[str, list[float]] = {name: [] for name in candidates}
    with torch.no_grad():
        for fn in candidates.values():
            for _ in range(warmup):
                fn()
        per_round = max(1, runs // rounds)
        for _ in range(rounds):
            for name, fn in candidates.items():
                time.sleep(settle_s)
                fn()
                for _ in range(per_round):
                    start = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - start) * 1e3)
    return times
