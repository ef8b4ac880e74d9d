"""`edge bench --quant int8`'s peers: each runtime's own int8 flow makes an artifact its runtime runs,
close to the eager model (what the bench table compares our int8 with)."""

import pytest
import torch

from common.compare import compare
from edge.bench import build_artifact
from edge.bench_peers import PEER_INT8, peer_int8_artifacts
from edge.models.layers import plain_pytorch_ops
from edge.prepare import prepare
from edge.targets import TARGETS
from quant.calibration import load_calibration
from runtimes import open_session


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("peers")
    with plain_pytorch_ops():
        torch.manual_seed(0)
        plain = prepare("fasternet_t0", input_size=32, num_classes=10, reparameterize=False)
    onnx_fp32 = build_artifact(plain, TARGETS["onnx"], folder, "plain", fallbacks=False)
    calibration = load_calibration(None, plain.config, 3, samples=8).inputs
    return plain, peer_int8_artifacts(plain, folder, calibration, onnx_fp32)


@pytest.mark.parametrize("name", PEER_INT8)
def test_peer_int8_flow_runs_close_to_eager(peers, name):
    plain, made = peers
    assert not isinstance(made[name], str), made[name]
    x = plain.verify_inputs[0]
    got = open_session(made[name]).run([x.numpy()])[0]
    # measured at 32 px: litert-torch 0.9988, onnxruntime 0.9979, ExecuTorch 0.9991
    assert compare(plain.model(x).detach().numpy(), got)["cosine"] >= 0.99
