"""The Target: one object per phone backend that tells the whole story of that backend."""
from __future__ import annotations

import importlib.util
import platform
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Availability:
    can_export: bool
    can_run: bool
    reason: str  # why not, or "" when both hold

    def to_dict(self) -> dict:
        return {"can_export": self.can_export, "can_run": self.can_run, "reason": self.reason}


@dataclass(frozen=True)
class Target:
    name: str
    suffix: str                       # artifact file suffix, with the dot
    description: str
    extra: str                        # the pip extra that installs its SDK
    export_modules: tuple[str, ...]   # Python modules the converter needs
    run_modules: tuple[str, ...]      # Python modules the verifying runtime needs
    run_platforms: tuple[str, ...] = ("Linux", "Darwin", "Windows")
    notes: tuple[str, ...] = field(default_factory=tuple)

    def availability(self) -> Availability:
        """Lazy check (no SDK import): what this machine can do with the target, and why not."""
        missing = [m for m in self.export_modules if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(False, False, f"{', '.join(missing)} not installed: pip install 'edge[{self.extra}]'")
        if platform.system() not in self.run_platforms:
            where = " or ".join("macOS" if p == "Darwin" else p for p in self.run_platforms)
            return Availability(True, False, f"export only: its runtime needs {where}")
        missing = [m for m in self.run_modules if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(True, False, f"export only: {', '.join(missing)} not installed "
                                             f"(pip install 'edge[{self.extra}]')")
        return Availability(True, True, "")
