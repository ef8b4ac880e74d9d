"""Is LiteRT's fused attention composite worth using for local attention? Timed against our lowering.

    PYTHONPATH=. python benchmarks/litert_composite_attention.py [--shape G H N D] [--runs 400]

litert-torch can mark a subgraph as the StableHLO composite `odml.scaled_dot_product_attention`
(its LLM attention: inputs [batch, tokens, heads, head_dim], a mask, a scale); the .tflite keeps it as
one STABLEHLO_COMPOSITE op with its decomposition beside it, for delegates that run it fused. This
converts one attention at MobileViT-XXS's stage-3 shape (4 patch groups, 4 heads, 256 tokens, head
dim 16) both ways, checks both against the eager result, and times them interleaved on the LiteRT
CPU runtime (2 threads). edge's litert export uses the composite only if it measures faster.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from common.quiet import captured_output
from runtimes.timing import measure


class Lowered(torch.nn.Module):
    """What edge's default lowering of edge::local_attention emits: 3-D bmm, softmax, 3-D bmm."""

    def forward(self, q, k, v):
        g, h, n, d = q.shape
        logits = torch.bmm(q.reshape(g * h, n, d), k.reshape(g * h, n, d).transpose(1, 2))
        return torch.bmm(torch.softmax(logits, -1), v.reshape(g * h, n, d)).reshape(g, h, n, d)


class Composite(torch.nn.Module):
    """The same attention inside LiteRT's SDPA composite (zero mask: no causal masking)."""

    def forward(self, q, k, v):
        from litert_torch.hlfb import StableHLOCompositeBuilder

        g, _, n, _ = q.shape
        builder = StableHLOCompositeBuilder(name="odml.scaled_dot_product_attention", attr={"scale": 1.0})
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [groups, tokens, heads, head_dim]
        q, k, v, mask = builder.mark_inputs(q, k, v, torch.zeros(g, 1, n, n))
        y = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask, scale=1.0
        )
        return builder.mark_outputs(y.transpose(1, 2)).transpose(1, 2)


def interpreter(module: torch.nn.Module, inputs: tuple, threads: int):
    import litert_torch
    from ai_edge_litert.interpreter import Interpreter

    with captured_output():
        flatbuffer = bytes(litert_torch.convert(module.eval(), inputs).model_content())
    it = Interpreter(model_content=flatbuffer, num_threads=threads)
    it.allocate_tensors()
    for detail, x in zip(it.get_input_details(), inputs):
        it.set_tensor(detail["index"], x.numpy())
    it.invoke()
    return it, it.get_tensor(it.get_output_details()[0]["index"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=4, default=[4, 4, 256, 16], metavar=("G", "H", "N", "D"))
    parser.add_argument("--runs", type=int, default=400)
    args = parser.parse_args()
    torch.manual_seed(0)
    inputs = tuple(torch.randn(*args.shape) for _ in range(3))
    eager = Lowered()(*inputs).numpy()
    runs = {}
    for name, module in (("edge lowering", Lowered()), ("LiteRT composite", Composite())):
        it, out = interpreter(module, inputs, threads=2)
        print(f"{name}: max |diff| to eager {float(np.abs(out - eager).max()):.2e}")
        runs[name] = it.invoke
    times = measure(runs, runs=args.runs, warmup=20, rounds=10)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(
        " | ".join(f"{name} {ms:.3f} ms" for name, ms in med.items())
        + f" | composite / lowering {med['LiteRT composite'] / med['edge lowering']:.2f}"
    )


if __name__ == "__main__":
    main()
