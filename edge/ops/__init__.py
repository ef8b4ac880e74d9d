"""Custom ops (torch.library): single nodes in torch.export that each backend lowers its own way."""

from edge.ops.local_attention import local_attention, reference_local_attention
from edge.ops.partial_conv import partial_conv, reference_partial_conv

__all__ = ["local_attention", "partial_conv", "reference_local_attention", "reference_partial_conv"]
