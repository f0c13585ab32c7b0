"""Trends fitted to a window: deriv and predict_linear (least squares), holt_winters (double
exponential smoothing)."""

from __future__ import annotations

import math

import numpy as np

from ..ast import MATRIX, SCALAR, MatrixSelector
from ..values import PromQLError
from .registry import function
from .windows import RangeCall, gather, linear_regression


# --- deriv: per-second slope of the least-squares line through the window's samples
@function("deriv", [MATRIX])
def deriv(ev, call, ts):
    def kernel(s, lo, hi):
        W, M, _ = gather(s, lo, hi)
        slope, _ = linear_regression(s, lo, hi, W, M, s.t[np.minimum(lo, len(s.t) - 1)])
        return slope, hi - lo >= 2

    return RangeCall(ev, call, ts).results(kernel)


# --- predict_linear: the least-squares line through the window, read the second argument
# (seconds) after the evaluation time
@function("predict_linear", [MATRIX, SCALAR], at_modifier_unsafe=True)
def predict_linear(ev, call, ts):
    rc = RangeCall(ev, call, ts)
    expr = rc.expr
    if isinstance(expr, MatrixSelector) and (expr.vs.timestamp is not None or expr.vs.start_or_end) and len(ts) > 1:
        # Prometheus 2.42 evaluates this step-dependent function step by step over an "@"
        # selector rewritten as an offset, reusing the previous step's points: the window keeps
        # its end at the @ time while its start moves on with the steps (measured on 2.42)
        rc.matrix.start_shift = ts - ts[0]
    duration = rc.scalars[1]

    def kernel(s, lo, hi):
        W, M, _ = gather(s, lo, hi)
        slope, intercept = linear_regression(s, lo, hi, W, M, ts)
        return slope * duration + intercept, hi - lo >= 2

    return rc.results(kernel)


# --- holt_winters: double exponential smoothing of the window's samples with smoothing
# factor sf (second argument) and trend factor tf (third)
@function("holt_winters", [MATRIX, SCALAR, SCALAR])
def holt_winters(ev, call, ts):
    rc = RangeCall(ev, call, ts)
    sf, tf = rc.scalars[1], rc.scalars[2]
    if rc.any_window_has_samples():
        # Prometheus checks the factors when the function runs, i.e. for a non-empty window
        bad = (sf <= 0) | (sf >= 1)
        if bad.any():
            raise PromQLError("invalid smoothing factor. Expected: 0 < sf < 1, got: %s" % _go_percent_f(sf[bad][0]))
        bad = (tf <= 0) | (tf >= 1)
        if bad.any():
            raise PromQLError("invalid trend factor. Expected: 0 < tf < 1, got: %s" % _go_percent_f(tf[bad][0]))

    def kernel(s, lo, hi):
        W, M, _ = gather(s, lo, hi)
        res = np.full(len(ts), np.nan)
        ok = hi - lo >= 2
        for j in np.nonzero(ok)[0]:
            res[j] = _holt_winters_window(W[j][M[j]], sf[j], tf[j])
        return res, ok

    return rc.results(kernel)


def _holt_winters_window(vals, sf, tf):
    """Prometheus 2.42 funcHoltWinters for one window."""
    n = len(vals)
    if n < 2:
        return None
    s0, s1 = 0.0, vals[0]
    b = vals[1] - vals[0]
    for i in range(1, n):
        x = sf * vals[i]
        if i == 1:
            trend = b
        else:
            trend = tf * (s1 - s0) + (1 - tf) * b
        b = trend
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


def _go_percent_f(v) -> str:
    """Go's fmt %f."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return "%f" % v
