"""PromQL evaluation: every node is evaluated for all steps of the query at once.

Selectors fetch each series' samples once for the whole window the query needs
(through a Storage, see storage.py); the per-step work is NumPy over those arrays.
Semantics follow Prometheus 2.42's promql/engine.go.
"""

from __future__ import annotations

import time as _time

import numpy as np

from . import ast as A
from . import aggregations, binops
from .values import (Matrix, PromQLError, PromQLTimeout, RangeSeries, RollupRangeSeries, Scalar, String, Vector, merge_rows,
                     drop_name, is_stale)

DEFAULT_LOOKBACK_MS = 5 * 60 * 1000
DEFAULT_SUBQUERY_STEP_MS = 60 * 1000
DEFAULT_MAX_SAMPLES = 50_000_000


class Context:
    def __init__(self, storage, start: int, end: int, interval: int, lookback: int = DEFAULT_LOOKBACK_MS,
                 max_samples: int = DEFAULT_MAX_SAMPLES, deadline: float | None = None,
                 subquery_step: int = DEFAULT_SUBQUERY_STEP_MS, rollup_s: int | None = None):
        self.storage = storage
        # the rollup resolution the selectors read (seconds), None for raw samples (rollups.py)
        self.rollup_s = rollup_s
        self.start = start
        self.end = end
        self.interval = interval
        self.lookback = lookback
        self.max_samples = max_samples
        self.deadline = deadline
        self.subquery_step = subquery_step

    def check_deadline(self):
        if self.deadline is not None and _time.monotonic() > self.deadline:
            raise PromQLTimeout("query timed out in expression evaluation")

    def too_many(self):
        raise PromQLError("query processing would load too many samples into memory in query execution")


def step_times(start: int, end: int, interval: int) -> np.ndarray:
    if interval <= 0 or start == end:
        return np.array([start], dtype=np.int64)
    return np.arange(start, end + 1, interval, dtype=np.int64)


def is_step_invariant(node) -> bool:
    """Prometheus's preprocessExprHelper: true when the value is the same at every step."""
    if isinstance(node, (A.NumberLiteral, A.StringLiteral)):
        return True
    if isinstance(node, A.VectorSelector):
        return node.timestamp is not None or node.start_or_end is not None
    if isinstance(node, A.MatrixSelector):
        return is_step_invariant(node.vs)
    if isinstance(node, A.SubqueryExpr):
        return node.timestamp is not None or node.start_or_end is not None
    if isinstance(node, (A.ParenExpr, A.UnaryExpr)):
        return is_step_invariant(node.expr)
    if isinstance(node, A.BinaryExpr):
        return is_step_invariant(node.lhs) and is_step_invariant(node.rhs)
    if isinstance(node, A.AggregateExpr):
        return is_step_invariant(node.expr) and (node.param is None or is_step_invariant(node.param))
    if isinstance(node, A.Call):
        if node.func.at_modifier_unsafe:
            return False
        return all(is_step_invariant(a) for a in node.args)
    return False


class Evaluator:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._invariant: dict = {}
        # on rollups: the aggregate a matrix selector reads, set by the call that takes it
        self.rollup_aggregate = "lasts"

    def at_time(self, node, ts: np.ndarray) -> np.ndarray:
        """Effective evaluation times of a selector/subquery: its @ time, or the steps."""
        if node.timestamp is not None:
            return np.full(len(ts), node.timestamp, dtype=np.int64)
        if node.start_or_end == "start":
            return np.full(len(ts), self.ctx.start, dtype=np.int64)
        if node.start_or_end == "end":
            return np.full(len(ts), self.ctx.end, dtype=np.int64)
        return ts

    def eval(self, node, ts: np.ndarray):
        self.ctx.check_deadline()
        if len(ts) > 1 and not isinstance(node, (A.NumberLiteral, A.StringLiteral, A.VectorSelector)):
            inv = self._invariant.get(id(node))
            if inv is None:
                inv = is_step_invariant(node)
                self._invariant[id(node)] = inv
            if inv and not isinstance(node, (A.MatrixSelector, A.SubqueryExpr)):
                return broadcast(self.eval(node, ts[:1]), len(ts))
        if isinstance(node, A.NumberLiteral):
            return Scalar(np.full(len(ts), node.val))
        if isinstance(node, A.StringLiteral):
            return String(node.val)
        if isinstance(node, A.ParenExpr):
            return self.eval(node.expr, ts)
        if isinstance(node, A.UnaryExpr):
            v = self.eval(node.expr, ts)
            if node.op == "+":
                return v
            if isinstance(v, Scalar):
                return Scalar(-v.vals)
            return merge_rows([drop_name(l) for l in v.labels], -v.vals, v.mask)
        if isinstance(node, A.VectorSelector):
            return self.eval_vector_selector(node, ts)
        if isinstance(node, (A.MatrixSelector, A.SubqueryExpr)):
            return self.eval_range(node, ts)
        if isinstance(node, A.Call):
            if self.ctx.rollup_s and node.func.takes_range_vector:
                from . import rollups
                return rollups.call(self, node, ts)
            return node.func.call(self, node, ts)
        if isinstance(node, A.AggregateExpr):
            return aggregations.aggregate(self, node, ts)
        if isinstance(node, A.BinaryExpr):
            return binops.binary(self, node, ts)
        raise PromQLError(f"unhandled expression of type: {type(node).__name__}")

    # --- selectors
    def eval_vector_selector(self, node: A.VectorSelector, ts: np.ndarray) -> Vector:
        ref = self.at_time(node, ts) - node.original_offset
        lookback = self.ctx.lookback
        series = self.ctx.storage.select(node.matchers, int(ref.min()) - lookback, int(ref.max()))
        n = len(ts)
        if not series:
            return Vector.empty(n)
        self.ctx.check_deadline()
        # the arrays below hold a cell per (series, step), present or not: refuse before allocating
        # them what would exceed the limit if every series had a sample at every step
        if len(series) * n > self.ctx.max_samples:
            self.ctx.too_many()
        # every series at once: the latest sample at or before each step, found in the series'
        # times laid end to end (each series' times are sorted, so a search in the whole array
        # for (series, step time) lands in that series' block)
        lengths = np.fromiter((len(t) for _, t, _ in series), dtype=np.int64, count=len(series))
        ends = np.cumsum(lengths)
        times = np.concatenate([t for _, t, _ in series])
        values = np.concatenate([v for _, _, v in series])
        block = np.repeat(np.arange(len(series), dtype=np.int64), lengths)
        order_key, wanted = _series_time_keys(block, times, np.arange(len(series), dtype=np.int64), ref)
        idx = np.searchsorted(order_key, wanted, "right") - 1
        ok = idx >= (ends - lengths)[:, None]
        idc = np.where(ok, idx, 0)
        st = times[idc]
        sv = values[idc]
        ok &= st >= ref[None, :] - lookback
        ok &= ~is_stale(sv)
        keep = ok.any(axis=1)
        if int(ok.sum()) > self.ctx.max_samples:
            self.ctx.too_many()
        if not keep.any():
            return Vector.empty(n)
        rows = np.flatnonzero(keep)
        return Vector([series[i][0] for i in rows.tolist()], sv[rows], ok[rows], st[rows])

    def eval_range(self, node, ts: np.ndarray) -> Matrix:
        """A matrix selector or subquery as per-series samples plus per-step windows."""
        if isinstance(node, A.MatrixSelector):
            vs = node.vs
            ref = self.at_time(vs, ts) - vs.original_offset
            series = []
            total = 0
            mint, maxt = int(ref.min()) - node.range, int(ref.max())
            if self.ctx.rollup_s:
                selected = self.ctx.storage.select(vs.matchers, mint, maxt, self.rollup_aggregate)
            else:
                selected = self.ctx.storage.select(vs.matchers, mint, maxt)
            for lbls, t, v, *extra in selected:
                keep = ~is_stale(v)
                if not keep.all():
                    t, v = t[keep], v[keep]
                if len(t) == 0:
                    continue
                total += len(t)
                if total > self.ctx.max_samples:
                    self.ctx.too_many()
                if extra:  # rollups' counter points (no stale markers among them)
                    series.append(RollupRangeSeries(lbls, t, v, extra[0]["raw"], extra[0]["n"]))
                else:
                    series.append(RangeSeries(lbls, t, v))
            return Matrix(series, ref, node.range)
        # subquery
        ref = self.at_time(node, ts) - node.original_offset
        step = node.step or self.ctx.subquery_step
        lo = int(ref.min()) - node.range
        first = -(-lo // step) * step
        last = int(ref.max())
        # the step count is checked before its array exists: [1y:1ms] would be 235 GiB of times
        if last >= first and (last - first) // step + 1 > self.ctx.max_samples:
            self.ctx.too_many()
        inner_ts = np.arange(first, last + 1, step, dtype=np.int64) if last >= first else np.zeros(0, dtype=np.int64)
        series = []
        if len(inner_ts):
            inner = self.eval(node.expr, inner_ts)
            total = 0
            for i, lbls in enumerate(inner.labels):
                m = inner.mask[i]
                if not m.any():
                    continue
                total += int(m.sum())
                if total > self.ctx.max_samples:
                    self.ctx.too_many()
                series.append(RangeSeries(lbls, inner_ts[m], inner.vals[i][m]))
        return Matrix(series, ref, node.range)


def _series_time_keys(block: np.ndarray, times: np.ndarray, series: np.ndarray, ref: np.ndarray):
    """Sortable int64 keys of (series, time) for the samples (block, times) and for every
    (series, ref) pair (a 2-D array): the series in the high bits, the time's rank among all
    times and refs in the low ones, so any time fits and the order is exact."""
    ranks = np.unique(np.concatenate([times, ref]))
    bits = max(int(len(ranks)).bit_length(), 1)
    sample_keys = (block << bits) | np.searchsorted(ranks, times)
    ref_keys = (series[:, None] << bits) | np.searchsorted(ranks, ref)[None, :]
    return sample_keys, ref_keys


def broadcast(v, n: int):
    if isinstance(v, Scalar):
        return Scalar(np.repeat(v.vals[:1], n))
    if isinstance(v, Vector):
        return Vector(v.labels, np.repeat(v.vals[:, :1], n, axis=1), np.repeat(v.mask[:, :1], n, axis=1),
                      None if v.times is None else np.repeat(v.times[:, :1], n, axis=1))
    return v


def evaluate(storage, expr: A.Node, start: int, end: int, interval: int, **opts):
    """Evaluate a parsed expression over [start, end] every interval (ms); instant when start == end."""
    ctx = Context(storage, start, end, interval, **opts)
    ts = step_times(start, end, interval)
    ev = Evaluator(ctx)
    return ev.eval(expr, ts), ts
