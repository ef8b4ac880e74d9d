"""The demo apps (android_demo/, ios_demo/).

No Android SDK, Xcode or phone here: the apps are neither built nor run. What is checked instead:
every Kotlin and Swift source parses (tree-sitter); the apps' manifest types agree with
edge/schemas/manifest.schema.json and their record types with the profile-record schema, field
by field; records built from those types validate; the apps' statistics (ported) equal the host's;
versions are pinned and match the runtimes that verified the artifacts; the launch contracts match
runtimes/ios.py and edge/demo_assets.py. `edge bundle` is tests/test_bundle.py.
"""

from __future__ import annotations

import copy
import random
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml

from edge import demo_assets
from edge.manifest import load_schema as manifest_schema
from runtimes import ios
from runtimes.record import check_stats, summarize, validate_record
from runtimes.record import load_schema as record_schema
from tests.demo_schema_check import sample_document, schema_problems, summarize_like_the_apps
from tests.demo_sources import (
    ANDROID_SOURCES,
    IOS_SOURCES,
    REPO,
    kotlin_constants,
    kotlin_declarations,
    swift_constants,
    swift_declarations,
    syntax_errors,
)

ANDROID = REPO / "android_demo"
IOS = REPO / "ios_demo"
_GENERATED = {"build", ".build", ".gradle", ".swiftpm"}  # what a local build leaves beside the sources
SOURCES = sorted(
    p
    for p in [*ANDROID.rglob("*.kt"), *ANDROID.rglob("*.kts"), *IOS.rglob("*.swift")]
    if not _GENERATED & set(p.relative_to(REPO).parts)
)
RUNNER_KINDS = record_schema()["properties"]["runner"]["properties"]["kind"]["enum"]
ANDROID_KIND_PENDING = "android_app" not in RUNNER_KINDS
PENDING_REASON = (
    "runtimes/schemas/profile_record.schema.json has no runner.kind 'android_app' yet (owned by "
    "runtimes/); everything else in the Android record is checked"
)


def declarations(platform: str):
    if platform == "android":
        return kotlin_declarations(*sorted(ANDROID_SOURCES.glob("*.kt")))
    return swift_declarations(*sorted(IOS_SOURCES.glob("*.swift")))


def record_schema_id(platform: str) -> str:
    if platform == "android":
        return kotlin_constants(ANDROID_SOURCES / "ProfileRecord.kt", "ProfileRecord")["SCHEMA_ID"]
    return swift_constants(IOS_SOURCES / "ProfileRecord.swift", "ProfileRecord")["schemaID"]


def test_there_are_sources_to_check():
    names = {p.name for p in SOURCES}
    assert {
        "EdgeManifest.kt",
        "ProfileRecord.kt",
        "EdgeManifest.swift",
        "ProfileRecord.swift",
        "Package.swift",
        "build.gradle.kts",
    } <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_source_parses(path):
    assert syntax_errors(path) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_source_files_stay_small(path):
    assert len(path.read_text().splitlines()) <= 400


# ---- one source of truth: the schemas ----------------------------------------------------------


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_manifest_types_match_the_manifest_schema(platform):
    assert schema_problems(declarations(platform), "EdgeManifest", manifest_schema(), "decode") == []


@pytest.mark.parametrize("platform", ["android", "ios"])
def test_record_types_match_the_profile_record_schema(platform):
    problems = schema_problems(
        declarations(platform),
        "ProfileRecord",
        record_schema(),
        "encode",
        {"ProfileRecord.schema": record_schema_id(platform)},
    )
    if platform == "android" and ANDROID_KIND_PENDING:
        expected = "ProfileRecord.runner.kind: RunnerKind values ['android_app'] are not in the schema's enum"
        assert problems == [expected]
        pytest.xfail(PENDING_REASON)
    assert problems == []


def test_the_checker_catches_drift():
    """The comparison fails on the drift it exists for (renamed key, dropped field, new enum value)."""
    decl = declarations("android")
    renamed = copy.deepcopy(decl)
    preprocessing = renamed.classes["Preprocessing"].fields
    preprocessing["resize_to"] = preprocessing.pop("resize_shorter_to")
    assert any("resize_to" in p for p in schema_problems(renamed, "EdgeManifest", manifest_schema(), "decode"))
    dropped = copy.deepcopy(decl)
    del dropped.classes["ProfileRecord"].fields["first_run_ms"]
    assert any("first_run_ms" in p for p in schema_problems(dropped, "ProfileRecord", record_schema(), "encode"))
    narrower = copy.deepcopy(decl)
    narrower.enums["Interpolation"].remove("bicubic")
    assert any("bicubic" in p for p in schema_problems(narrower, "EdgeManifest", manifest_schema(), "decode"))
    forms = copy.deepcopy(decl)
    forms.enums["InputForm"].remove("nhwc-uint8")
    assert any("nhwc-uint8" in p for p in schema_problems(forms, "EdgeManifest", manifest_schema(), "decode"))
    swift = copy.deepcopy(declarations("ios"))
    swift.classes["ProfileRecord"].fields["first_run_ms"].null_encoded = False
    assert any("@NullEncoded" in p for p in schema_problems(swift, "ProfileRecord", record_schema(), "encode"))


def test_kotlin_record_encoder_writes_nulls_and_defaults():
    source = (ANDROID_SOURCES / "ProfileRecord.kt").read_text()
    assert "explicitNulls = true" in source and "encodeDefaults = true" in source


@pytest.mark.parametrize("nulls", [True, False], ids=["nullables-null", "nullables-filled"])
@pytest.mark.parametrize("platform", ["android", "ios"])
def test_records_built_from_the_app_types_validate(platform, nulls):
    samples = [9.1234, 10.5, 8.75, 11.0, 9.9, 12.0625]
    examples = {
        "schema": record_schema_id(platform),
        "created": "2026-11-21T06:00:00Z",
        "samples_ms": samples,
        "runs": len(samples),
        "latency_ms": summarize_like_the_apps(samples),
    }
    if not nulls:
        examples["artifact.sha256"] = "ab" * 32  # a real digest's shape; null is the other variant
    record = sample_document(declarations(platform), "ProfileRecord", nulls, examples)
    if platform == "android" and ANDROID_KIND_PENDING:
        errors = list(jsonschema.Draft202012Validator(record_schema()).iter_errors(record))
        assert [list(e.absolute_path) for e in errors] == [["runner", "kind"]]
        check_stats(record, "the android sample record")
        pytest.xfail(PENDING_REASON)
    validate_record(record, f"the {platform} sample record")  # exactly what `edge profile` and `edge report` accept


@pytest.mark.parametrize("n", [1, 2, 3, 9, 10, 11, 19, 20, 50, 101])
def test_app_statistics_equal_the_hosts(n):
    rng = random.Random(n)
    samples = [round(rng.lognormvariate(2.3, 0.2), 4) for _ in range(n)]
    samples[n // 2 : n // 2] = samples[:1]  # a tie
    ours, host = summarize_like_the_apps(samples), summarize(samples)
    assert ours.keys() == host.keys()
    for key in host:
        assert abs(ours[key] - host[key]) <= 1e-4, key


# ---- pinned versions, the same runtimes that verified the artifacts ----------------------------


def python_pins() -> dict[str, str]:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return dict(spec.split("==") for specs in extras.values() for spec in specs if "==" in spec)


def test_android_versions_are_pinned_in_the_catalog():
    catalog = tomllib.loads((ANDROID / "gradle" / "libs.versions.toml").read_text())
    versions = catalog["versions"]
    assert all(re.fullmatch(r"\d+(\.\d+)+", v) for v in versions.values()), versions
    for alias, entry in [*catalog["libraries"].items(), *catalog["plugins"].items()]:
        assert entry.get("version", {}).get("ref") in versions, alias
    build = (ANDROID / "app" / "build.gradle.kts").read_text()
    assert not re.search(r'"[\w.\-]+:[\w.\-]+:[^"]*"', build), "dependencies must come from the catalog"
    assert "gradle-8.14.3-bin.zip" in (ANDROID / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()


def test_phone_runtimes_match_the_host_runtimes_that_verified_the_export():
    pins, versions = python_pins(), tomllib.loads((ANDROID / "gradle" / "libs.versions.toml").read_text())["versions"]
    assert versions["executorch"] == pins["executorch"]
    assert versions["litert"] == pins["ai-edge-litert"]
    assert versions["onnxruntime"] == pins["onnxruntime"]
    branch = re.search(r'executorch\.git", branch: "swiftpm-([^"]+)"', (IOS / "Package.swift").read_text())
    assert branch and branch.group(1) == pins["executorch"]
    assert swift_constants(IOS_SOURCES / "ExecuTorchRunner.swift", "ExecuTorchRunner")["version"] == pins["executorch"]


def test_phone_mediapipe_matches_the_mediapipe_that_ran_our_tflite():
    catalog = tomllib.loads((ANDROID / "gradle" / "libs.versions.toml").read_text())
    assert catalog["versions"]["mediapipe"] == python_pins()["mediapipe"]
    assert catalog["libraries"]["mediapipe-tasks-vision"]["module"] == "com.google.mediapipe:tasks-vision"
    assert "implementation(libs.mediapipe.tasks.vision)" in (ANDROID / "app" / "build.gradle.kts").read_text()


# ---- the platform paths: MediaPipe Tasks on Android, Vision on iOS ------------------------------


@pytest.mark.parametrize(
    "source, calls",
    [
        (
            ANDROID_SOURCES / "PlatformClassifier.kt",
            ["ImageClassifier.createFromOptions", "setModelAssetBuffer", "BitmapImageBuilder", "setMaxResults(5)"],
        ),
        (
            ANDROID_SOURCES / "MainActivity.kt",
            ["PlatformClassifier.handles(file, manifest)", "PlatformClassifier(this, file"],
        ),
        (
            IOS_SOURCES / "VisionClassifier.swift",
            [
                "VNCoreMLModel(for:",
                "VNCoreMLRequest(model:",
                "VNImageRequestHandler(cgImage:",
                "as? [VNClassificationObservation]",
            ],
        ),
        (IOS_SOURCES / "ClassifierView.swift", ["found.app?.isVisionClassifier", "VisionClassifier(compiledURL:"]),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else "",
)
def test_apps_classify_through_the_platform_api(source, calls):
    text = source.read_text()
    assert [c for c in calls if c not in text] == []


# ---- launch contracts: what the harnesses send is what the apps read ----------------------------


def test_ios_benchmark_arguments_match_the_harness():
    flags = swift_constants(IOS_SOURCES / "BenchmarkArguments.swift", "BenchmarkArguments")
    sent = [a for a in ios.benchmark_args("m.pte", 5, 2, 3) if a.startswith("--")]
    assert set(sent) <= set(flags.values()) and flags["benchmark"] == sent[0]
    assert flags["defaultOutput"] == ios.RECORD_NAME
    spec = yaml.safe_load((IOS / "project.yml").read_text())
    bundle_id = spec["targets"]["EdgeDemo"]["settings"]["base"]["PRODUCT_BUNDLE_IDENTIFIER"]
    assert bundle_id == ios.BUNDLE_ID == demo_assets.IOS_BUNDLE_ID


def test_android_benchmark_contract_matches_manifest_readme_and_bundle_command():
    contract = kotlin_constants(ANDROID_SOURCES / "BenchmarkSession.kt", "BenchmarkContract")
    assert contract["PACKAGE"] == demo_assets.ANDROID_PACKAGE
    assert contract["ACTIVITY"] == demo_assets.ANDROID_BENCHMARK_ACTIVITY
    assert contract["DEFAULT_OUTPUT"] == ios.RECORD_NAME  # one record name on both platforms
    build = (ANDROID / "app" / "build.gradle.kts").read_text()
    assert f'applicationId = "{contract["PACKAGE"]}"' in build and f'namespace = "{contract["PACKAGE"]}"' in build
    ns = "{http://schemas.android.com/apk/res/android}"
    app = ET.parse(ANDROID / "app" / "src" / "main" / "AndroidManifest.xml").getroot().find("application")
    activities = {a.get(ns + "name"): a.get(ns + "exported") for a in app.findall("activity")}
    assert activities[".BenchmarkActivity"] == "true"
    authority = app.find("provider").get(ns + "authorities")
    assert f'"{authority}"' in (ANDROID_SOURCES / "MainActivity.kt").read_text()
    readme = (ANDROID / "README.md").read_text()
    assert f"-n {contract['ACTIVITY']}" in readme and demo_assets.ANDROID_PUSH_DIR in readme
    for kind, extra in [
        ("es", "EXTRA_MODEL"),
        ("ei", "EXTRA_RUNS"),
        ("ei", "EXTRA_WARMUP"),
        ("ei", "EXTRA_THREADS"),
        ("es", "EXTRA_OUTPUT"),
    ]:
        assert f"--{kind} {contract[extra]} " in readme, extra


def test_readmes_say_the_apps_were_not_built_here():
    for readme in (ANDROID / "README.md", IOS / "README.md"):
        assert "not built or run here" in readme.read_text().lower()
