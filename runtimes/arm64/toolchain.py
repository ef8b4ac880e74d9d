"""Where the ARM64 emulation's pieces live, whether they are there, and how to run code under them.

Pieces (scripts/setup.sh brings them: `python -m runtimes.arm64.provision`):
- Debian's qemu-user-static (qemu-aarch64-static; no binfmt_misc here, so it is called explicitly)
  and g++-aarch64-linux-gnu (its /usr/aarch64-linux-gnu holds the aarch64 glibc and libstdc++);
- in the cache ($EDGE_ARM64_CACHE, default ~/.cache/edge/arm64): executorch's own aarch64 wheel
  (libraries, headers, CMake config) and edge_bench cross-built against it; Debian's arm64
  python3.11 unpacked with dpkg-deb -x (never installed); the aarch64 wheels of numpy,
  ai-edge-litert and onnxruntime unzipped into one site folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runtimes.arm64.cpus import cpuinfo_text, midr_of
from runtimes.base import RuntimeUnavailable

QEMU = "qemu-aarch64-static"
CROSS_CXX = "aarch64-linux-gnu-g++"
CROSS_ROOT = Path("/usr/aarch64-linux-gnu")
NATIVE_SRC = Path(__file__).resolve().parent.parent / "native"
TOOLCHAIN_FILE = Path(__file__).resolve().parent / "aarch64-linux-gnu.cmake"
SETUP_HINT = "run `bash scripts/setup.sh` (as root it installs them), or `python -m runtimes.arm64.provision`"


def cache_dir() -> Path:
    return Path(os.environ.get("EDGE_ARM64_CACHE") or Path.home() / ".cache" / "edge" / "arm64")


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def executorch(self) -> Path:  # the unzipped aarch64 executorch wheel (its executorch/ folder)
        return self.root / "executorch" / "executorch"

    @property
    def sysroot(self) -> Path:  # Debian arm64 packages, unpacked
        return self.root / "sysroot"

    @property
    def site(self) -> Path:  # aarch64 wheels, unzipped
        return self.root / "site"

    @property
    def python(self) -> Path:
        return self.sysroot / "usr" / "bin" / "python3.11"

    @property
    def runner(self) -> Path:
        return self.root / "build" / "edge_bench" / "edge_bench"

    def prefix(self, cpu: str) -> Path:  # qemu -L root for one CPU model: the cross glibc + its /proc/cpuinfo
        return self.root / "prefix" / cpu


def layout() -> Layout:
    return Layout(cache_dir())


def missing(need: str = "all") -> list[str]:
    """What is absent for `need` ('pte', 'python' or 'all'), each as 'what (how to get it)'."""
    lay, gaps = layout(), []
    if shutil.which(QEMU) is None:
        gaps.append(f"{QEMU} (apt-get install qemu-user-static)")
    if not (CROSS_ROOT / "lib" / "ld-linux-aarch64.so.1").exists():
        gaps.append("the aarch64 glibc in /usr/aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu)")
    if need in ("pte", "all"):
        if shutil.which(CROSS_CXX) is None:
            gaps.append(f"{CROSS_CXX} (apt-get install g++-aarch64-linux-gnu)")
        if shutil.which("cmake") is None:
            gaps.append("cmake (apt-get install cmake)")
        if not (lay.executorch / "share" / "cmake").is_dir():
            gaps.append(f"executorch's aarch64 wheel in {lay.executorch.parent}")
    if need in ("python", "all"):
        if not lay.python.exists():
            gaps.append(f"an aarch64 python3.11 in {lay.sysroot}")
        for package in ("numpy", "ai_edge_litert", "onnxruntime"):
            if not (lay.site / package).is_dir():
                gaps.append(f"the aarch64 {package} wheel in {lay.site}")
    return gaps


def check_ready(need: str = "all") -> None:
    """RuntimeUnavailable with one line naming what is missing and how to install it."""
    gaps = missing(need)
    if gaps:
        raise RuntimeUnavailable(f"the ARM64 emulator is not set up: missing {'; '.join(gaps)}; {SETUP_HINT}.")


def qemu_version() -> str:
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=False).stdout
    return out.split("\n", 1)[0].replace("qemu-aarch64 version ", "").strip() or "unknown"


def prefix_for(cpu: str) -> Path:
    """The -L root for `cpu`: links to the cross glibc's folders and the model's own /proc/cpuinfo."""
    root = layout().prefix(cpu)
    text = cpuinfo_text(cpu)
    info = root / "proc" / "cpuinfo"
    if not info.exists() or info.read_text() != text:
        info.parent.mkdir(parents=True, exist_ok=True)
        for entry in CROSS_ROOT.iterdir():
            link = root / entry.name
            if not link.exists():
                try:
                    link.symlink_to(entry)
                except FileExistsError:  # another process made it meanwhile
                    pass
        for i in range(text.count("processor\t:")):  # where ExecuTorch's cpuinfo_utils reads the MIDR
            midr = root / "sys" / "devices" / "system" / "cpu" / f"cpu{i}" / "regs" / "identification" / "midr_el1"
            midr.parent.mkdir(parents=True, exist_ok=True)
            midr.write_text(f"0x{midr_of(cpu):016x}\n")
        tmp = info.with_suffix(f".{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, info)
    return root


def qemu_command(cpu: str, program: Path | str, args: list[str], env: dict[str, str]) -> list[str]:
    """`program args` as an aarch64 process on `cpu`, with `env` set inside it."""
    command = [QEMU, "-L", str(prefix_for(cpu)), "-cpu", cpu]
    for key, value in env.items():
        command += ["-E", f"{key}={value}"]
    return command + [str(program), *args]


def guest_python_env() -> dict[str, str]:
    """What the unpacked aarch64 CPython needs: its own stdlib, the aarch64 site folder, its libraries."""
    lay = layout()
    libs = [lay.sysroot / "lib" / "aarch64-linux-gnu", lay.sysroot / "usr" / "lib" / "aarch64-linux-gnu"]
    return {
        "PYTHONHOME": str(lay.sysroot / "usr"),
        "PYTHONPATH": str(lay.site),
        "PYTHONNOUSERSITE": "1",
        "LD_LIBRARY_PATH": ":".join(map(str, libs)),
    }


def host_env() -> dict[str, str]:
    """The emulator's own environment: none of the host's Python or library settings leak into the guest."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}


def runner_source_hash() -> str:
    h = hashlib.sha256()
    for path in (NATIVE_SRC / "edge_bench.cpp", NATIVE_SRC / "CMakeLists.txt", TOOLCHAIN_FILE):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_runner(timeout: float = 600) -> Path:
    """edge_bench cross-built for aarch64 against the aarch64 executorch wheel (once per source change)."""
    check_ready("pte")
    lay = layout()
    stamp = lay.runner.parent / "edge-source.sha256"
    want = runner_source_hash()
    if lay.runner.exists() and stamp.exists() and stamp.read_text() == want:
        return lay.runner
    build = lay.runner.parent
    build.mkdir(parents=True, exist_ok=True)
    with open(build.parent / ".edge_bench.lock", "w") as lock:  # one build at a time across processes
        fcntl.flock(lock, fcntl.LOCK_EX)
        if lay.runner.exists() and stamp.exists() and stamp.read_text() == want:
            return lay.runner
        _cmake(build, lay, timeout)
        stamp.write_text(want)
    return lay.runner


def _cmake(build: Path, lay: Layout, timeout: float) -> None:
    steps = [
        [
            "cmake",
            "-S",
            str(NATIVE_SRC),
            "-B",
            str(build),
            f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN_FILE}",
            f"-Dexecutorch_DIR={lay.executorch / 'share' / 'cmake'}",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        ["cmake", "--build", str(build), "-j2"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeUnavailable(
                f"cross-building edge_bench for aarch64 failed ({' '.join(step[:2])}): {tail[0][:200]}"
            )


def runner_env() -> dict[str, str]:
    return {"LD_LIBRARY_PATH": str(layout().executorch / "lib")}
