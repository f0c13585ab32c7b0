"""Alerting on missing series: absent and absent_over_time return one series (value 1) at the
steps where their argument has none, labelled from the argument's equality matchers."""

from __future__ import annotations

import numpy as np

from ..ast import MATRIX, VECTOR, MatrixSelector, VectorSelector, unwrap_parens
from ..values import Vector
from .registry import function
from .windows import RangeCall


def _absent_labels(arg) -> tuple:
    """The labels of absent's result: each label an equality matcher of the selector names,
    unless the selector has another matcher on that label too (Prometheus's createLabelsForAbsentFunction)."""
    arg = unwrap_parens(arg)
    if isinstance(arg, MatrixSelector):
        arg = arg.vs
    if not isinstance(arg, VectorSelector):
        return ()
    d = {}
    empty = set()
    for m in arg.matchers:
        if m.name == "__name__":
            continue
        if m.type == "=" and m.name not in d:
            d[m.name] = m.value
        else:
            empty.add(m.name)
    for k in empty:
        d.pop(k, None)
    return tuple(sorted(d.items()))


def _absent_result(arg, absent_mask, n) -> Vector:
    if not absent_mask.any():
        return Vector.empty(n)
    return Vector([_absent_labels(arg)], np.ones((1, n)), absent_mask[None, :].copy())


# --- absent: 1 at the steps where the instant vector argument has no series
@function("absent", [VECTOR])
def absent(ev, call, ts):
    v = ev.eval(call.args[0], ts)
    present = v.mask.any(axis=0) if len(v.labels) else np.zeros(len(ts), dtype=bool)
    return _absent_result(call.args[0], ~present, len(ts))


# --- absent_over_time: 1 at the steps where no series has a sample in the window
@function("absent_over_time", [MATRIX])
def absent_over_time(ev, call, ts):
    rc = RangeCall(ev, call, ts)
    present = np.zeros(len(ts), dtype=bool)
    for lo, hi in rc.windows:
        present |= hi > lo
    return _absent_result(call.args[0], ~present, len(ts))
