"""Ray: start a local one (the machine's cores, this machine's devices) or join a cluster.

Devices are Ray custom resources named `edge-device:<device>` with capacity 1, declared by the node
they hang off (`ray start ... --resources '{"edge-device:adb:SERIAL": 1}'`). A timing task asks for
one unit, so Ray runs it on that node and never runs two timings on one device at once.
"""

from __future__ import annotations

import contextlib
import json
import os

from common.errors import EdgeError

RESOURCE_PREFIX = "edge-device:"
MAX_RETRIES = 2  # a worker that dies mid-cell is retried this many times, then the cell is an error row


def device_resource(device: str) -> str:
    return RESOURCE_PREFIX + device


def declare_command(devices: list[str]) -> str:
    res = json.dumps({device_resource(d): 1 for d in devices})
    return f"ray start --address HEAD:6379 --resources '{res}'"


def _ray():
    try:
        import ray
    except ImportError:
        raise EdgeError("edge sweep runs on Ray, which is not installed; pip install 'edge[sweep]'.") from None
    return ray


@contextlib.contextmanager
def connect(address: str | None, devices: list[str], num_cpus: int | None = None):
    """Yield the ray module, connected; a Ray started here is shut down on the way out."""
    ray = _ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet = {"log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                num_cpus=num_cpus or os.cpu_count(),
                resources={device_resource(d): 1 for d in devices},
                include_dashboard=False,
                object_store_memory=512 * 1024**2,
                **quiet,
            )
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray"
        raise EdgeError(
            f"cannot start or join {where} ({str(e).splitlines()[0][:200]}); check --address / "
            "RAY_ADDRESS and that 'ray start --head' runs there."
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def device_nodes(ray, devices: list[str]) -> dict[str, list[dict]]:
    """Per device, the alive nodes that declare it; a device nobody declares is an EdgeError."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    found = {d: [n for n in nodes if n["Resources"].get(device_resource(d), 0) >= 1] for d in devices}
    missing = [d for d, ns in found.items() if not ns]
    if missing:
        raise EdgeError(
            f"no node of the Ray cluster declares device {missing[0]!r}; start the node it is attached to "
            f"with: {declare_command(missing)}"
        )
    return found


def timing_cpus(device: str, threads: int, nodes: list[dict]) -> float:
    """A host timing holds as many CPUs as it runs threads (conversions then wait instead of sharing the cores);
    a phone timing needs no host CPU to speak of."""
    if not device.startswith("host"):
        return 0
    return float(min([threads] + [n["Resources"].get("CPU", 1) for n in nodes]))
