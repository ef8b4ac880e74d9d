"""The hybrid model zoo: one file per family, variants registered by name."""

from edge.models import fasternet, iformer, mobilevit  # noqa: F401  (registers the variants)
from edge.models.registry import ModelConfig, UnknownModelError, create, get_factory, list_models, register_model

__all__ = ["ModelConfig", "UnknownModelError", "create", "get_factory", "list_models", "register_model"]
