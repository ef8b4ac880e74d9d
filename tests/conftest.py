import os
import signal

import pytest
import torch

# every int8 export also converts and times an fp32 artifact (edge/int8_speed.py); only
# tests/test_int8_speed.py needs that, so the rest of the suite (and its subprocesses) skip it
os.environ["EDGE_INT8_SPEED_CHECK"] = "0"

# a suite started in the background by a script (`bash .ci/run &`) inherits an ignored SIGINT, and the
# edge processes it starts would keep ignoring it; the Ctrl-C tests need it delivered as a terminal does
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


def randomize_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Give every BN non-trivial statistics so folding it is actually tested."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model
