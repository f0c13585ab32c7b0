"""Ordering the series of an instant query's result: sort and sort_desc."""

from __future__ import annotations

import numpy as np

from ..ast import VECTOR
from ..values import Vector
from .registry import function


def _sorted(ev, call, ts, descending: bool) -> Vector:
    v = ev.eval(call.args[0], ts)
    # only an instant query's result has an order: a range query's has a fixed one, as in Prometheus
    if len(ts) == 1 and len(v.labels):
        vals = v.vals[:, 0]
        nan = np.isnan(vals)
        key = -vals if descending else vals
        order = np.lexsort((np.where(nan, 0, key), nan))  # NaN last in both orders
        return Vector([v.labels[i] for i in order], v.vals[order], v.mask[order])
    return v


# --- sort: series in ascending order of value
@function("sort", [VECTOR], keeps_metric_name=True)
def sort(ev, call, ts):
    return _sorted(ev, call, ts, descending=False)


# --- sort_desc: series in descending order of value
@function("sort_desc", [VECTOR], keeps_metric_name=True)
def sort_desc(ev, call, ts):
    return _sorted(ev, call, ts, descending=True)
