"""The hybrid model zoo: one file per family, variants registered by name."""
from edge.models.registry import ModelConfig, UnknownModelError, create, get_factory, list_models, register_model
from edge.models import mobilevit, fasternet, iformer  # noqa: F401  (registers the variants)

__all__ = ["ModelConfig", "UnknownModelError", "create", "get_factory", "list_models", "register_model"]
