"""User-facing errors: the CLI prints their message as one line and exits with code 2."""

import difflib


class EdgeError(Exception):
    """A mistake in what the user asked for (name, file, option); the message says how to fix it."""


class ExportError(EdgeError):
    """A model or target that could not be exported or did not pass verification."""


def suggest(name: str, choices: list[str]) -> str:
    """' Did you mean X?' for an error message, when one of the choices is close to the name."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""
