"""Determinism, bad input, failed verification and interruption: nothing under a final name."""

import hashlib

import pytest
import torch
from safetensors.torch import save_file

import common.compare
from common.errors import EdgeError, ExportError
from edge import models
from edge.cli import main
from edge.export import export, export_targets
from edge.targets import TARGETS

SIZE = 64


def _error_lines(err: str) -> list[str]:
    """The CLI's error output: progress lines aside, exactly one 'edge: error' line, the last one."""
    lines = err.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("edge: error")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    return errors


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_reexport_is_byte_identical(tmp_path):
    """.pte, .tflite, .onnx and the .mlpackage: same model and weights -> same bytes."""
    weights = tmp_path / "w.safetensors"
    save_file(models.create("fasternet_t0", input_size=SIZE).state_dict(), str(weights))
    digests = []
    for run in ("a", "b"):
        results = export_targets(
            "fasternet_t0", targets="all", input_size=SIZE, weights=weights, out_dir=tmp_path / run
        )
        digests.append({r.target: r.manifest["artifact"]["sha256"] for r in results})
    assert digests[0] == digests[1]
    for name in ("fasternet_t0-xnnpack-fp32.pte", "fasternet_t0-litert-fp32.tflite", "fasternet_t0-onnx-fp32.onnx"):
        a, b = ((tmp_path / run / name).read_bytes() for run in ("a", "b"))
        assert hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


def test_unknown_target_is_one_line_exit_2(capsys, tmp_path):
    code = main(["export", "fasternet_t0", "--target", "xnnpak", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Did you mean 'xnnpack'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unwritable_out_dir_is_one_line_exit_2(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    code = main(["export", "fasternet_t0", "--target", "onnx", "--input-size", str(SIZE), "-o", str(blocker / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write to output folder" in _error_lines(err)[0]


def test_data_dependent_model_names_the_module_at_fault(capsys, tmp_path):
    code = main(
        ["export", "tests.foreign:gated_net", "--target", "onnx", "--input-size", str(SIZE), "-o", str(tmp_path)]
    )
    err = capsys.readouterr().err
    (line,) = _error_lines(err)
    assert code == 2 and "module 'features.0' (DataDependentGate" in line and "torch.cond" in line
    assert _files(tmp_path) == []


def test_fp16_on_a_target_without_it_is_rejected(tmp_path):
    with pytest.raises(EdgeError, match="onnx does not offer fp16"):
        export("fasternet_t0", target="onnx", quant="fp16", out_dir=tmp_path)


def test_failed_verification_leaves_no_artifact(tmp_path, monkeypatch):
    monkeypatch.setitem(common.compare.COSINE_BOUNDS, "fp32", 1.5)  # unreachable: every artifact fails
    with pytest.raises(ExportError, match="failed verification.*no artifact was written"):
        export("fasternet_t0", target="onnx", input_size=SIZE, out_dir=tmp_path)
    assert _files(tmp_path) == []


def test_int8_that_float_back_cannot_rescue_names_the_most_sensitive_parts(tmp_path, monkeypatch):
    """The sensitivity analysis itself is quant.mixed's (tests/test_quant.py); here only what the error says."""
    import quant.plan

    def no_plan(*args):
        return quant.plan.FloatBack("most sensitive: op:conv -3.0 dB, module:stages.0 9.0 dB")

    monkeypatch.setitem(common.compare.COSINE_BOUNDS, "int8", 1.5)  # unreachable
    monkeypatch.setattr(quant.plan, "plan_for_bound", no_plan)
    with pytest.raises(ExportError, match="failed verification.*Float-back found no plan.*most sensitive: "):
        export("fasternet_t0", target="onnx", quant="int8", input_size=SIZE, out_dir=tmp_path)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("target", ["xnnpack", "onnx"])
def test_interrupt_midway_leaves_nothing_under_a_final_name(tmp_path, monkeypatch, target):
    """Ctrl-C after the converter has written its file: the temporary is removed, nothing is final."""
    real = TARGETS[target].load_exporter()

    def interrupted(job):
        real(job)
        assert job.out_path.exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(type(TARGETS[target]), "load_exporter", lambda self: interrupted)
    with pytest.raises(KeyboardInterrupt):
        export("fasternet_t0", target=target, input_size=SIZE, out_dir=tmp_path)
    assert _files(tmp_path) == []


def test_example_input_of_wrong_rank_is_rejected(tmp_path):
    with pytest.raises(ExportError, match="one NCHW image tensor"):
        export(torch.nn.Linear(4, 2), torch.randn(1, 4), target="onnx", out_dir=tmp_path)
