"""Bring the ARM64 emulator's pieces onto this machine (scripts/setup.sh runs this; safe to run again).

  python -m runtimes.arm64.provision [--no-apt]

1. Debian packages qemu-user-static and g++-aarch64-linux-gnu (and cmake), with apt-get, when they
   are missing and this is root (one `apt-get update` first).
2. Into the cache (toolchain.cache_dir()): with pip download, the aarch64 wheels of executorch,
   ai-edge-litert, onnxruntime, numpy and their pure-Python needs, at the versions installed on the
   host (so the phone runtimes are the ones that verified on the host); unzipped.
3. Debian's arm64 python3.11 and its libraries, downloaded with apt-get against a private package
   state in the cache (the system's apt configuration is not changed) and unpacked with dpkg-deb -x.
4. edge_bench cross-built for aarch64.
Each step that cannot run prints one line saying what is missing and how to get it; exit 1 then.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from runtimes.arm64 import toolchain

APT_PACKAGES = {
    "qemu-aarch64-static": "qemu-user-static",
    "aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu",
    "cmake": "cmake",
}
# wheel -> version used when the host has none installed (the pins of pyproject.toml's extras)
WHEELS = {
    "executorch": "1.5.1",
    "ai-edge-litert": "2.3.0",
    "onnxruntime": "1.31.1",
    "numpy": "2.4.0",
    "flatbuffers": None,
    "packaging": None,
    "protobuf": None,
}
PLATFORMS = ("manylinux_2_17_aarch64", "manylinux2014_aarch64", "manylinux_2_27_aarch64", "manylinux_2_28_aarch64")
DEBS = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "zlib1g",
    "libexpat1",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "libssl3",
    "libuuid1",
    "libcrypt1",
)


def say(message: str) -> None:
    print(f"arm64: {message}", file=sys.stderr)


def run(command: list[str], what: str, cwd: Path | None = None) -> bool:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip() and "WARNING" not in ln]
        say(f"{what} failed: {(lines[-1] if lines else 'exit ' + str(done.returncode))[:200]}")
    return done.returncode == 0


def apt_packages(allow: bool) -> bool:
    absent = sorted({pkg for tool, pkg in APT_PACKAGES.items() if shutil.which(tool) is None})
    if not absent:
        return True
    if not allow or os.geteuid() != 0 or shutil.which("apt-get") is None:
        say(f"missing Debian packages {' '.join(absent)}: install them with `apt-get install {' '.join(absent)}`.")
        return False
    say(f"installing {' '.join(absent)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ok = subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False).returncode == 0
    return (
        ok
        and subprocess.run(
            ["apt-get", "install", "-y", "-q", *absent], capture_output=True, env=env, check=False
        ).returncode
        == 0
    )


def wanted_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return WHEELS[name]


def wheels(root: Path) -> bool:
    folder = root / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    specs = [f"{n}=={v}" if (v := wanted_version(n)) else n for n in WHEELS]
    have = {p.name.split("-")[0].lower().replace("_", "-") + "==" + p.name.split("-")[1] for p in folder.glob("*.whl")}
    todo = [s for s in specs if "==" not in s or s.lower().replace("_", "-") not in have]
    if todo:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "-d",
            str(folder),
        ]
        for platform in PLATFORMS:
            command += ["--platform", platform]
        if not run(command + ["--platform", "any", *todo], "pip download of the aarch64 wheels"):
            return False
    keep = []
    for wheel in sorted(folder.glob("*.whl")):  # only the wanted version of each: older downloads go
        name, version = wheel.name.split("-")[:2]
        want = wanted_version(name.lower().replace("_", "-"))
        if want and version != want:
            wheel.unlink()
        else:
            keep.append(wheel)
    for target, group in (
        (root / "executorch", [w for w in keep if w.name.startswith("executorch-")]),
        (root / "site", [w for w in keep if not w.name.startswith("executorch-")]),
    ):
        stamp = target / ".edge-wheels"  # unpacked afresh when the set of wheels changes
        listing = "\n".join(w.name for w in group)
        if stamp.exists() and stamp.read_text() == listing:
            continue
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for wheel in group:  # executorch apart: the runner links its libraries, no Python imports it
            with zipfile.ZipFile(wheel) as z:
                z.extractall(target)
        stamp.write_text(listing)
    return True


def python_debs(root: Path) -> bool:
    lay = toolchain.layout()
    if lay.python.exists():
        return True
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        say(
            f"no apt-get/dpkg-deb here to fetch Debian's arm64 python3.11; unpack its .debs into {lay.sysroot} by hand."
        )
        return False
    state = root / "apt"
    for sub in ("lists/partial", "archives/partial", "debs"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    options = [
        "-o",
        "APT::Architecture=arm64",
        "-o",
        "APT::Architectures=arm64",
        "-o",
        f"Dir::State::Lists={state / 'lists'}",
        "-o",
        f"Dir::State::status={state / 'status'}",
        "-o",
        f"Dir::Cache={state}",
        "-o",
        f"Dir::Cache::archives={state / 'archives'}",
    ]
    if not run(["apt-get", *options, "update", "-q"], "apt-get update of the private arm64 package lists"):
        return False
    if not run(
        ["apt-get", *options, "download", *DEBS], "apt-get download of Debian's arm64 python3.11", cwd=state / "debs"
    ):
        return False
    for deb in sorted((state / "debs").glob("*.deb")):
        if not run(["dpkg-deb", "-x", str(deb), str(lay.sysroot)], f"dpkg-deb -x {deb.name}"):
            return False
    return lay.python.exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-apt", action="store_true", help="do not install Debian packages (report them)")
    args = parser.parse_args(argv)
    root = toolchain.cache_dir()
    ok = apt_packages(not args.no_apt)
    ok = wheels(root) and ok
    ok = python_debs(root) and ok
    if not toolchain.missing("pte"):
        try:
            toolchain.build_runner()
        except Exception as e:  # a failed build is reported in one line; the rest still works
            say(str(e))
            ok = False
    gaps = toolchain.missing("all")
    if gaps:
        say(f"not ready: missing {'; '.join(gaps)}.")
        return 1
    say(f"ready in {root} (qemu {toolchain.qemu_version()})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
