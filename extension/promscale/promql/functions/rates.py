"""How counters and gauges change within a window: rate, increase, delta, irate, idelta,
changes, resets."""

from __future__ import annotations

import numpy as np

from ..ast import MATRIX
from ..values import Vector
from .registry import function
from .windows import RangeCall, extrapolated_rate, instant_rate


def _extrapolated(ev, call, ts, is_counter: bool, is_rate: bool) -> Vector:
    rc = RangeCall(ev, call, ts)
    if not rc.matrix.series:
        return Vector.empty(len(ts))
    values, ok = extrapolated_rate(rc.matrix, rc.windows, is_counter, is_rate)
    return rc.rows(values, ok)


# --- rate: per-second increase of a counter over the window, extrapolated to its edges
@function("rate", [MATRIX])
def rate(ev, call, ts):
    return _extrapolated(ev, call, ts, is_counter=True, is_rate=True)


# --- increase: increase of a counter over the window, extrapolated to its edges
@function("increase", [MATRIX])
def increase(ev, call, ts):
    return _extrapolated(ev, call, ts, is_counter=True, is_rate=False)


# --- delta: difference of a gauge between the window's edges, extrapolated
@function("delta", [MATRIX])
def delta(ev, call, ts):
    return _extrapolated(ev, call, ts, is_counter=False, is_rate=False)


# --- irate: per-second rate of a counter between the window's last two samples
@function("irate", [MATRIX])
def irate(ev, call, ts):
    return RangeCall(ev, call, ts).results(lambda s, lo, hi: instant_rate(s, lo, hi, is_rate=True))


# --- idelta: difference between the window's last two samples
@function("idelta", [MATRIX])
def idelta(ev, call, ts):
    return RangeCall(ev, call, ts).results(lambda s, lo, hi: instant_rate(s, lo, hi, is_rate=False))


def _count_pairs(is_counted):
    """A kernel counting the consecutive sample pairs (i-1, i) inside each window (lo < i < hi)
    for which ``is_counted(previous values, next values)``, from a prefix sum over the series."""

    def kernel(s, lo, hi):
        v = s.v
        if len(v) > 1:
            c = np.concatenate([[0, 0], np.cumsum(is_counted(v[:-1], v[1:]))])
        else:
            c = np.zeros(2)
        hi1 = np.maximum(hi - 1, 0)
        return (c[hi1 + 1] - c[np.minimum(lo, hi1) + 1]).astype(float), hi > lo

    return kernel


# --- changes: how many times the value changed within the window (NaN to NaN is no change)
@function("changes", [MATRIX])
def changes(ev, call, ts):
    return RangeCall(ev, call, ts).results(
        _count_pairs(lambda prev, nxt: (nxt != prev) & ~(np.isnan(nxt) & np.isnan(prev))))


# --- resets: how many times a counter decreased (reset) within the window
@function("resets", [MATRIX])
def resets(ev, call, ts):
    return RangeCall(ev, call, ts).results(_count_pairs(lambda prev, nxt: nxt < prev))
