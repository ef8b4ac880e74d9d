"""`edge report`: a self-contained HTML (table + plots) and a markdown table from profile records."""

import base64
import io
import json
import re

import pytest
from PIL import Image

from runtimes.profile import profile_host
from runtimes.record import summarize, write_record
from runtimes.report import markdown_table, render_html
from tests.profiling_support import run_cli, small_artifact


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """Real host records for three backends, plus the .pte record as if measured on a (slower) phone."""
    out = tmp_path_factory.mktemp("records")
    paths, recs = [], []
    for target in ("xnnpack", "litert", "onnx"):
        rec = profile_host(small_artifact(target, tmp_path_factory), runs=5, warmup=1, threads=2)
        recs.append(rec)
    phone = json.loads(json.dumps(recs[0]))
    phone["samples_ms"] = [round(3 * s, 4) for s in phone["samples_ms"]]
    phone["latency_ms"] = summarize(phone["samples_ms"])
    phone["device"] = {
        "kind": "android",
        "name": "R58M 'lab'",
        "model": "Samsung SM-S918B",
        "soc": "SM8550",
        "cpu": None,
        "cores": 8,
        "os": "Android 14 (SDK 34)",
        "battery_temp_c": None,
    }
    recs.append(phone)
    for i, rec in enumerate(recs):
        paths.append(write_record(rec, out / f"r{i}.json"))
    return paths, recs


def _images(page: str) -> list[Image.Image]:
    return [
        Image.open(io.BytesIO(base64.b64decode(b64)))
        for b64 in re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    ]


def test_html_is_self_contained_with_two_plots(records, tmp_path, capsys, monkeypatch):
    paths, recs = records
    out = tmp_path / "report.html"
    code, stdout, err = run_cli(capsys, monkeypatch, "report", *paths, "-o", out)
    assert code == 0, err
    page = out.read_text()
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//)", page) and "<script" not in page and "<link" not in page
    images = _images(page)
    assert len(images) == 2
    for img in images:
        assert img.format == "PNG" and img.width > 400 and img.height > 300
        assert len(img.convert("RGB").getcolors(maxcolors=100000) or []) > 20  # a drawn plot, not a blank canvas
    for rec in recs:
        assert f"{rec['latency_ms']['p50']:.2f}" in page and f"{rec['latency_ms']['p90']:.2f}" in page
    assert page.count("<tr>") >= 1 + len(recs) and "passed (cos" in page and "Samsung SM-S918B" in page
    assert "Fully Connected" in page and "benchmark_model" in page  # per-op tables and the reason where none


def test_markdown_table_for_ci(records, capsys, monkeypatch):
    paths, recs = records
    code, stdout, err = run_cli(capsys, monkeypatch, "report", *paths, "--markdown")
    assert code == 0 and "report written" not in stdout
    lines = stdout.strip().splitlines()
    assert len(lines) == 2 + len(recs) and lines[0].startswith("| artifact | backend | device")
    assert {"executorch", "litert", "onnxruntime"} <= {line.split("|")[2].strip() for line in lines[2:]}
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert markdown_table(recs) == stdout.strip()


def test_plots_follow_the_numbers(records):
    """Changing a latency changes the rendered bars: the plot is drawn from the records."""
    _, recs = records
    slow = json.loads(json.dumps(recs))
    slow[1]["samples_ms"] = [s * 10 for s in slow[1]["samples_ms"]]
    slow[1]["latency_ms"] = summarize(slow[1]["samples_ms"])
    a, b = _images(render_html(recs))[0], _images(render_html(slow))[0]
    assert a.tobytes() != b.tobytes()


@pytest.mark.parametrize(
    "setup,needle",
    [
        ("missing", "cannot read record"),
        ("not_json", "is not JSON"),
        ("not_a_record", "is not a valid profile record: at (top level): 'schema' is a required property"),
        ("bad_stats", "latency_ms.p50"),
    ],
)
def test_bad_records_are_one_line_and_exit_2(records, tmp_path, capsys, monkeypatch, setup, needle):
    bad = tmp_path / "bad.json"
    rec = json.loads(records[0][0].read_text())
    if setup == "not_json":
        bad.write_text("{ half a record")
    elif setup == "not_a_record":
        bad.write_text(json.dumps({"latency": 3}))
    elif setup == "bad_stats":
        rec["latency_ms"]["p50"] += 5
        bad.write_text(json.dumps(rec))
    code, out, err = run_cli(capsys, monkeypatch, "report", records[0][0], bad, "-o", tmp_path / "r.html")
    assert code == 2 and needle in err and str(bad) in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r.html").exists()


def test_report_needs_records(capsys, monkeypatch):
    code, _, err = run_cli(capsys, monkeypatch, "report")
    assert code == 2 and "required: RECORD" in err
