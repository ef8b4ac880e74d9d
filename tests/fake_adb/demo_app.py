"""What tests/fake_adb knows of android_demo, read from the app's own sources (stdlib only).

The package from app/build.gradle.kts, the exported activities from AndroidManifest.xml, the extras
and defaults from BenchmarkContract (BenchmarkSession.kt): if the app changes its contract, the
stand-in changes with it and the harness tests see the difference.
"""

import os
import re
import xml.etree.ElementTree as ET

ROOT = os.environ.get("FAKE_ADB_ROOT", "")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APP = os.path.join(REPO, "android_demo", "app")
SOURCES = os.path.join(APP, "src", "main", "java", "org", "edge", "demo")
_ANDROID = "{http://schemas.android.com/apk/res/android}"


def _read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def package():
    return re.search(r'applicationId\s*=\s*"([^"]+)"', _read(APP, "build.gradle.kts")).group(1)


def exported_activities():
    """Fully qualified names of the activities `am start` may start from outside the app."""
    app = ET.parse(os.path.join(APP, "src", "main", "AndroidManifest.xml")).getroot().find("application")
    names = [a.get(_ANDROID + "name") for a in app.findall("activity") if a.get(_ANDROID + "exported") == "true"]
    return {package() + n if n.startswith(".") else n for n in names}


def contract():
    """BenchmarkContract's constants: strings as str, numbers as int."""
    text = _read(SOURCES, "BenchmarkSession.kt")
    body = text[text.index("object BenchmarkContract") :]
    body = body[: body.index("}")]
    found = {k: v for k, v in re.findall(r'const val (\w+) = "([^"]*)"', body)}
    found.update({k: int(v) for k, v in re.findall(r"const val (\w+) = (\d+)\b", body)})
    return found


def files_dir():
    """getExternalFilesDir(null) on the fake device."""
    return os.path.join(ROOT + "/sdcard/Android/data", package(), "files")


def state_dir():
    """Where the fake system keeps the app's running process id (not visible as device storage)."""
    path = os.path.join(ROOT, ".fake_system")
    os.makedirs(path, exist_ok=True)
    return path
