"""Conversions between scalars and instant vectors: vector and scalar."""

from __future__ import annotations

import numpy as np

from ..ast import SCALAR, VECTOR
from ..values import Scalar, Vector
from .registry import function


# --- vector: the scalar as a vector of one series without labels
@function("vector", [SCALAR])
def vector(ev, call, ts):
    s = ev.eval(call.args[0], ts)
    return Vector([()], s.vals[None, :].copy(), np.ones((1, len(ts)), dtype=bool))


# --- scalar: the value of a vector's only series, NaN where it has no series or several
@function("scalar", [VECTOR], SCALAR)
def scalar(ev, call, ts):
    v = ev.eval(call.args[0], ts)
    n = len(ts)
    cnt = v.mask.sum(axis=0)
    vals = np.full(n, np.nan)
    if len(v.labels):
        idx = np.argmax(v.mask, axis=0)
        one = cnt == 1
        vals[one] = v.vals[idx[one], np.nonzero(one)[0]]
    return Scalar(vals)
