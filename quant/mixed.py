"""Attention-aware mixed precision: measure which parts of an int8 model hurt, put them back to float.

One calibration, then every question is answered on the reference int8 model (pt2e's quantize ->
dequantize pairs in PyTorch) by switching pairs off: a pair stays when an op it serves -- the
consumer of the dequantized value or the producer of the quantized one -- is still to be int8.

- Candidates: blocks (module-path prefixes, at the deepest level giving <= MAX_GROUPS of them)
  and op types (linear, conv, add, ...): attention projections, FFNs, LayerNorm-adjacent adds, the
  stem and the classifier each show up on their own.
- Sensitivity: output SQNR (dB) against fp32 when only that candidate is int8; lower = worse.
- Plan: most sensitive first, candidates go back to float until the measured drop (top-1 points on
  labelled data, else top-1 disagreement with fp32) is within the budget.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.fx import GraphModule, Node

from quant.pt2e import module_path_of, op_types_of

MAX_GROUPS = 32
_Q = ("quantize_per_tensor", "quantize_per_channel")
_DQ = ("dequantize_per_tensor", "dequantize_per_channel")
_FAKE = ("fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine")


def _name(node: Node) -> str:
    return getattr(node.target, "__name__", str(node.target)).split(".")[0]


def is_quant_node(node: Node) -> bool:
    return node.op == "call_function" and _name(node) in _Q + _DQ + _FAKE


def as_fake_quant(model: GraphModule) -> GraphModule:
    """Each quantize -> dequantize pair as one fused fake-quantize op: the same numbers, ~20x faster
    to run than pt2e's decomposed reference ops, and one node to switch off per pair."""
    gm = GraphModule(model, copy.deepcopy(model.graph))
    graph = gm.graph
    for dq in list(graph.nodes):
        q = dq.args[0] if dq.op == "call_function" and _name(dq) in _DQ else None
        if not (isinstance(q, Node) and _name(q) in _Q):
            continue
        with graph.inserting_before(dq):
            if _name(q) == "quantize_per_tensor":
                x, scale, zero, qmin, qmax, _ = q.args[:6]
                fq = graph.call_function(
                    torch.fake_quantize_per_tensor_affine, (x, float(scale), int(zero), qmin, qmax)
                )
            else:
                x, scales, zeros, axis, qmin, qmax, _ = q.args[:7]
                zeros_int = graph.call_function(torch.ops.aten._to_copy.default, (zeros,), {"dtype": torch.int32})
                fq = graph.call_function(
                    torch.fake_quantize_per_channel_affine, (x, scales, zeros_int, axis, qmin, qmax)
                )
        fq.meta = dict(q.meta)
        dq.replace_all_uses_with(fq)
    graph.eliminate_dead_code()
    gm.recompile()
    return gm


def block_key(path: str, depth: int) -> str:
    return ".".join(path.split(".")[:depth]) if path else "(top level)"


def choose_depth(paths: list[str]) -> int:
    """The deepest module level at which the model splits into at most MAX_GROUPS blocks."""
    best = 1
    for depth in range(1, 8):
        if len({block_key(p, depth) for p in paths}) <= MAX_GROUPS:
            best = depth
    return best


@dataclass
class Candidate:
    kind: str  # "module" | "op"
    name: str  # module-path prefix or op type

    def covers(self, node: Node, depth: int) -> bool:
        if self.kind == "op":
            return self.name in op_types_of(node)
        return block_key(module_path_of(node), depth) == self.name


@dataclass
class Reference:
    """The quantized model (q/dq pairs not folded) and what it is judged against."""

    model: GraphModule
    inputs: list[torch.Tensor]
    fp32_logits: torch.Tensor
    labels: torch.Tensor | None = None
    probes: list[torch.Tensor] = field(default_factory=list)  # few inputs for the per-part SQNR
    fp32_probes: torch.Tensor | None = None
    depth: int = 1
    candidates: list[Candidate] = field(default_factory=list)

    @classmethod
    def build(cls, model: GraphModule, inputs, fp32_logits, labels=None, probes=None, fp32_probes=None) -> Reference:
        model = as_fake_quant(model)
        owners = [
            n
            for n in model.graph.nodes
            if n.op == "call_function"
            and not is_quant_node(n)
            and any(is_quant_node(a) for a in list(n.args) + list(n.users) if isinstance(a, Node))
        ]
        depth = choose_depth([module_path_of(n) for n in owners])
        blocks = sorted({block_key(module_path_of(n), depth) for n in owners})
        ops = sorted({t for n in owners for t in op_types_of(n)})
        cands = [Candidate("module", b) for b in blocks] + [Candidate("op", o) for o in ops]
        if probes is None:
            probes, fp32_probes = list(inputs), fp32_logits
        return cls(model, list(inputs), fp32_logits, labels, list(probes), fp32_probes, depth, cands)

    def variant(self, int8: Callable[[Node], bool]) -> GraphModule:
        """A copy where only the fake-quant steps serving an op with int8(op) True remain."""
        gm = GraphModule(self.model, copy.deepcopy(self.model.graph))  # shares the weights; the graph is new
        for fq in list(gm.graph.nodes):
            if not is_quant_node(fq):
                continue
            owners = [
                o
                for o in [fq.args[0], *fq.users]
                if isinstance(o, Node) and o.op == "call_function" and not is_quant_node(o)
            ]
            if not any(int8(o) for o in owners):
                fq.replace_all_uses_with(fq.args[0])
        gm.graph.eliminate_dead_code()
        gm.recompile()
        return gm

    @staticmethod
    def logits(gm: GraphModule, inputs) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([gm(x).reshape(1, -1) for x in inputs])

    def sqnr_db(self, gm: GraphModule) -> float:
        ref = self.fp32_probes
        noise = (ref - self.logits(gm, self.probes)).pow(2).sum().item()
        return float("inf") if noise == 0 else 10 * torch.log10(ref.pow(2).sum() / noise).item()

    def worst_cosine(self, gm: GraphModule) -> float:
        """The lowest cosine to fp32 over the probes: what an artifact's verification judges."""
        out = self.logits(gm, self.probes)
        return float(torch.nn.functional.cosine_similarity(out.double(), self.fp32_probes.double(), dim=1).min())

    def drop(self, gm: GraphModule) -> float:
        """Top-1 points lost against fp32 (with labels), else top-1 disagreement with fp32, in points."""
        pred = self.logits(gm, self.inputs).argmax(1)
        ref = self.fp32_logits.argmax(1)
        if self.labels is None:
            return float((pred != ref).float().mean() * 100)
        return float(((ref == self.labels).float().mean() - (pred == self.labels).float().mean()) * 100)


def sensitivity(ref: Reference) -> list[dict]:
    """Output SQNR when only one candidate is int8, most sensitive first."""
    rows = []
    for cand in ref.candidates:
        gm = ref.variant(lambda n, c=cand: c.covers(n, ref.depth))
        rows.append({"kind": cand.kind, "name": cand.name, "sqnr_db": round(ref.sqnr_db(gm), 2)})
    return sorted(rows, key=lambda r: r["sqnr_db"])


def plan_within(ref: Reference, max_drop: float, rows: list[dict] | None = None) -> dict:
    """Greedy: most sensitive candidates back to float until the drop is within max_drop."""
    plan = _float_back(ref, ref.drop, lambda drop: drop <= max_drop, rows)
    plan["drop_points"] = plan.pop("measured")
    plan["steps"] = [{"float": s["float"], "drop_points": s["measured"]} for s in plan["steps"]]
    return plan


def plan_for_cosine(ref: Reference, bound: float, rows: list[dict] | None = None) -> dict:
    """Greedy: most sensitive candidates back to float until every probe's cosine to fp32 is >= bound."""
    plan = _float_back(ref, ref.worst_cosine, lambda cosine: cosine >= bound, rows)
    plan["worst_cosine"] = plan.pop("measured")
    plan["steps"] = [{"float": s["float"], "worst_cosine": s["measured"]} for s in plan["steps"]]
    return plan


def _float_back(ref: Reference, measure: Callable, good: Callable, rows: list[dict] | None) -> dict:
    rows = rows if rows is not None else sensitivity(ref)
    by_name = {(c.kind, c.name): c for c in ref.candidates}
    floated: list[Candidate] = []
    steps = []

    def int8(node: Node) -> bool:
        return not any(c.covers(node, ref.depth) for c in floated)

    value = measure(ref.variant(int8))
    steps.append({"float": [], "measured": round(value, 5)})
    for row in rows:
        if good(value):
            break
        floated.append(by_name[(row["kind"], row["name"])])
        value = measure(ref.variant(int8))
        steps.append({"float": [f"{c.kind}:{c.name}" for c in floated], "measured": round(value, 5)})
    return {
        "keep_float_ops": [c.name for c in floated if c.kind == "op"],
        "keep_float_modules": [c.name for c in floated if c.kind == "module"],
        "measured": round(value, 5),
        "within_budget": good(value),
        "steps": steps,
        "int8_ops_left": sum(
            1
            for n in ref.model.graph.nodes
            if n.op == "call_function" and not is_quant_node(n) and int8(n) and _serves_quant(n)
        ),
        "sensitivity": rows,
        "block_depth": ref.depth,
    }


def _serves_quant(node: Node) -> bool:
    return any(isinstance(a, Node) and is_quant_node(a) for a in list(node.args) + list(node.users))


def summary(rows: list[dict], top: int = 5) -> str:
    worst = ", ".join(f"{r['kind']}:{r['name']} {r['sqnr_db']} dB" for r in rows[:top])
    return f"most sensitive: {worst}" if rows else "nothing quantized"


__all__ = ["Reference", "sensitivity", "plan_within", "plan_for_cosine", "summary"]
