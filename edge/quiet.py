"""Keep converters' own chatter (C++ logs, progress bars) off the user's terminal.

The SDKs print from native code straight to file descriptors 1 and 2, so Python-level
redirection is not enough: the descriptors themselves are pointed at a temporary file while a
converter runs. What was captured is kept so a failure can show its tail.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings


class Captured:
    def __init__(self):
        self.text = ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def captured_output(enabled: bool = True):
    captured = Captured()
    if not enabled:
        yield captured
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    root = logging.getLogger()
    old_level = root.level
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.setLevel(logging.ERROR)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            root.setLevel(old_level)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")
