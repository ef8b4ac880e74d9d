"""edge: take lightweight hybrid vision models onto phones."""

from common.errors import EdgeError, ExportError
from edge import models
from edge.loading import build_model, load_weights

__version__ = "0.1.0"

__all__ = ["models", "build_model", "load_weights", "EdgeError", "ExportError", "__version__"]
