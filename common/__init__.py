"""Basics every layer may use (edge's pipeline, quant's compression, the tests): user-facing errors,
the quiet-output helper, the models' image preprocessing and the parity numerics. Nothing here
imports edge, quant or runtimes (import-linter checks it: pyproject.toml)."""
