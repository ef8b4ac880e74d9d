"""Runs `edge profile` on each file given, in one process, and writes each one's exit code and
stderr to a JSON file: the fuzz test runs it as a subprocess so a native crash shows as a signal."""

import contextlib
import io
import json
import sys

from edge.cli import main

if __name__ == "__main__":
    results = []
    for path in sys.argv[2:]:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["profile", path, "--runs", "1", "--warmup", "0", "--no-op-profile", "--json"])
            except SystemExit as e:
                code = e.code
        results.append({"path": path, "code": code, "stderr": err.getvalue()})
    with open(sys.argv[1], "w") as f:
        json.dump(results, f)
