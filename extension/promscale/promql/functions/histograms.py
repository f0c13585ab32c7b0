"""Histogram functions: histogram_quantile over classic histograms (one series per bucket,
label "le"); histogram_count, histogram_sum and histogram_fraction, which read native
histograms only."""

from __future__ import annotations

import math

import numpy as np

from ..ast import SCALAR, VECTOR
from ..values import Vector, labels_get, merge_rows
from .registry import function


# --- histogram_quantile: the φ-quantile (first argument) of each classic histogram, by linear
# interpolation within the bucket that holds it
@function("histogram_quantile", [SCALAR, VECTOR])
def histogram_quantile(ev, call, ts):
    q = ev.eval(call.args[0], ts).vals
    v = ev.eval(call.args[1], ts)
    n = len(ts)
    groups: dict = {}
    for i, l in enumerate(v.labels):
        le = labels_get(l, "le")
        try:
            bound = _parse_go_float(le)
        except ValueError:
            continue
        # the metric name keeps histograms of different metrics apart (it is dropped from the result)
        key = (tuple(p for p in l if p[0] not in ("le", "__name__")), labels_get(l, "__name__"))
        groups.setdefault(key, []).append((bound, i))
    labels, vals, mask = [], [], []
    for key, items in groups.items():
        rows = [i for _, i in items]
        bounds = np.array([b for b, _ in items])
        M = v.mask[rows]
        V = v.vals[rows]
        present = M.any(axis=0)
        res = np.full(n, np.nan)
        for j in np.nonzero(present)[0]:
            sel = M[:, j]
            res[j] = _bucket_quantile(q[j], bounds[sel].tolist(), V[sel, j].tolist())
        labels.append(key[0])
        vals.append(res)
        mask.append(present)
    if not labels:
        return Vector.empty(n)
    return merge_rows(labels, np.array(vals), np.array(mask))


def _native_histograms_only(ev, call, ts):
    """Native histograms are not stored: there is nothing these functions can return. The
    arguments are still evaluated, for their errors and limits."""
    for a in call.args:
        ev.eval(a, ts)
    return Vector.empty(len(ts))


# --- histogram_count: the observation count of each native histogram
function("histogram_count", [VECTOR])(_native_histograms_only)
# --- histogram_sum: the sum of observations of each native histogram
function("histogram_sum", [VECTOR])(_native_histograms_only)
# --- histogram_fraction: the fraction of each native histogram's observations between two bounds
function("histogram_fraction", [SCALAR, SCALAR, VECTOR])(_native_histograms_only)


def _bucket_quantile(q, bounds, counts):
    """Prometheus's bucketQuantile: buckets sorted by bound, equal bounds merged, counts made
    monotonic; NaN without a +Inf bucket or observations."""
    if q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    order = sorted(range(len(bounds)), key=lambda i: bounds[i])
    b = [bounds[i] for i in order]
    c = [counts[i] for i in order]
    if not math.isinf(b[-1]) or b[-1] < 0:
        return math.nan
    # coalesce equal bounds
    nb, nc = [b[0]], [c[0]]
    for x, y in zip(b[1:], c[1:]):
        if x == nb[-1]:
            nc[-1] += y
        else:
            nb.append(x)
            nc.append(y)
    b, c = nb, nc
    mx = -math.inf
    for i in range(len(c)):
        if c[i] > mx:
            mx = c[i]
        elif c[i] < mx:
            c[i] = mx
    if len(b) < 2:
        return math.nan
    obs = c[-1]
    if obs == 0:
        return math.nan
    rank = q * obs
    idx = len(b) - 1
    for i in range(len(b) - 1):
        if c[i] >= rank:
            idx = i
            break
    if idx == len(b) - 1:
        return b[-2]
    if idx == 0 and b[0] <= 0:
        return b[0]
    start = 0.0
    end = b[idx]
    count = c[idx]
    if idx > 0:
        start = b[idx - 1]
        count -= c[idx - 1]
        rank -= c[idx - 1]
    return start + (end - start) * (rank / count)


def _parse_go_float(s: str) -> float:
    """Go's strconv.ParseFloat for an "le" label value; ValueError when it is no number."""
    low = s.strip().lower()
    if s != s.strip() or not s:
        raise ValueError(s)
    if low in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    if low == "nan":
        return math.nan
    if "_" in s or low.startswith("0x"):
        return float.fromhex(s) if low.startswith("0x") else float(s.replace("_", ""))
    return float(s)
