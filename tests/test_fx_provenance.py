"""Shared node provenance (common/fx_provenance.py): the same ancestry, the same ExecuTorch program."""

import json
import subprocess
import sys
from pathlib import Path

import torch

from common.fx_provenance import share_node_provenance

REPO = Path(__file__).resolve().parents[1]

# lowers a small conv + attention-like graph to XNNPACK and prints each node's debug handle (derived
# by ExecuTorch from the oldest ancestor in the provenance chain) and the .pte's output on one input
LOWER_AND_DESCRIBE = """
import json, sys, torch
if sys.argv[1] == "share":
    from common.fx_provenance import share_node_provenance
    assert share_node_provenance()
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge_transform_and_lower
from executorch.runtime import Runtime

class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.norm = torch.nn.LayerNorm(8)
    def forward(self, x):
        y = torch.nn.functional.gelu(self.conv(x)).flatten(2).transpose(1, 2)
        y = self.norm(y)
        return (y.softmax(-1) @ y.transpose(1, 2)).mean((1, 2))

torch.manual_seed(0)
x = torch.randn(1, 3, 8, 8)
program = torch.export.export(Block().eval(), (x,), strict=False)
lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
handles = sorted((n.name, n.meta.get("debug_handle")) for n in lowered.exported_program().graph.nodes
                 if n.op == "call_function")
buffer = lowered.to_executorch().buffer
out = Runtime.get().load_program(buffer).load_method("forward").execute([x])[0]
print(json.dumps({"handles": handles, "out": out.tolist()}))
"""


def _lower(mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LOWER_AND_DESCRIBE, mode], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _chain(sources) -> list:
    """Every NodeSource in these chains, ancestors included."""
    return [entry for s in sources for entry in (s, *_chain(s.from_node))]


def test_a_new_node_points_at_its_parents_provenance_instead_of_copying_it():
    assert share_node_provenance()
    program = torch.export.export(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.GELU()), (torch.randn(2, 4),))
    once = program.run_decompositions()
    older = {id(entry) for n in once.graph.nodes for entry in n.meta.get("from_node", ())}
    assert older, "run_decompositions recorded no provenance"
    twice = once.run_decompositions()
    ancestry = [entry for n in twice.graph.nodes for entry in _chain(n.meta.get("from_node", ()))]
    assert any(id(entry) in older for entry in ancestry), "the chains are copies of the parents', not the same entries"


def test_executorch_lowers_to_the_same_program_with_shared_provenance():
    copying, sharing = _lower("copy"), _lower("share")
    assert sharing["handles"] == copying["handles"]
    assert sharing["out"] == copying["out"]
