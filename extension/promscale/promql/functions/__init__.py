"""The PromQL builtin functions of Prometheus 2.42, one registry (registry.py) filled by the
family modules below: each function's signature, flags and implementation are declared together
with ``@function(...)``. The parser looks signatures up here; the engine calls
``call.func.call(...)``. docs/promql.md, "Adding a function", says how to add one.

Importing this package imports every family module, so the registry is complete.
"""

from __future__ import annotations

from . import absent, conversions, dates, histograms, labels, numeric, over_time, rates, sorting, trends  # noqa: F401
from .registry import FUNCTIONS, Function, function, lookup

__all__ = ["FUNCTIONS", "Function", "function", "lookup"]
