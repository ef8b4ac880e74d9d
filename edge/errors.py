"""User-facing errors: the CLI prints their message as one line and exits with code 2."""


class EdgeError(Exception):
    """A mistake in what the user asked for (name, file, option); the message says how to fix it."""


class ExportError(EdgeError):
    """A model or target that could not be exported or did not pass verification."""
