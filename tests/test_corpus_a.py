"""Foreign models (transformers, random weights, small configs), half 1 of the corpus: each exports
to xnnpack fp32 fully delegated and verified, and to one other target (rotating) verified with rank <= 4."""

import pytest

from tests.corpus_support import export_model, half, other_target

NAMES = half(0)


@pytest.fixture(scope="module", params=NAMES)
def exported(request, tmp_path_factory):
    return request.param, export_model(request.param, tmp_path_factory.mktemp(request.param))


def test_xnnpack_fp32_is_fully_delegated_and_verified(exported):
    name, results = exported
    manifest = results["xnnpack"].manifest
    assert manifest["coverage"]["non_delegated_nodes"] == 0, manifest["coverage"]["non_delegated_ops"]
    assert manifest["parity"]["status"] == "passed"
    assert manifest["parity"]["cosine"] >= 0.9999
    assert manifest["outputs"][0]["source"] == "the 'logits' entry of the model's output"


def test_second_target_is_verified_with_rank_at_most_4(exported):
    name, results = exported
    target = other_target(name)
    manifest = results[target].manifest
    if target == "coreml":  # no Core ML runtime on Linux: the saved spec is validated instead
        assert manifest["parity"]["status"] == "not_run" and manifest["parity"]["validation"]
    else:
        assert manifest["parity"]["status"] == "passed" and manifest["parity"]["cosine"] >= 0.9999
    if target in ("litert", "coreml"):
        assert manifest["coverage"]["max_tensor_rank"] <= 4
