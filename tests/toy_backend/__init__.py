"""A toy backend, all in this folder: torch.export archives (.pt2) run by torch itself.

It exists to show that a backend is one folder plus one registration (edge.targets.register_target):
the export pipeline, verification and the manifest take everything they need from its Target."""

from edge.targets.base import Target

TARGET = Target(
    "pt2",
    ".pt2",
    "torch.export archive run by torch (toy backend)",
    "xnnpack",
    export_modules=("torch",),
    run_modules=("torch",),
    exporter="tests.toy_backend.backend:export_pt2",
    runtime="torch",
    packages=("torch",),
    session="tests.toy_backend.backend:open_pt2",
    latency_candidates=(),
)
