"""edge sweep: a real 1 x 2 x 2 grid on a local Ray with 2 CPUs, resumption, fault injection, a two-node cluster.

Every sweep here starts a real Ray and runs real exports and timings; cells are 64 px, with few runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import jsonschema
import pytest

pytest.importorskip("ray", reason="edge sweep needs the sweep extra (ray)")

from common.errors import EdgeError  # noqa: E402
from edge.sweep import load_spec, run_sweep  # noqa: E402
from edge.sweep.cells import expand  # noqa: E402
from edge.sweep.report import pareto_front  # noqa: E402
from edge.sweep.results import COLUMNS, validate_rows  # noqa: E402
from edge.sweep.runner import KILL_HOOK_ENV  # noqa: E402
from tests.sweep_support import DIGITS, ROOT, RayCluster, digits_subset, edge_cmd, write_spec  # noqa: E402

GRID = dict(
    models=["fasternet_t0"],  # one model: the grid tests the sweep, the models are tested elsewhere
    input_sizes=[64],
    targets=["litert", "onnx"],
    quants=["fp32", "int8"],
    quantization={"calib_samples": 4},
    devices=["host"],
    runs=8,
    warmup=2,
    threads=2,
)
SMALL = dict(input_sizes=[64], targets=["onnx"], quants=["fp32"], devices=["host"], runs=5, warmup=1, threads=1)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grid")
    spec = write_spec(tmp / "sweep.yaml", **GRID)
    result = run_sweep(spec, tmp / "out", num_cpus=2, progress=False)
    return spec, tmp / "out", result


def _intervals(rows, start, end):
    return sorted((r[start], r[end]) for r in rows if r[start] is not None)


def test_grid_ends_with_one_row_per_cell(grid):
    _, out, result = grid
    assert [(r["model"], r["target"], r["quant"]) for r in result.rows] == [
        (m, t, q) for m in GRID["models"] for t in GRID["targets"] for q in GRID["quants"]
    ]
    assert result.conversions_run + result.conversions_failed == 4 and result.conversions_skipped == 0
    for r in result.rows:  # int8 of random weights can miss the 0.99 cosine bound on CPUs without VNNI
        assert r["status"] in ("ok", "error"), r
        if r["status"] == "ok":
            assert r["parity"] == "passed" and 0 < r["p50_ms"] <= r["p90_ms"] and r["size_mb"] > 0
            assert (out / r["artifact"]).is_file()
        else:
            assert r["quant"] == "int8" and "\n" not in r["error"] and "verification" in r["error"], r
    assert sum(r["status"] == "ok" for r in result.rows) >= 3  # every fp32 cell and most int8 cells


def test_grid_conversions_overlap_in_time(grid):
    spans = _intervals(grid[2].rows, "convert_started", "convert_ended")
    assert any(a_end > b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans


def test_grid_host_timings_never_overlap(grid):
    spans = _intervals(grid[2].rows, "timing_started", "timing_ended")
    assert len(spans) >= 3
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans


def test_grid_table_matches_its_schema(grid):
    _, out, result = grid
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    validate_rows(rows)
    lines = (out / "results.csv").read_text().splitlines()
    assert lines[0].split(",") == COLUMNS and len(lines) == 1 + len(rows)
    bad = {**rows[0], "status": "ok", "p50_ms": None}  # the schema can fail: an ok row needs its latency
    with pytest.raises(jsonschema.ValidationError):
        validate_rows([bad])


def test_grid_report_has_pareto_and_heatmap(grid):
    text = (grid[1] / "report.html").read_text()
    assert text.count("data:image/png;base64,") == 2 and "Latency vs artifact size MB" in text
    assert "alt='heatmap host'" in text and (grid[1] / "latency.html").is_file()


def test_rerun_converts_and_times_nothing(grid):
    spec, out, _ = grid
    before = {p: p.stat().st_mtime_ns for p in (out / "conversions").iterdir()}
    done = subprocess.run(
        edge_cmd("sweep", str(spec), "-o", str(out), "--json"), capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert (counts["conversions_run"], counts["timings_run"], counts["conversions_failed"]) == (0, 0, 0)
    assert counts["conversions_skipped"] == 4
    assert {p: p.stat().st_mtime_ns for p in (out / "conversions").iterdir()} == before


def test_changed_timing_setting_reruns_timings_only(grid, tmp_path):
    spec, out, first = grid
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    changed = write_spec(tmp_path / "sweep.yaml", **{**GRID, "runs": 6})
    result = run_sweep(changed, copy, num_cpus=2, progress=False)
    measured = sum(r["status"] == "ok" for r in first.rows)
    assert (result.conversions_run, result.timings_run) == (0, measured)
    assert all(r["runs"] == 6 for r in result.rows)


@pytest.mark.parametrize(
    "change, affected",
    [
        ({"quantization": {"calib_samples": 6}}, {"int8"}),  # the quantization section: int8 cells only
        ({"targets": ["litert", "onnx", "xnnpack"]}, {"xnnpack"}),  # a new target: only its cells are new
    ],
)
def test_changed_parameter_changes_only_affected_keys(tmp_path, change, affected):
    old, _ = expand(load_spec(write_spec(tmp_path / "a.yaml", **GRID)))
    new, _ = expand(load_spec(write_spec(tmp_path / "b.yaml", **{**GRID, **change})))
    changed = {c.quant if "quantization" in change else c.target for c in new if c.key not in {o.key for o in old}}
    assert changed == affected


def test_worker_killed_mid_conversion_is_retried_and_bad_model_is_an_error_row(tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_HOOK_ENV, str(marker))  # the first worker to reach "converting" kills itself
    monkeypatch.chdir(ROOT)  # the factory below imports from the working folder
    evaluation = digits_subset(tmp_path / "test", "test", per_class=3)
    spec = write_spec(
        tmp_path / "sweep.yaml",
        models=[
            {"name": "fasternet_t0", "weights": str(DIGITS / "fasternet_t0.safetensors"), "num_classes": 10},
            "tests.sweep_support:not_exportable",
        ],
        eval_data=str(evaluation),
        **SMALL,
    )
    result = run_sweep(spec, tmp_path / "out", num_cpus=2, progress=False)
    good, bad = result.rows
    assert marker.is_file(), "the test hook never killed a worker"
    killed_pid = int(marker.read_text())
    conversion = json.loads((tmp_path / "out" / "conversions" / f"{good['conversion_key']}.json").read_text())
    assert good["status"] == "ok" and conversion["pid"] != killed_pid  # finished by a retry in a new worker
    assert good["top1"] is not None and good["eager_top1"] is not None  # 30 real digit images
    assert bad["status"] == "error" and bad["error"].startswith("conversion: torch.export failed")
    assert "\n" not in bad["error"] and bad["p50_ms"] is None
    assert (result.conversions_run, result.conversions_failed) == (1, 1)


def test_two_node_cluster_times_only_on_the_node_with_the_device(tmp_path):
    spec = write_spec(tmp_path / "sweep.yaml", models=["fasternet_t0"], **{**SMALL, "targets": ["onnx", "litert"]})
    cluster = RayCluster(tmp_path)
    sweep = edge_cmd("sweep", str(spec), "-o", str(tmp_path / "out"), "--address", cluster.address, "--json")
    try:
        cluster.start_head(cpus=1)  # declares no device
        cluster.nodes(1)
        missing = subprocess.run(sweep, capture_output=True, text=True, timeout=200, env=cluster.env)
        assert missing.returncode == 2  # nobody has the host device yet: one line with the ray start to add
        assert (
            missing.stderr.strip()
            .splitlines()[-1]
            .startswith(
                "edge: error: no node of the Ray cluster declares device 'host'; start the node it is attached to "
                "with: ray start --address HEAD:6379 --resources '{\"edge-device:host\": 1}'"
            )
        )
        cluster.add_node(cpus=1, resources={"edge-device:host": 1})
        nodes = cluster.nodes(2)
        (lab,) = [n["NodeID"] for n in nodes if n["Resources"].get("edge-device:host")]
        done = subprocess.run(sweep, capture_output=True, text=True, timeout=400, env=cluster.env)
        assert done.returncode == 0, done.stderr[-2000:]
        rows = json.loads(done.stdout)["rows"]
        assert [r["status"] for r in rows] == ["ok", "ok"]
        assert {r["timing_node"] for r in rows} == {lab}
        assert {r["convert_node"] for r in rows} <= {n["NodeID"] for n in nodes}
    finally:
        cluster.stop()


def test_ctrl_c_stops_cleanly_without_partial_files(tmp_path):
    spec = write_spec(tmp_path / "sweep.yaml", models=["fasternet_t0"], **SMALL)
    (conv,), _ = expand(load_spec(spec))
    scratch_root = Path(tempfile.gettempdir()) / "edge-sweep"  # each attempt: a new convert-<key>-* folder
    before = set(scratch_root.glob(f"convert-{conv.key}-*"))

    def conversion_started() -> bool:
        return bool(set(scratch_root.glob(f"convert-{conv.key}-*")) - before)

    proc = subprocess.Popen(
        edge_cmd("sweep", str(spec), "-o", str(tmp_path / "out"), "--num-cpus", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while not conversion_started() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert conversion_started(), "the conversion never started"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err.strip().splitlines()[-1]
    left = [p for p in (tmp_path / "out").rglob("*") if ".partial" in p.name]
    assert left == [] and not list((tmp_path / "out" / "conversions").iterdir())


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"modles": ["fasternet_t0"]}, "unknown key sweep.modles. Did you mean 'models'?"),
        ({"models": ["fasternet_t9"], "targets": ["onnx"]}, "unknown zoo model 'fasternet_t9'"),
        ({"models": ["fasternet_t0"], "targets": ["xnnpak"]}, "unknown target 'xnnpak'"),
        ({"models": ["fasternet_t0"], "targets": ["onnx"], "quants": ["fp16"]}, "target onnx does not offer fp16"),
        ({"models": ["fasternet_t0"], "targets": ["onnx"], "prune": [1.5]}, "prune ratios are fractions"),
        ({"models": ["fasternet_t0"], "targets": ["onnx"], "devices": ["phone"]}, "unknown --device 'phone'"),
        ({"models": ["fasternet_t0"], "targets": ["onnx"], "devices": ["adb:R58"]}, "an adb device needs runners.adb"),
        ({"models": [{"folder": "nowhere"}], "targets": ["onnx"]}, "is not a folder"),
        ({"models": ["fasternet_t0"], "targets": ["onnx"], "runs": "many"}, "sweep.runs must be an integer"),
    ],
)
def test_bad_spec_is_one_error_naming_the_key(tmp_path, fields, message):
    with pytest.raises(EdgeError) as e:
        load_spec(write_spec(tmp_path / "s.yaml", **fields))
    assert message in str(e.value)


def test_model_folder_becomes_one_model_per_zoo_weights(tmp_path):
    spec = load_spec(
        write_spec(tmp_path / "s.yaml", models=[{"folder": str(DIGITS), "num_classes": 10}], targets=["onnx"])
    )
    assert [(m.name, Path(m.weights).name) for m in spec.models] == [
        ("fasternet_t0", "fasternet_t0.safetensors"),
        ("iformer_t", "iformer_t.safetensors"),
        ("mobilevit_xxs", "mobilevit_xxs.safetensors"),
    ]


@pytest.mark.parametrize(
    "points, higher, front",
    [
        ([(1, 90), (2, 95), (3, 94), (0.5, 80)], True, [3, 0, 1]),  # (3, 94) is slower and worse than (2, 95)
        ([(1, 5.0), (2, 1.0), (3, 2.0)], False, [0, 1]),  # size: lower is better
    ],
)
def test_pareto_front(points, higher, front):
    assert pareto_front(points, higher_is_better=higher) == front


def test_example_spec_loads_and_expands():
    spec = load_spec(ROOT / "examples" / "sweep_digits.yaml")
    conversions, timings = expand(spec)
    assert len(conversions) == 3 * 3 * 2 * 2 and len(timings) == len(conversions)
    assert len({c.key for c in conversions}) == len(conversions)  # every cell its own key
