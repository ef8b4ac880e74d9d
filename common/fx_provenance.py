"""Node provenance that is shared, not deep-copied, from pass to pass.

Every FX pass that re-traces a graph (run_decompositions, each of ExecuTorch's ExportPasses, the
XNNPACK partitioner's passes) records on each new node where it came from: a NodeSource holding
the chain of the node's ancestors. torch builds it with `copy.deepcopy` of the parent's whole
chain, so a chain that grows by one level per pass is copied again by every pass: profiled on
MobileViT-XXS, sharing instead cut its XNNPACK export by 15% at 256 px (95.7 -> 81.0 s) and by
about a third at 64 px (issue 19). The chains are
never edited after they are made (nothing in torch or ExecuTorch mutates a NodeSource's
`from_node`), so a new node can point at its parent's entries instead: the same provenance (the
debug handles ExecuTorch derives from the oldest ancestor are unchanged), made in constant time.
"""

from __future__ import annotations

_installed = False


def share_node_provenance() -> bool:
    """Make new NodeSources reference their parents' chains (once per process). Returns whether
    the sharing is in effect; a torch whose NodeSource is laid out differently keeps its own."""
    global _installed
    if _installed:
        return True
    try:
        from torch.fx.traceback import NodeSource
    except ImportError:
        return False
    if getattr(NodeSource.__init__, "_edge_shares", False):  # installed by an earlier import of this module
        _installed = True
        return True
    if not hasattr(NodeSource, "NodeInfo"):
        return False
    copying_init = NodeSource.__init__

    def sharing_init(self, node=None, pass_name: str = "", action=None) -> None:
        copying_init(self, None, pass_name, action)  # everything but the node's own facts
        if node is not None:
            self.node_info = NodeSource.NodeInfo(name=node.name, target=str(node.target), graph_id=id(node.graph))
            self.from_node = list(node.meta.get("from_node", ()))  # a new list of the same (immutable) entries

    sharing_init._edge_shares = True  # type: ignore[attr-defined]
    NodeSource.__init__ = sharing_init  # type: ignore[method-assign]
    _installed = True
    return True
