"""The emulated ARM64 device (runtimes/arm64, edge/arm_verify.py): artifacts verified on ARM kernels.

CI budget: qemu runs every ARM instruction in software, so these tests export a rotation (each backend
and precision under cortex-a53 and cortex-a76, each zoo model at least once, at 64 px: FasterNet-T0 fp32
on all three, MobileViT-XXS xnnpack fp16 and onnx int8, iFormer-T xnnpack and litert int8) and run ONE
verification input per artifact per CPU (EDGE_ARM64_VERIFY_INPUTS=1). The full 3 models x 7
backend/precision x 2 CPUs matrix is benchmarks/arm64_parity.py.
"""

import json
from pathlib import Path

import pytest

from common.errors import EdgeError, ExportError
from runtimes import ProfileError
from runtimes.arm64 import parse_cpus
from runtimes.arm64.cpus import cpuinfo_text, decode_hwcaps, midr_of
from tests.profiling_support import run_cli

CPUS = ["cortex-a53", "cortex-a76"]


def _missing() -> str | None:
    from runtimes.arm64 import missing
    from runtimes.arm64.toolchain import SETUP_HINT

    gaps = missing("all")
    return f"the ARM64 emulator is not set up: missing {'; '.join(gaps)}; {SETUP_HINT}" if gaps else None


needs_emulator = pytest.mark.skipif(bool(_missing()), reason=_missing() or "")


@pytest.mark.parametrize(
    "spec,cpus",
    [
        ("arm64", ["cortex-a76"]),
        ("arm64:cortex-a53", ["cortex-a53"]),
        ("arm64:cortex-a53,cortex-a76,max", ["cortex-a53", "cortex-a76", "max"]),
    ],
)
def test_device_specs(spec, cpus):
    assert parse_cpus(spec) == cpus


@pytest.mark.parametrize(
    "spec,needle",
    [
        ("arm64:cortex-a99", "unknown emulated CPU 'cortex-a99'"),
        ("arm64:max,max", "names a CPU twice"),
        ("x86:max", "not an ARM64 device"),
    ],
)
def test_device_spec_mistakes(spec, needle):
    with pytest.raises(ProfileError, match=needle):
        parse_cpus(spec)


def test_cpu_identity_and_features_decode():
    """The MIDR a kernel would print for the model, and the auxv bits ML kernels dispatch on."""
    assert midr_of("cortex-a76") == 0x414FD0B1 and midr_of("cortex-a53") == 0x410FD034
    assert "CPU part\t: 0xd0b" in cpuinfo_text("cortex-a76", cores=2) and cpuinfo_text("max", 3).count("processor") == 3
    assert decode_hwcaps(1 << 1 | 1 << 20, 1 << 13) == ["asimd", "asimddp", "i8mm"]


def test_missing_emulator_is_one_line_before_any_conversion(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDGE_ARM64_CACHE", str(tmp_path / "empty-cache"))
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "export",
        "fasternet_t0",
        "--target",
        "litert",
        "--input-size",
        32,
        "--verify-on",
        "arm64:cortex-a53",
        "-o",
        tmp_path / "out",
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "ARM64 emulator, which is not set up" in err, err
    assert "aarch64 python3.11" in err and "scripts/setup.sh" in err and not (tmp_path / "out").exists()
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    artifact = tmp_path / "m.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(artifact))
    code, out, err = run_cli(capsys, monkeypatch, "profile", artifact, "--device", "arm64:cortex-a53")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "ARM64 emulator is not set up" in err, err


@pytest.fixture(scope="module")
def android_fp32(tmp_path_factory):
    """FasterNet-T0 at 64 px to xnnpack, litert and onnx (+ .ort), each verified on both CPUs."""
    if _missing():
        pytest.skip(_missing())
    from edge.export import export_targets

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGE_ARM64_VERIFY_INPUTS", "1")
        return export_targets(
            "fasternet_t0",
            targets="android",
            input_size=64,
            out_dir=tmp_path_factory.mktemp("arm-fp32"),
            verify_on="arm64:" + ",".join(CPUS),
        )


def _assert_arm_parity(manifest: dict, bound: float, files=("",)):
    parity = manifest["parity"]
    assert set(parity["arm64"]) == set(CPUS)
    for cpu in CPUS:
        entry = parity["arm64"][cpu]
        for p in [entry] + [entry["extra_files"][f] for f in files if f]:
            assert p["status"] == "passed" and p["cosine"] >= bound and p["cosine_bound"] == bound, (cpu, p)
            assert p["samples"] == 1 and p["emulated"] is True and "qemu-aarch64" in p["emulator"]
            assert "max_abs_error" in p and "sqnr_db" in p
    # the kernels phones dispatch on: a76 (ARMv8.2) has dot product and fp16 arithmetic, a53 neither
    a53, a76 = parity["arm64"]["cortex-a53"]["features"], parity["arm64"]["cortex-a76"]["features"]
    assert {"asimddp", "asimdhp"} <= set(a76) and not {"asimddp", "asimdhp"} & set(a53)


@needs_emulator
@pytest.mark.parametrize("target", ["xnnpack", "litert", "onnx"])
def test_fp32_verified_on_a53_and_a76(android_fp32, target):
    result = next(r for r in android_fp32 if r.target == target)
    manifest = json.loads(result.manifest_path.read_text())
    _assert_arm_parity(manifest, 0.9999, ("ort",) if target == "onnx" else ("",))
    runtime = {"xnnpack": "executorch", "litert": "ai-edge-litert", "onnx": "onnxruntime"}[target]
    assert runtime in manifest["parity"]["arm64"]["cortex-a76"]["versions"]


@needs_emulator
def test_xnnpack_fp16_verified_on_armv82(tmp_path, monkeypatch):
    """ExecuTorch's fp16 path, judged where fp16 arithmetic exists (a76) and where it does not (a53).
    MobileViT-XXS: its LayerNorms see constant tokens, whose variance plus a subnormal fp16 epsilon was
    flushed to zero by ARM's fp16 kernels (NaN on a76 until the lowering raised the epsilon)."""
    from edge.export import export

    monkeypatch.setenv("EDGE_ARM64_VERIFY_INPUTS", "1")
    result = export("mobilevit_xxs", target="xnnpack", quant="fp16", input_size=64, out_dir=tmp_path, verify_on=CPUS)
    assert result.path.suffix == ".pte" and result.manifest["quant"]["scheme"] == "fp16"
    _assert_arm_parity(result.manifest, 0.999)


@needs_emulator
def test_phone_format_onnx_int8_judged_on_arm(tmp_path, monkeypatch):
    """The .ort an AVX2-only host cannot judge (its fused U8S8 kernels saturate) is judged on ARM kernels.
    The host is made to read as AVX2-only, so a VNNI host (which judges the .ort itself) tests this too."""
    import runtimes.cpu
    from edge.export import export

    monkeypatch.setattr(runtimes.cpu, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    monkeypatch.setenv("EDGE_ARM64_VERIFY_INPUTS", "1")
    result = export("mobilevit_xxs", target="onnx", quant="int8", input_size=64, out_dir=tmp_path, verify_on=CPUS)
    _assert_arm_parity(result.manifest, 0.99, ("ort",))
    ort = result.manifest["parity"]["extra_files"]["ort"]
    assert ort["status"] == "passed" and "arm64:cortex-a76 (emulated)" in ort.get("judged_on", "the host")
    assert result.manifest["quant"]["deployment"]["verified_on"]["class"] == "x86-avx2"


@needs_emulator
@pytest.mark.parametrize("target", ["xnnpack", "litert"])
def test_int8_verified_on_a53_and_a76(tmp_path, monkeypatch, target):
    """iFormer-T (its digits weights: trained ranges int8 represents) through each int8 path phones run:
    XNNPACK's QS8 kernels (dotprod on a76, plain NEON on a53) from ExecuTorch and from LiteRT."""
    from edge.digits import digits_model
    from edge.export import export
    from quant.config import QuantConfig

    monkeypatch.setenv("EDGE_ARM64_VERIFY_INPUTS", "1")
    config = QuantConfig(scheme="int8", calib_samples=8)
    result = export(digits_model("iformer_t"), target=target, quant=config, out_dir=tmp_path, verify_on=CPUS)
    assert result.manifest["quant"]["scheme"] == "int8"
    _assert_arm_parity(result.manifest, 0.99)


@needs_emulator
def test_an_artifact_broken_on_arm_is_not_written(android_fp32, tmp_path, monkeypatch):
    """A .onnx whose weights are damaged after conversion (host check bypassed) fails on ARM: one line
    naming the CPU and the bound, nothing left in the folder."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    import edge.export as pipeline
    import edge.export_steps as steps
    from edge.targets import TARGETS

    real = TARGETS["onnx"].load_exporter()

    def damaging(job):
        outcome = real(job)
        model = onnx.load_model(str(job.out_path))
        init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        init.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(init), init.name))
        onnx.save_model(model, str(job.out_path))
        outcome.extra_files = {}
        return outcome

    monkeypatch.setattr(type(TARGETS["onnx"]), "load_exporter", lambda self: damaging)
    monkeypatch.setattr(steps, "verify_artifact", lambda *a, **k: {"status": "passed", "cosine": 1.0})
    monkeypatch.setenv("EDGE_ARM64_VERIFY_INPUTS", "1")
    out = tmp_path / "broken"
    with pytest.raises(
        ExportError, match=r"failed verification on arm64:cortex-a53 \(emulated\): cosine .* below 0.9999"
    ):
        pipeline.export("fasternet_t0", target="onnx", input_size=64, out_dir=out, verify_on=["cortex-a53"])
    assert not out.exists() or list(out.iterdir()) == []


@needs_emulator
def test_profile_on_the_emulator_is_marked_emulated(android_fp32, tmp_path, capsys, monkeypatch):
    from runtimes.record import validate_record
    from runtimes.report import markdown_table

    tflite = next(r for r in android_fp32 if r.target == "litert").path
    record_path = tmp_path / "rec.json"
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "profile",
        tflite,
        "--device",
        "arm64:cortex-a53",
        "--runs",
        2,
        "--warmup",
        0,
        "-o",
        record_path,
    )
    assert code == 0, err
    record = validate_record(json.loads(record_path.read_text()))
    assert record["emulated"] is True and record["device"]["kind"] == "emulator"
    assert record["device"]["name"] == "arm64:cortex-a53" and "cortex-a53 emulated by qemu" in record["device"]["cpu"]
    assert any("not a phone's" in n for n in record["notes"]) and "EMULATED" in out
    assert "EMULATED (qemu; not phone time)" in markdown_table([record])


def test_verify_on_rejects_nonsense_before_work(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "export",
        "fasternet_t0",
        "--target",
        "xnnpack",
        "--verify-on",
        "arm64:pentium",
        "-o",
        tmp_path / "o",
    )
    assert code == 2 and "unknown emulated CPU 'pentium'" in err and not (tmp_path / "o").exists()
    with pytest.raises(EdgeError, match="positive integer"):
        monkeypatch.setenv("EDGE_ARM64_VERIFY_INPUTS", "0")
        from edge.arm_verify import inputs_limit

        inputs_limit()


def test_pushed_elf_machine_helper_reads_the_header():
    """The e_machine check the adb tests rely on, on a file we know: the emulator's own runner."""
    from runtimes.adb import elf_abi

    runner = Path("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1")
    if not runner.exists():
        pytest.skip(_missing() or "no aarch64 loader")
    assert elf_abi(runner) == "arm64-v8a"
