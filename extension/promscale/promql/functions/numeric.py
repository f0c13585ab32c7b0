"""Numeric functions of each sample's value: abs, ceil, floor, exp, sqrt, logarithms, sgn,
trigonometry, deg/rad, clamp, clamp_min, clamp_max, round; and the constant pi. The results
drop the metric name."""

from __future__ import annotations

import math

import numpy as np

from ..ast import SCALAR, VECTOR
from ..values import Scalar, merge_rows, drop_name
from .registry import function


def elementwise(ufunc):
    """An implementation applying ``ufunc`` to every sample of its one instant-vector argument
    (NaN and infinities pass through NumPy's rules without warnings)."""

    def implementation(ev, call, ts):
        v = ev.eval(call.args[0], ts)
        with np.errstate(all="ignore"):
            vals = ufunc(v.vals)
        return merge_rows([drop_name(l) for l in v.labels], vals, v.mask)

    return implementation


def _sign(x):
    return np.where(x > 0, 1.0, np.where(x < 0, -1.0, x))


# --- abs: absolute value
function("abs", [VECTOR])(elementwise(np.abs))
# --- ceil: rounded up to an integer
function("ceil", [VECTOR])(elementwise(np.ceil))
# --- floor: rounded down to an integer
function("floor", [VECTOR])(elementwise(np.floor))
# --- exp: e to the power of the value
function("exp", [VECTOR])(elementwise(np.exp))
# --- sqrt: square root
function("sqrt", [VECTOR])(elementwise(np.sqrt))
# --- ln: natural logarithm
function("ln", [VECTOR])(elementwise(np.log))
# --- log2: binary logarithm
function("log2", [VECTOR])(elementwise(np.log2))
# --- log10: decimal logarithm
function("log10", [VECTOR])(elementwise(np.log10))
# --- sgn: sign (1, -1, or the value itself for 0 and NaN)
function("sgn", [VECTOR])(elementwise(_sign))
# --- acos: arccosine (radians)
function("acos", [VECTOR])(elementwise(np.arccos))
# --- acosh: inverse hyperbolic cosine
function("acosh", [VECTOR])(elementwise(np.arccosh))
# --- asin: arcsine (radians)
function("asin", [VECTOR])(elementwise(np.arcsin))
# --- asinh: inverse hyperbolic sine
function("asinh", [VECTOR])(elementwise(np.arcsinh))
# --- atan: arctangent (radians)
function("atan", [VECTOR])(elementwise(np.arctan))
# --- atanh: inverse hyperbolic tangent
function("atanh", [VECTOR])(elementwise(np.arctanh))
# --- cos: cosine of radians
function("cos", [VECTOR])(elementwise(np.cos))
# --- cosh: hyperbolic cosine
function("cosh", [VECTOR])(elementwise(np.cosh))
# --- sin: sine of radians
function("sin", [VECTOR])(elementwise(np.sin))
# --- sinh: hyperbolic sine
function("sinh", [VECTOR])(elementwise(np.sinh))
# --- tan: tangent of radians
function("tan", [VECTOR])(elementwise(np.tan))
# --- tanh: hyperbolic tangent
function("tanh", [VECTOR])(elementwise(np.tanh))
# --- deg: radians to degrees
function("deg", [VECTOR])(elementwise(np.degrees))
# --- rad: degrees to radians
function("rad", [VECTOR])(elementwise(np.radians))


def _bounded(ev, call, ts, compute):
    """The vector argument with ``compute(values, scalar arguments...) -> (values, keep)``
    applied; series left with no sample are dropped."""
    v = ev.eval(call.args[0], ts)
    args = [ev.eval(a, ts).vals for a in call.args[1:]]
    with np.errstate(all="ignore"):
        vals, keep = compute(v.vals, *args)
    mask = v.mask if keep is None else v.mask & keep[None, :]
    return merge_rows([drop_name(l) for l in v.labels], vals, mask).nonempty()


# --- clamp: each value limited to [min, max]; no result at steps where min > max
@function("clamp", [VECTOR, SCALAR, SCALAR])
def clamp(ev, call, ts):
    return _bounded(ev, call, ts, lambda vals, lo, hi: (np.maximum(lo, np.minimum(hi, vals)), ~(hi < lo)))


# --- clamp_min: each value raised to at least the minimum
@function("clamp_min", [VECTOR, SCALAR])
def clamp_min(ev, call, ts):
    return _bounded(ev, call, ts, lambda vals, lo: (np.maximum(lo, vals), None))


# --- clamp_max: each value lowered to at most the maximum
@function("clamp_max", [VECTOR, SCALAR])
def clamp_max(ev, call, ts):
    return _bounded(ev, call, ts, lambda vals, hi: (np.minimum(hi, vals), None))


# --- round: rounded to the nearest multiple of to_nearest (default 1), halves up
@function("round", [VECTOR, SCALAR], variadic=1)
def round_(ev, call, ts):
    def nearest(vals, to=None):
        inv = 1.0 / (np.ones(len(ts)) if to is None else to)
        return np.floor(vals * inv + 0.5) / inv, None

    return _bounded(ev, call, ts, nearest)


# --- pi: the constant π
@function("pi", [], SCALAR)
def pi(ev, call, ts):
    return Scalar(np.full(len(ts), math.pi))
