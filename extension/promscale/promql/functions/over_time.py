"""Aggregations of each series over its window (Prometheus's aggrOverTime family):
*_over_time except absent_over_time (absent.py)."""

from __future__ import annotations

import numpy as np

from ..aggregations import quantile_sorted
from ..ast import MATRIX, SCALAR
from .registry import function
from .windows import RangeCall, over_gathered_windows, window_extreme, window_mean, window_sum, window_variance


# --- avg_over_time: mean of the window's samples
@function("avg_over_time", [MATRIX])
def avg_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(over_gathered_windows(window_mean))


# --- min_over_time: smallest sample of the window
@function("min_over_time", [MATRIX])
def min_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(over_gathered_windows(lambda W, M: window_extreme(W, M, is_max=False)))


# --- max_over_time: largest sample of the window
@function("max_over_time", [MATRIX])
def max_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(over_gathered_windows(lambda W, M: window_extreme(W, M, is_max=True)))


# --- sum_over_time: sum of the window's samples
@function("sum_over_time", [MATRIX])
def sum_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(over_gathered_windows(window_sum))


# --- count_over_time: number of samples in the window
@function("count_over_time", [MATRIX])
def count_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(lambda s, lo, hi: ((hi - lo).astype(float), hi > lo))


# --- last_over_time: the window's latest sample, with the series' labels unchanged
@function("last_over_time", [MATRIX], keeps_metric_name=True)
def last_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(lambda s, lo, hi: (s.v[np.maximum(hi - 1, 0)], hi > lo))


# --- present_over_time: 1 where the window has a sample
@function("present_over_time", [MATRIX])
def present_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(lambda s, lo, hi: (np.ones(len(ts)), hi > lo))


# --- stdvar_over_time: population variance of the window's samples
@function("stdvar_over_time", [MATRIX])
def stdvar_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(over_gathered_windows(window_variance))


# --- stddev_over_time: population standard deviation of the window's samples
@function("stddev_over_time", [MATRIX])
def stddev_over_time(ev, call, ts):
    return RangeCall(ev, call, ts).results(over_gathered_windows(lambda W, M: np.sqrt(window_variance(W, M))))


# --- quantile_over_time: the φ-quantile (first argument) of the window's samples
@function("quantile_over_time", [SCALAR, MATRIX])
def quantile_over_time(ev, call, ts):
    rc = RangeCall(ev, call, ts)
    q = rc.scalars[0]

    def reduce(W, M):
        res = np.full(len(ts), np.nan)
        for j in np.nonzero(M.any(axis=1))[0]:
            res[j] = quantile_sorted(q[j], W[j][M[j]].tolist())
        return res

    return rc.results(over_gathered_windows(reduce))
