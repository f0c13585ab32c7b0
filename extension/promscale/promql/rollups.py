"""PromQL on rollups (max_source_resolution, docs/rollups.md): which aggregate each function
reads, and the two functions computed from two aggregates.

A function taking a range vector of a selector reads the pseudo-samples of one aggregate
(rollup/read.py) and runs its own implementation on them: rate/increase on the
reset-adjusted counter, delta on the first and last values, *_over_time on the window
aggregates. count_over_time sums the windows' counts and avg_over_time divides the sums of
sums and counts. Every other function, and plain selectors, read the windows' last samples.
"""

from __future__ import annotations

import numpy as np

from . import ast as A
from .functions.registry import lookup
from .values import Vector, merge_rows

AGGREGATE_OF = {
    "rate": "counter", "increase": "counter", "irate": "counter",
    "delta": "edges", "idelta": "edges",
    "sum_over_time": "sums", "min_over_time": "mins", "max_over_time": "maxs",
}
# exact on rollups when the range and the step times are multiples of the resolution
# (docs/rollups.md lists the conditions); everything else is an approximation
EXACT = ("rate", "increase", "delta", "sum_over_time", "min_over_time", "max_over_time", "count_over_time",
         "avg_over_time", "last_over_time", "present_over_time")


def _matrix_arg(node: A.Call):
    position = node.func.arg_types.index(A.MATRIX)
    if position >= len(node.args):
        return None
    arg = A.unwrap_parens(node.args[position])
    return arg if isinstance(arg, A.MatrixSelector) else None


def call(ev, node: A.Call, ts):
    """Evaluates a call taking a range vector on rollups."""
    if _matrix_arg(node) is None:  # a subquery: its inner selectors read rollups themselves
        return node.func.call(ev, node, ts)
    name = node.func.name
    if name == "count_over_time":
        return _with(ev, "counts", lambda: lookup("sum_over_time").call(ev, node, ts))
    if name == "avg_over_time":
        sums = _with(ev, "sums", lambda: lookup("sum_over_time").call(ev, node, ts))
        counts = _with(ev, "counts", lambda: lookup("sum_over_time").call(ev, node, ts))
        return _divide(sums, counts)
    return _with(ev, AGGREGATE_OF.get(name, "lasts"), lambda: node.func.call(ev, node, ts))


def _with(ev, aggregate: str, fn):
    saved = ev.rollup_aggregate
    ev.rollup_aggregate = aggregate
    try:
        return fn()
    finally:
        ev.rollup_aggregate = saved


def _divide(sums: Vector, counts: Vector) -> Vector:
    index = {labels: i for i, labels in enumerate(counts.labels)}
    rows = [index[labels] for labels in sums.labels]
    with np.errstate(all="ignore"):
        vals = sums.vals / counts.vals[rows] if rows else sums.vals
    return merge_rows(list(sums.labels), vals, sums.mask & counts.mask[rows] if rows else sums.mask)
