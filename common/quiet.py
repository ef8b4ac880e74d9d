"""Keep third-party chatter (C++ logs, progress bars, warnings) off the user's terminal.

The SDKs print from native code straight to file descriptors 1 and 2, so Python-level
redirection is not enough: the descriptors themselves are pointed at a temporary file while a
converter runs (captured_output), or for a whole CLI command (quiet_command, which keeps
edge's own lines on the terminal through duplicates of the original descriptors). What was
captured is kept so a failure can show its tail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings


def stderr_console():
    """A rich Console for edge's own progress and WARNING lines on stderr: one line each, also when stderr
    is piped (rich would otherwise wrap them at 80 columns)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


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
    streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.setLevel(logging.ERROR)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        # Python-level prints too, even when sys.stdout/stderr are not fds 1/2 (under quiet_command)
        text = open(sink.fileno(), "w", closefd=False, buffering=1, errors="replace")
        sys.stdout = sys.stderr = text
        try:
            yield captured
        finally:
            text.flush()
            sys.stdout, sys.stderr = streams
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            root.setLevel(old_level)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def quiet_command(verbose: bool = False):
    """A whole CLI command: third-party warnings, log records and native writes to fds 1 and 2 are
    kept in the yielded Captured (its text is set on exit); edge's own prints and the error line
    still reach the terminal. Under a test's captured sys.stdout/stderr only the Python-level part
    applies (the descriptors belong to the test runner)."""
    captured = Captured()
    if verbose:
        yield captured
        return
    root = logging.getLogger()
    records = _Records()
    own_descriptors = sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__
    sink = tempfile.TemporaryFile(mode="w+b") if own_descriptors else None
    stack = contextlib.ExitStack()
    try:
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("default")
        root.addHandler(records)
        stack.callback(root.removeHandler, records)
        if sink is not None:
            stack.enter_context(_terminal_through_duplicates(sink.fileno()))
        yield captured
    finally:
        stack.close()  # the descriptors, warning filters and log handlers are restored first
        native = b""
        if sink is not None:
            sink.seek(0)
            native = sink.read()
            sink.close()
        captured.text = "\n".join(
            [native.decode(errors="replace").rstrip()]
            + [f"{w.category.__name__}: {w.message}" for w in caught]
            + records.lines
        ).strip()


@contextlib.contextmanager
def _terminal_through_duplicates(sink_fd: int):
    """Point fds 1 and 2 at the sink; sys.stdout/stderr write to duplicates of the originals."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    streams = sys.stdout, sys.stderr
    out = open(saved[0], "w", closefd=False, buffering=1, encoding=sys.stdout.encoding, errors="replace")
    err = open(saved[1], "w", closefd=False, buffering=1, encoding=sys.stderr.encoding, errors="replace")
    os.dup2(sink_fd, 1)
    os.dup2(sink_fd, 2)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
