"""Aggregation operators (sum, avg, count, group, min, max, stddev, stdvar, topk, bottomk,
quantile, count_values), each over all steps at once with presence masks."""

from __future__ import annotations

import re

import numpy as np

from . import ast as A
from .gofmt import format_float_f
from .values import PromQLError, Vector

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def group_key_fn(node: A.AggregateExpr):
    names = set(node.grouping)
    if node.without:
        names.add("__name__")
        return lambda l: tuple(p for p in l if p[0] not in names)
    return lambda l: tuple(p for p in l if p[0] in names)


def aggregate(ev, node: A.AggregateExpr, ts):
    vec = ev.eval(node.expr, ts)
    param = ev.eval(node.param, ts) if node.param is not None else None
    n = len(ts)
    op = node.op
    keyf = group_key_fn(node)
    if op == "count_values":
        return count_values(vec, param.val, keyf, n)
    groups: dict = {}
    for i, l in enumerate(vec.labels):
        groups.setdefault(keyf(l), []).append(i)
    if op in ("topk", "bottomk"):
        return topk(vec, groups, param.vals, op == "topk", n)
    if op == "sum" and len(groups) == len(vec.labels):  # every group one series: no sums to form
        return _sum_of_singletons(vec, groups, n)
    out_labels, out_vals, out_mask = [], [], []
    for key, rows in groups.items():
        V = vec.vals[rows]
        M = vec.mask[rows]
        present = M.any(axis=0)
        if not present.any():
            continue
        if op == "sum":
            val = _sum(V, M)
        elif op == "count":
            val = M.sum(axis=0).astype(float)
        elif op == "group":
            val = np.ones(n)
        elif op in ("max", "min"):
            val = _minmax(V, M, op == "max")
        elif op == "avg":
            val = _avg(V, M)
        elif op in ("stddev", "stdvar"):
            val = _stdvar(V, M)
            if op == "stddev":
                val = np.sqrt(val)
        elif op == "quantile":
            val = _quantile(param.vals, V, M)
        else:
            raise PromQLError(f"unknown aggregation {op}")
        out_labels.append(key)
        out_vals.append(val)
        out_mask.append(present)
    if not out_labels:
        return Vector.empty(n)
    return Vector(out_labels, np.array(out_vals), np.array(out_mask))


def _sum_of_singletons(vec: Vector, groups: dict, n: int) -> Vector:
    """sum by (...) where each group holds one series (a sum by a label that tells the series
    apart: by (instance) over one series per instance): _sum of each row at once. _sum of one
    value is the value, and -0.0 where it is missing."""
    rows = [r[0] for r in groups.values()]
    M = vec.mask[rows]
    present = M.any(axis=1)
    if not present.any():
        return Vector.empty(n)
    keep = np.flatnonzero(present)
    labels = list(groups)
    return Vector([labels[i] for i in keep.tolist()], np.where(M, vec.vals[rows], -0.0)[keep], M[keep])


def _sum(V, M):
    """Prometheus 2.42's sum: the first value, plus each next one in the vector's order (no
    compensation). NumPy's sum adds pairwise along a contiguous axis (an instant query's
    column), which rounds differently; cumsum adds in order. A missing value adds +0.0, which
    changes nothing except a sum of only -0.0 values, whose sign Prometheus keeps."""
    val = np.cumsum(np.where(M, V, 0.0), axis=0)[-1]
    only_negative_zeros = ~np.any(M & ~((V == 0) & np.signbit(V)), axis=0)
    return np.where(only_negative_zeros, -0.0, val)


def _minmax(V, M, is_max):
    n = V.shape[1]
    val = np.full(n, np.nan)
    have = np.zeros(n, dtype=bool)
    for r in range(V.shape[0]):
        v, m = V[r], M[r]
        if is_max:
            take = m & (~have | (val < v) | np.isnan(val))
        else:
            take = m & (~have | (val > v) | np.isnan(val))
        val = np.where(take, v, val)
        have |= m
    return val


def _avg(V, M):
    n = V.shape[1]
    mean = np.zeros(n)
    count = np.zeros(n)
    with np.errstate(all="ignore"):
        for r in range(V.shape[0]):
            v, m = V[r], M[r]
            count = count + m
            first = m & (count == 1)
            mean_inf = np.isinf(mean) & ~first
            skip = mean_inf & ((np.isinf(v) & ((mean > 0) == (v > 0))) | (~np.isinf(v) & ~np.isnan(v)))
            upd = mean + (v / np.where(count == 0, 1, count) - mean / np.where(count == 0, 1, count))
            mean = np.where(first, v, np.where(m & ~skip, upd, mean))
    return mean


def _stdvar(V, M):
    n = V.shape[1]
    mean = np.zeros(n)
    aux = np.zeros(n)
    count = np.zeros(n)
    with np.errstate(all="ignore"):
        for r in range(V.shape[0]):
            v, m = V[r], M[r]
            count = count + m
            c = np.where(count == 0, 1, count)
            delta = v - mean
            nmean = mean + delta / c
            naux = aux + delta * (v - nmean)
            mean = np.where(m, nmean, mean)
            aux = np.where(m, naux, aux)
        return aux / np.where(count == 0, 1, count)


def quantile_sorted(q: float, values: list) -> float:
    """Prometheus's quantile() over values (NaN sorts last here, as the tests expect)."""
    if not values:
        return float("nan")
    if q < 0:
        return float("-inf")
    if q > 1:
        return float("inf")
    if q != q:
        return float("nan")
    vs = sorted(values, key=lambda x: (x != x, x))
    n = len(vs)
    rank = q * (n - 1)
    lower = max(0.0, np.floor(rank))
    upper = min(n - 1.0, lower + 1)
    weight = rank - np.floor(rank)
    return vs[int(lower)] * (1 - weight) + vs[int(upper)] * weight


def _quantile(qs, V, M):
    n = V.shape[1]
    out = np.full(n, np.nan)
    for j in range(n):
        vals = V[M[:, j], j].tolist()
        if vals:
            out[j] = quantile_sorted(qs[j], vals)
    return out


def _heap_select(values: list, k: int, is_top: bool) -> list:
    """Prometheus 2.42's topk/bottomk heap (Go container/heap) over values in input order;
    returns the selected positions. Used where ties or NaN make the selection order-dependent."""
    def less(a, b):
        va, vb = values[a], values[b]
        if va != va:
            return True
        return va < vb if is_top else va > vb

    heap: list = []

    def up(j):
        while True:
            i = (j - 1) // 2 if j > 0 else 0
            if i == j or not less(heap[j], heap[i]):
                break
            heap[i], heap[j] = heap[j], heap[i]
            j = i

    def down(i0, n):
        i = i0
        while True:
            j1 = 2 * i + 1
            if j1 >= n:
                break
            j = j1
            if j1 + 1 < n and less(heap[j1 + 1], heap[j1]):
                j = j1 + 1
            if not less(heap[j], heap[i]):
                break
            heap[i], heap[j] = heap[j], heap[i]
            i = j
        return i > i0

    for pos, v in enumerate(values):
        if len(heap) < k:
            heap.append(pos)
            up(len(heap) - 1)
            continue
        root = values[heap[0]]
        better = (root < v) if is_top else (root > v)
        if better or (root != root and v == v):
            heap[0] = pos
            if k > 1 and not down(0, len(heap)):
                up(0)
    return heap


def topk(vec: Vector, groups: dict, kvals, is_top: bool, n: int) -> Vector:
    mask = np.zeros_like(vec.mask)
    order_rows = []
    for key, rows in groups.items():
        rows = np.array(rows)
        V = vec.vals[rows]
        M = vec.mask[rows]
        # NaN is the least preferred value in both directions; absent rows sort last
        nan = np.isnan(V)
        primary = np.where(M, np.where(nan, 1, 0), 2)
        secondary = np.where(nan, 0.0, -V if is_top else V)
        order = np.lexsort((secondary, primary), axis=0)
        present = M.sum(axis=0)
        cols = np.arange(n)
        with np.errstate(invalid="ignore"):
            valid = kvals >= 1
            kk = np.where(valid, np.minimum(np.where(valid, kvals, 1), len(rows)), 1).astype(np.int64)
        ranks = np.empty_like(order)
        ranks[order, cols[None, :]] = np.arange(len(rows))[:, None]
        sel = (ranks < kk[None, :]) & M & valid[None, :]
        # where the cut-off falls between equal values (or NaN), the heap's choice depends on
        # input order: replay Prometheus's heap for those steps
        cut = valid & (present > kk)
        if cut.any():
            js = np.nonzero(cut)[0]
            a = V[order[kk[js] - 1, js], js]
            b = V[order[kk[js], js], js]
            for j in js[(a == b) | np.isnan(a) | np.isnan(b)]:
                idx = np.nonzero(M[:, j])[0]
                chosen = _heap_select(V[idx, j].tolist(), int(kk[j]), is_top)
                sel[:, j] = False
                sel[idx[chosen], j] = True
        mask[rows] = sel
        order_rows.append(rows[order[:, 0]])
    # instant queries list each group's selection in value order
    flat = [int(r) for rows in order_rows for r in rows if mask[r].any()]
    seen = set()
    idx = []
    for r in flat:
        if r not in seen:
            seen.add(r)
            idx.append(r)
    for r in range(len(vec.labels)):
        if r not in seen and mask[r].any():
            idx.append(r)
    return Vector([vec.labels[i] for i in idx], vec.vals[idx], mask[idx])


def count_values(vec: Vector, label: str, keyf, n: int) -> Vector:
    if not _LABEL_NAME.match(label):
        raise PromQLError(f'invalid label name "{label}"')
    counts: dict = {}
    order = []
    for i, l in enumerate(vec.labels):
        base = dict(keyf(l))
        for j in np.nonzero(vec.mask[i])[0]:
            d = dict(base)
            d[label] = format_float_f(float(vec.vals[i, j]))
            key = tuple(sorted(d.items()))
            arr = counts.get(key)
            if arr is None:
                arr = np.zeros(n)
                counts[key] = arr
                order.append(key)
            arr[j] += 1
    if not order:
        return Vector.empty(n)
    vals = np.array([counts[k] for k in order])
    return Vector(order, vals, vals > 0)
