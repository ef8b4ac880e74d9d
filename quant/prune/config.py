"""What a pruning request holds: a frozen dataclass, validated on construction (no torch import)."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.errors import EdgeError

IMPORTANCES = ("l2", "l1", "taylor")

# Blocks Torch-Pruning must prune as one unit (quant/prune/units.py holds how each kind is pruned).
# The package defining such a block registers it, so pruning knows no model code by name.
UNIT_KINDS: dict[type, str] = {}
KINDS = ("partial_conv", "single_head_gated_attention")


def register_unit(module_type: type, kind: str) -> None:
    """partial_conv: a conv over the first `dim_conv` of `dim_conv + dim_untouched` channels (`conv`).
    single_head_gated_attention: q/k/v_gate/proj (conv, norm) pairs over the residual width, `v_dim`."""
    if kind not in KINDS:
        raise ValueError(f"unknown pruning unit kind {kind!r}; one of {', '.join(KINDS)}")
    UNIT_KINDS[module_type] = kind


def unit_kind(module) -> str | None:
    return next((kind for base, kind in UNIT_KINDS.items() if isinstance(module, base)), None)


class PruneError(EdgeError, ValueError):
    """A pruning request or model that cannot be pruned; the message names the fix."""


def check_fraction(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise PruneError(f"{name} must be a number strictly between 0 and 1. Got {value!r}.")


@dataclass(frozen=True)
class PruneConfig:
    """One structured-pruning request; exactly one of `ratio` and `flops`.

    ratio     fraction of channels removed from every prunable group (0.3 keeps ~70% of each width)
    flops     fraction of GFLOPs to REMOVE (0.5 halves the MACs): the channel ratio is searched
    importance  "l2" (default) or "l1" weight magnitude, or "taylor" (|w * dL/dw| on calibration data)
    round_to  kept channel counts are multiples of this (8 suits XNNPACK's kernels)
    exclude   module names (or fnmatch patterns) whose output channels are kept
    keep_stem keep the first convolution's output channels (the classifier's outputs are always kept)
    """

    ratio: float | None = None
    flops: float | None = None
    importance: str = "l2"
    round_to: int = 8
    exclude: list[str] = field(default_factory=list)
    keep_stem: bool = True

    def __post_init__(self):
        if (self.ratio is None) == (self.flops is None):
            raise PruneError(
                "give exactly one of a channel ratio (--prune R) and a GFLOPs fraction to remove "
                f"(--prune-flops F). Got ratio={self.ratio!r}, flops={self.flops!r}."
            )
        if self.ratio is not None:
            check_fraction("the pruning ratio", self.ratio)
        if self.flops is not None:
            check_fraction("the fraction of GFLOPs to remove", self.flops)
        if self.importance not in IMPORTANCES:
            raise PruneError(f"unknown pruning importance {self.importance!r}; choose one of {', '.join(IMPORTANCES)}.")
        if isinstance(self.round_to, bool) or not isinstance(self.round_to, int) or self.round_to < 1:
            raise PruneError(f"round_to must be a positive integer. Got {self.round_to!r}.")
        if isinstance(self.exclude, str) or not all(isinstance(n, str) and n for n in self.exclude):
            raise PruneError(f"exclude must be a list of module names. Got {self.exclude!r}.")
        if not isinstance(self.keep_stem, bool):
            raise PruneError(f"keep_stem must be true or false. Got {self.keep_stem!r}.")
        object.__setattr__(self, "exclude", list(self.exclude))

    def kwargs(self) -> dict:
        """The keyword arguments of quant.prune.prune()."""
        return {
            "ratio": self.ratio,
            "flops": self.flops,
            "importance": self.importance,
            "round_to": self.round_to,
            "exclude": tuple(self.exclude),
            "keep_stem": self.keep_stem,
        }
