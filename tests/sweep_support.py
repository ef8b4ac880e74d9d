"""Helpers for tests/test_sweep.py: spec files, digits folders, a model torch.export cannot capture, a Ray cluster."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from torch import nn

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "edge" / "data" / "digits"


class DataDependent(nn.Module):
    """Branches on a tensor's value: torch.export refuses it, so its sweep cell must end as an error row."""

    def __init__(self, num_classes: int = 10, input_size: int = 64):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        y = self.conv(x)
        if y.mean() > 0:  # data-dependent control flow
            y = -y
        return self.head(y.mean((2, 3)))


def not_exportable(num_classes: int = 10, input_size: int = 64) -> nn.Module:
    torch.manual_seed(0)
    return DataDependent(num_classes, input_size)


def write_spec(path: Path, **fields) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def digits_subset(out: Path, split: str, per_class: int) -> Path:
    """A few real digit images per class (edge.digits), as the image folders calib and eval_data read."""
    from edge.digits import write_image_folder

    full = write_image_folder(out.with_name(out.name + "-all"), split)
    for c in range(10):
        (out / str(c)).mkdir(parents=True, exist_ok=True)
        for f in sorted((full / str(c)).iterdir())[:per_class]:
            shutil.copy(f, out / str(c) / f.name)
    shutil.rmtree(full)
    return out


def edge_cmd(*args: str) -> list[str]:
    return [str(VENV_BIN / "edge"), *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayCluster:
    """`ray start --block` head and worker nodes on this machine, each in its own process group, ended by id."""

    def __init__(self, tmp: Path):
        self.tmp, self.port, self.procs = tmp, free_port(), []
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="edge-ray-", dir="/tmp"))  # Ray's socket paths must stay short
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled"}  # a throwaway local cluster: no token to share

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, args: list[str], name: str) -> None:
        log = open(self.tmp / f"{name}.log", "w")
        self.procs.append(
            subprocess.Popen(
                [
                    str(VENV_BIN / "ray"),
                    "start",
                    "--block",
                    "--disable-usage-stats",
                    "--object-store-memory",
                    str(150 * 1024**2),
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        )

    def start_head(self, cpus: int) -> None:
        self._start(
            [
                "--head",
                f"--port={self.port}",
                f"--num-cpus={cpus}",
                "--include-dashboard=false",
                f"--temp-dir={self.ray_tmp}",
            ],
            "head",
        )

    def add_node(self, cpus: int, resources: dict) -> None:
        self._start(
            [f"--address={self.address}", f"--num-cpus={cpus}", f"--resources={json.dumps(resources)}"],
            f"node{len(self.procs)}",
        )

    def nodes(self, want: int, timeout: float = 90.0) -> list[dict]:
        """The alive nodes, once `want` of them have joined (asked from a fresh process: one ray.init each)."""
        code = (
            f"import json, ray; ray.init(address={self.address!r}, log_to_driver=False); "
            "print(json.dumps([n for n in ray.nodes() if n['Alive']]))"
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=self.env, timeout=60)
            if out.returncode == 0:
                nodes = json.loads(out.stdout.strip().splitlines()[-1])
                if len(nodes) >= want:
                    return nodes
            time.sleep(2)
        raise TimeoutError(f"the Ray cluster at {self.address} did not reach {want} nodes")

    def stop(self) -> None:
        for proc in reversed(self.procs):  # workers first, then the head
            with _quietly():
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            with _quietly():
                os.killpg(proc.pid, signal.SIGKILL)  # what graceful shutdown left behind in that group
        shutil.rmtree(self.ray_tmp, ignore_errors=True)


class _quietly:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        return exc_type is ProcessLookupError
