"""Bad input across commands: exit code 2, exactly one `edge: error:` line, no traceback, and the
folder the command writes to exactly as it was before (names, numbers, files, recipes, artifacts,
output places, models, devices). Signals are in test_signals.py, corrupted artifacts in test_fuzz.py."""

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from edge.cli import main
from tests.profiling_support import REPO, small_artifact

BAD_MODELS = """
import torch
from torch import nn

class Two(nn.Module):
    def forward(self, x, y):
        return x + y

class Keys(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
    def forward(self, x):
        return {"features": self.conv(x)}

class Nan(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
    def forward(self, x):
        return self.conv(x).mean((2, 3)) * float("nan")

class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
    def forward(self, x):
        y = self.conv(x).mean((2, 3))
        return y if y.sum() > 0 else -y

def raises(**kw):
    raise RuntimeError("checkpoint server unreachable")

def not_a_module(**kw):
    return 42

def two_inputs(**kw):
    return Two()

def dict_without_logits(**kw):
    return Keys()

def nan_output(**kw):
    return Nan()

def data_dependent(**kw):
    return Branchy()
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-inputs")
    (d / "badmodels_edge_tests.py").write_text(BAD_MODELS)
    (d / "not_utf8.yaml").write_bytes(b"model:\n  name: \xff\xfe\n")
    (d / "unknown_key.yaml").write_text("model: {name: fasternet_t0}\ntargest: [onnx]\n")
    (d / "bad.yaml").write_text("model: [unclosed\n")
    (d / "not_utf8.json").write_bytes(b"\xff\xfe{}")
    (d / "not_json.json").write_text("{ nope")
    (d / "labels3.txt").write_text("a\nb\nc\n")
    (d / "pickled.pt").write_bytes(b"\x80\x04\x95")
    torch.save({"x": torch.zeros(2)}, d / "mismatch.pt")
    torch.manual_seed(0)
    import edge

    state = edge.models.create("fasternet_t0", num_classes=10, input_size=64).state_dict()
    state = {k: v.clone() for k, v in state.items()}
    next(v for v in state.values() if v.is_floating_point()).fill_(float("nan"))
    save_file(state, d / "nan.safetensors")
    np.save(d / "nan_calib.npy", np.full((4, 3, 64, 64), np.nan, dtype=np.float32))
    np.save(d / "wrong_calib.npy", np.zeros((4, 3, 32, 32), dtype=np.float32))
    (d / "empty.pte").write_bytes(b"")
    (d / "random.pte").write_bytes(os.urandom(4096))
    (d / "folder.pte").mkdir()
    (d / "a_file").write_text("x")
    return d


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A FasterNet-T0 64 px .pte with its manifest, and copies to damage."""
    return small_artifact("xnnpack", tmp_path_factory)


def _damaged_copy(artifact: Path, where: Path, how: str) -> Path:
    where.mkdir(exist_ok=True)
    dst = where / artifact.name
    shutil.copy(artifact, dst)
    manifest = artifact.with_suffix(".json")
    if how == "manifest_empty":
        dst.with_suffix(".json").write_text("")
    elif how == "manifest_truncated":
        dst.with_suffix(".json").write_text(manifest.read_text()[:200])
    elif how == "manifest_not_edge":
        dst.with_suffix(".json").write_text(json.dumps({"artifact": {"file": dst.name}}))
    else:
        shutil.copy(manifest, dst.with_suffix(".json"))
        data = bytearray(dst.read_bytes())
        if how == "modified":
            data[-100] ^= 0xFF
        elif how == "truncated":
            data = data[: len(data) // 2]
        elif how == "empty":
            data = bytearray()
        dst.write_bytes(bytes(data))
    return dst


EXPORT = ["export", "fasternet_t0", "--target", "onnx", "--input-size", "64", "--num-classes", "10"]
MODELS = "badmodels_edge_tests:"

# (argv with {f} for the files folder and {o} for the output folder, text the one line must hold)
CASES = {
    # names
    "unknown model": (["export", "mobilevit_xxx", "-o", "{o}"], "mobilevit_xxx"),
    "unknown target": (EXPORT + ["--target", "tpu", "-o", "{o}"], "unknown target"),
    "unknown quant": (EXPORT + ["--quant", "int4", "-o", "{o}"], "--quant"),
    "unknown command": (["exprot", "fasternet_t0"], "unknown command"),
    "unknown keep-float module": (
        EXPORT + ["--quant", "int8", "--keep-float", "stages.9", "-o", "{o}"],
        "names no module 'stages.9'",
    ),
    "unknown deploy cpu": (EXPORT + ["--quant", "int8", "--deploy-cpu", "riscv", "-o", "{o}"], "--deploy-cpu"),
    "unknown prune importance": (
        EXPORT + ["--prune", "0.3", "--prune-importance", "random", "-o", "{o}"],
        "importance",
    ),
    "unknown profile device": (["profile", "{f}/empty.pte", "--device", "tpu:0"], "device"),
    "factory module missing": (["export", "no_such_module_xyz:make", "-o", "{o}"], "cannot import"),
    "factory function missing": (["export", MODELS + "nothing", "-o", "{o}"], "no callable"),
    # numbers
    "input size zero": (EXPORT + ["--input-size", "0", "-o", "{o}"], "--input-size"),
    "input size negative": (EXPORT + ["--input-size", "-3", "-o", "{o}"], "--input-size"),
    "input size huge": (EXPORT + ["--input-size", "100000", "-o", "{o}"], "--input-size"),
    "input size not a number": (EXPORT + ["--input-size", "big", "-o", "{o}"], "--input-size"),
    "num classes zero": (EXPORT + ["--num-classes", "0", "-o", "{o}"], "--num-classes"),
    "calib samples zero": (EXPORT + ["--quant", "int8", "--calib-samples", "0", "-o", "{o}"], "--calib-samples"),
    "max drop over 100": (EXPORT + ["--quant", "int8", "--max-drop", "200", "-o", "{o}"], "max_drop"),
    "prune ratio one": (EXPORT + ["--prune", "1.0", "-o", "{o}"], "pruning ratio"),
    "prune ratio negative": (EXPORT + ["--prune", "-0.2", "-o", "{o}"], "pruning ratio"),
    "bench threads zero": (["bench", "fasternet_t0", "--threads", "0"], "--threads"),
    "bench threads over the cores": (["bench", "fasternet_t0", "--threads", "999"], "--threads"),
    "bench runs negative": (["bench", "fasternet_t0", "--runs", "-5"], "--runs"),
    "bench warmup negative": (["bench", "fasternet_t0", "--warmup", "-1"], "--warmup"),
    "profile threads 999": (["profile", "{f}/empty.pte", "--threads", "999"], "--threads"),
    "profile host threads over the cores": (["profile", "{a}", "--threads", "16"], "this host has"),
    "profile runs zero": (["profile", "{f}/empty.pte", "--runs", "0"], "--runs"),
    "eval limit zero": (["eval", "{f}/empty.pte", "--data", "{f}", "--limit", "0"], "--limit"),
    "coreml ios 16": (EXPORT + ["--target", "coreml", "--coreml-ios", "16", "-o", "{o}"], "--coreml-ios"),
    "int8 option without int8": (EXPORT + ["--calib", "{f}", "-o", "{o}"], "only apply to --quant int8"),
    # files
    "weights missing": (EXPORT + ["--weights", "{f}/nope.safetensors", "-o", "{o}"], "does not exist"),
    "weights pickled": (EXPORT + ["--weights", "{f}/pickled.pt", "-o", "{o}"], "pickled.pt"),
    "weights mismatched": (EXPORT + ["--weights", "{f}/mismatch.pt", "-o", "{o}"], "do not match"),
    "weights with NaN": (EXPORT + ["--weights", "{f}/nan.safetensors", "-o", "{o}"], "NaN or Inf"),
    "labels missing": (EXPORT + ["--labels", "{f}/nope.txt", "-o", "{o}"], "labels"),
    "labels count wrong": (EXPORT + ["--labels", "{f}/labels3.txt", "-o", "{o}"], "3 labels"),
    "calib missing": (EXPORT + ["--quant", "int8", "--calib", "{f}/nope", "-o", "{o}"], "does not exist"),
    "calib with NaN": (EXPORT + ["--quant", "int8", "--calib", "{f}/nan_calib.npy", "-o", "{o}"], "NaN or Inf"),
    "calib wrong shape": (EXPORT + ["--quant", "int8", "--calib", "{f}/wrong_calib.npy", "-o", "{o}"], "shape"),
    "recipe missing": (["export", "{f}/nope.yaml", "-o", "{o}"], "nope.yaml"),
    "recipe not utf-8": (["export", "{f}/not_utf8.yaml", "-o", "{o}"], "not UTF-8"),
    "recipe unknown key": (["export", "{f}/unknown_key.yaml", "-o", "{o}"], "targest"),
    "recipe bad yaml": (["export", "{f}/bad.yaml", "-o", "{o}"], "not valid YAML"),
    "report input not utf-8": (["report", "{f}/not_utf8.json", "-o", "{o}/r.html"], "not UTF-8"),
    "report input not json": (["report", "{f}/not_json.json", "-o", "{o}/r.html"], "not_json.json"),
    "report input missing": (["report", "{f}/nope.json", "-o", "{o}/r.html"], "nope.json"),
    # artifacts
    "profile empty pte": (["profile", "{f}/empty.pte"], "truncated"),
    "profile random bytes": (["profile", "{f}/random.pte"], "not a .pte"),
    "profile folder named pte": (["profile", "{f}/folder.pte"], "is a folder"),
    "inspect empty pte": (["inspect", "{f}/empty.pte"], "truncated"),
    "inspect random bytes": (["inspect", "{f}/random.pte"], "not a .pte"),
    "inspect folder named pte": (["inspect", "{f}/folder.pte"], "is a folder"),
    "bundle missing artifact": (
        ["bundle", "{f}/nope.pte", "--app", "android", "--demo-dir", "{r}/android_demo"],
        "does not exist",
    ),
    # output places
    "output folder is a file": (EXPORT + ["-o", "{f}/a_file"], "is a file"),
    "output under a file": (EXPORT + ["-o", "{f}/a_file/sub"], "is a file"),
    # models
    "factory raises": (["export", MODELS + "raises", "-o", "{o}"], "checkpoint server unreachable"),
    "factory returns no module": (["export", MODELS + "not_a_module", "-o", "{o}"], "not a torch.nn.Module"),
    "model takes two inputs": (["export", MODELS + "two_inputs", "-o", "{o}"], "2 required inputs"),
    "dict output without logits": (["export", MODELS + "dict_without_logits", "-o", "{o}"], "no 'logits'"),
    "model outputs NaN": (["export", MODELS + "nan_output", "--target", "onnx", "-o", "{o}"], "NaN or Inf"),
    "data-dependent control flow": (
        ["export", MODELS + "data_dependent", "--target", "onnx", "-o", "{o}"],
        "Data-dependent",
    ),
    # devices
    "adb not on PATH": (["profile", "{a}", "--device", "adb", "--runner", "{a}"], "adb"),
    "ios on linux": (["profile", "{a}", "--device", "ios"], ""),
    "runner on host": (["profile", "{a}", "--runner", "x"], "--runner"),
}
# artifact copies damaged in these ways, each given to the commands that check artifacts
DAMAGE = {
    "modified": "sha256 differs",
    "truncated": "truncated",
    "empty": "truncated",
    "manifest_empty": "not JSON",
    "manifest_truncated": "not JSON",
    "manifest_not_edge": "not a valid edge manifest",
}


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts)


def _run_one(capsys, monkeypatch, argv: list[str], watched: Path) -> tuple[int, str]:
    before = _listing(watched)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no adb here, whatever the machine has
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors (edge's parser prints one line, then exits 2)
        code = e.code
    out, err = capsys.readouterr()
    assert _listing(watched) == before, "the command changed the folder it failed in"
    assert code == 2, (argv, out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]  # the rest is progress ("  0.0s model  building ...")
    assert len(errors) == 1 and lines[-1].startswith("edge: error: "), err
    assert "Traceback" not in err + out
    return code, lines[-1]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_the_folder_as_it_was(
    case, files, artifact, tmp_path, capsys, monkeypatch
):
    argv, needle = CASES[case]
    monkeypatch.chdir(files)  # factories import from the working folder
    out = tmp_path / "out"
    argv = [a.format(f=files, o=out, a=artifact, r=REPO) for a in argv]
    _, line = _run_one(capsys, monkeypatch, argv, tmp_path)
    assert needle in line, line
    assert not out.exists()


@pytest.mark.parametrize("command", ["profile", "inspect", "eval"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_artifact_or_manifest_is_refused(command, damage, artifact, tmp_path, capsys, monkeypatch):
    path = _damaged_copy(artifact, tmp_path / "copy", damage)
    argv = {
        "profile": ["profile", str(path), "--runs", "1", "--warmup", "0"],
        "inspect": ["inspect", str(path)],
        "eval": ["eval", str(path), "--data", str(tmp_path)],
    }[command]
    _, line = _run_one(capsys, monkeypatch, argv, tmp_path)
    assert DAMAGE[damage] in line, line


def test_allow_modified_profiles_a_changed_file_with_a_warning(artifact, tmp_path, capsys):
    path = _damaged_copy(artifact, tmp_path / "copy", "modified")
    code = main(["profile", str(path), "--runs", "1", "--warmup", "0", "--no-op-profile", "--allow-modified", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and "differs from its manifest" in err and json.loads(out)["runs"] == 1


def test_a_folder_where_the_manifest_goes_is_refused_before_converting(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    (out / "fasternet_t0-onnx-fp32.json").mkdir(parents=True)
    _, line = _run_one(capsys, monkeypatch, EXPORT + ["-o", str(out)], tmp_path)
    assert "a folder sits where the export writes" in line


def test_unexpected_errors_are_one_line_with_the_traceback_behind_debug(capsys, monkeypatch):
    import edge.api

    monkeypatch.setattr(edge.api, "describe_models", lambda family: {}["boom"])
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected KeyError in edge list" in err and "--debug" in err
    assert main(["--debug", "list"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("edge: error: unexpected KeyError")


def test_disk_full_while_committing_rolls_back_every_file(tmp_path, capsys, monkeypatch):
    """ENOSPC as the manifest is written: the artifact, .ort and operator config stay out of sight."""
    import errno

    import edge.export_steps

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(edge.export_steps, "write_json", full)
    out = tmp_path / "out"
    out.mkdir()
    _, line = _run_one(capsys, monkeypatch, EXPORT + ["-o", str(out)], tmp_path)
    assert "no space left" in line and os.listdir(out) == []


def test_stale_partials_of_dead_processes_are_removed(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    dead = out / ".fasternet_t0-onnx-fp32.partial-999999999.onnx"
    mine = out / f".other.partial-{os.getpid()}.onnx"
    dead.write_bytes(b"x")
    mine.write_bytes(b"x")
    from edge.export import prepare_out_dir

    prepare_out_dir(out)
    assert not dead.exists() and mine.exists()


def test_a_dict_output_with_logits_exports_its_logits(tmp_path, files, monkeypatch):
    """Hugging Face style: ModelOutput/dict with `logits`; the manifest says which part was taken."""
    monkeypatch.chdir(files)
    (files / "logits_dict_edge_tests.py").write_text(
        textwrap.dedent("""
        import torch
        from torch import nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3, stride=2)
                self.head = nn.Linear(8, 5)
            def forward(self, x):
                return {"logits": self.head(self.conv(x).mean((2, 3))), "aux": x}
        def make(**kw):
            return M()
    """)
    )
    from edge.export import export

    r = export("logits_dict_edge_tests:make", target="onnx", input_size=32, out_dir=tmp_path / "out")
    assert r.manifest["outputs"][0]["source"] == "the 'logits' entry of the model's output"
    assert r.manifest["outputs"][0]["shape"] == [1, 5] and r.manifest["parity"]["status"] == "passed"


@pytest.fixture
def full_tmpfs(tmp_path):
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); the ENOSPC rollback is also tested by injection above")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_a_full_disk_is_one_line_and_leaves_no_file(full_tmpfs, capsys, monkeypatch):
    """A real 1 MB tmpfs: the artifact does not fit, so the converter hits ENOSPC."""
    _, line = _run_one(capsys, monkeypatch, EXPORT + ["-o", str(full_tmpfs)], full_tmpfs)
    assert "No space left" in line or "no space left" in line
    assert os.listdir(full_tmpfs) == []
