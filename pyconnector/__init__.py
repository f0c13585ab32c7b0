"""The promscale connector: a stateless WSGI app that speaks Prometheus's wire
protocols and calls the promscale extension's SQL functions."""

from .app import create_app
from .config import Config

__version__ = "0.1.0"

# The extension versions this connector can talk to (same major.minor).
COMPATIBLE_EXTENSION = "0.1"

__all__ = ["Config", "create_app", "__version__", "COMPATIBLE_EXTENSION"]
