"""The promscale connector: a stateless WSGI app that speaks Prometheus's and OpenTelemetry's
wire protocols (and Jaeger's query API) and calls the promscale extension's SQL functions.

Layout (docs/architecture.md, "The connector's layout"): one package per protocol
(prometheus/, otlp/, jaeger/) around the shared app.py, routing.py, config.py, db.py and
telemetry.py.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from .app import create_app
from .config import Config


def _version() -> str:
    """The installed distribution's version; in a checkout without one, pyproject.toml's (which
    the extension build keeps equal to promscale.control's default_version)."""
    try:
        return importlib.metadata.version("promscale")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.M)
        if match is None:
            raise RuntimeError(f"{pyproject} has no version") from None
        return match.group(1)


__version__ = _version()

# The extension versions this connector can talk to (same major.minor).
COMPATIBLE_EXTENSION = "0.1"

__all__ = ["Config", "create_app", "__version__", "COMPATIBLE_EXTENSION"]
