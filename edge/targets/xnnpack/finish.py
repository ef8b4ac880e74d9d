"""What runs once after the XNNPACK lowerings, on the whole lowered program."""

from __future__ import annotations

import torch

from edge.lowering import finisher
from edge.targets.constant_folding import fold_constants
from edge.targets.xnnpack.large_dwconv import convolutions_as_conv2d


@finisher("xnnpack")
def finish(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """Convolutions back to aten.conv2d, then every computation on constants folded."""
    return fold_constants(convolutions_as_conv2d(program))
