"""Range-vector windows shared by the functions that take a range vector: evaluating the
arguments, one result row per series, and the window computations of Prometheus 2.42's
promql/functions.go (extrapolatedRate, instantValue, the aggrOverTime recurrences, linearRegression),
each vectorised over the steps of the query.

A series' window at each step is the index range [lo, hi) of its samples (Matrix.windows:
two searchsorted calls for all steps).
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..ast import MATRIX, unwrap_parens
from ..values import Matrix, RangeSeries, RollupRangeSeries, Vector, drop_name, merge_rows

# the deadline is checked once every this many series
_SERIES_PER_DEADLINE_CHECK = 256


class RangeCall:
    """The arguments of a call taking a range vector, evaluated in Prometheus 2.42's order: the
    other arguments (scalars) first, then the range vector."""

    def __init__(self, ev, call, ts):
        self.ev = ev
        self.ts = ts
        self.keeps_metric_name = call.func.keeps_metric_name
        position = call.func.arg_types.index(MATRIX)
        # the values of the other arguments by position, one per step
        self.scalars = {i: ev.eval(a, ts).vals for i, a in enumerate(call.args) if i != position}
        self.matrix: Matrix = ev.eval(call.args[position], ts)
        # the range vector's expression without parentheses: a MatrixSelector or a SubqueryExpr
        self.expr = unwrap_parens(call.args[position])
        self._windows = None

    @property
    def windows(self) -> list:
        """(lo, hi) per series, each an array over the steps. Computed on first use, so that
        a function may still move the windows (Matrix.start_shift) before."""
        if self._windows is None:
            self._windows = self.matrix.all_windows()
        return self._windows

    def any_window_has_samples(self) -> bool:
        return any((hi > lo).any() for lo, hi in self.windows)

    def results(self, kernel) -> Vector:
        """One row per series from ``kernel(series, lo, hi) -> (values, ok)``, both arrays over
        the steps (``ok``: a result exists at that step). The kernel is called only for series
        with a sample in some window."""
        return self._collect(lambda k, s, lo, hi: kernel(s, lo, hi))

    def rows(self, values: np.ndarray, ok: np.ndarray) -> Vector:
        """One row per series from results computed for all series at once (row k: series k):
        those with a result at some step (a result needs a sample in its window)."""
        self.ev.ctx.check_deadline()
        keep = np.flatnonzero(ok.any(axis=1)) if len(ok) else np.zeros(0, dtype=np.int64)
        if not len(keep):
            return Vector.empty(len(self.ts))
        series = self.matrix.series
        if self.keeps_metric_name:
            labels = [series[k].labels for k in keep.tolist()]
        else:
            labels = [drop_name(series[k].labels) for k in keep.tolist()]
        return merge_rows(labels, np.asarray(values, dtype=float)[keep], np.asarray(ok, dtype=bool)[keep])

    def _collect(self, kernel) -> Vector:
        labels, vals, mask = [], [], []
        for k, s in enumerate(self.matrix.series):
            if k % _SERIES_PER_DEADLINE_CHECK == _SERIES_PER_DEADLINE_CHECK - 1:
                self.ev.ctx.check_deadline()
            lo, hi = self.windows[k]
            if not (hi > lo).any():
                continue
            res, ok = kernel(k, s, lo, hi)
            if not ok.any():
                continue
            labels.append(s.labels if self.keeps_metric_name else drop_name(s.labels))
            vals.append(res)
            mask.append(ok)
        if not labels:
            return Vector.empty(len(self.ts))
        return merge_rows(labels, np.array(vals, dtype=float), np.array(mask))


def gather(s: RangeSeries, lo, hi, fill=0.0):
    """Window matrix W[step, k] = v[lo + k] with mask M[step, k] = k < hi - lo, and the indices."""
    cnt = hi - lo
    w = int(cnt.max()) if len(cnt) else 0
    w = max(w, 1)
    k = np.arange(w)
    idx = lo[:, None] + k[None, :]
    M = k[None, :] < cnt[:, None]
    idx = np.where(M, idx, 0)
    if len(s.v) == 0:
        return np.full(idx.shape, fill), M, idx
    W = np.where(M, s.v[np.minimum(idx, len(s.v) - 1)], fill)
    return W, M, idx


def over_gathered_windows(reduce):
    """A kernel for RangeCall.results: ``reduce(W, M)`` of each step's gathered window."""

    def kernel(s, lo, hi):
        W, M, _ = gather(s, lo, hi)
        return reduce(W, M), hi > lo

    return kernel


# --- extrapolatedRate (rate, increase, delta)

def extrapolated_rate(mat: Matrix, windows: list, is_counter: bool, is_rate: bool):
    """rate/increase/delta of every series of ``mat`` at once: (results, ok), one row per
    series. The series' samples are concatenated and each series' windows shifted to its
    offset; a window never reaches into another series, and the counter drop at a boundary
    between two series is zeroed, so each row is what the series alone gives."""
    lengths = np.array([len(s.v) for s in mat.series], dtype=np.int64)
    if not lengths.any():
        shape = (len(mat.series), len(mat.ref))
        return np.zeros(shape), np.zeros(shape, dtype=bool)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    t = mat.flat("t")
    v = mat.flat("v").astype(float, copy=False)
    bounds = mat.window_bounds()
    lo, hi = bounds if bounds is not None else (np.stack([w[0] for w in windows]), np.stack([w[1] for w in windows]))
    raw = n = None
    if all(isinstance(s, RollupRangeSeries) for s in mat.series):  # read from rollups
        raw = mat.flat("raw")
        n = mat.flat("n")
    if kernels.loaded() and t.dtype.kind == "i":
        return kernels.extrapolated_rate(t, v, starts, lengths, lo, hi, mat.ref, mat.range, is_counter, is_rate,
                                         raw, n)
    return _extrapolated_rate(t, v, starts, lengths, lo + starts[:, None], hi + starts[:, None], mat.ref, mat.range,
                              is_counter, is_rate, raw, n)


def _extrapolated_rate(t, v, starts, lengths, lo, hi, ref, rng, is_counter, is_rate, raw=None, n=None):
    """Prometheus's extrapolatedRate over series concatenated in ``t``/``v`` (series k at
    ``starts[k]``, ``lengths[k]`` samples), windows [lo, hi) per series row and step. From
    rollups (rollup/read.py), the points stand for more samples: ``n`` counts the raw samples
    up to each point (the average interval between samples is the raw one) and ``raw`` is the
    point's raw value (the extrapolation towards zero starts from it)."""
    cnt = hi - lo
    ok = cnt >= 2
    li = np.where(ok, lo, 0)
    hi1 = np.where(ok, hi - 1, 0)
    first, last = v[li], v[hi1]
    if n is not None:
        cnt = np.where(ok, n[hi1] - n[li] + 1, cnt)
    tf, tl = t[li].astype(float), t[hi1].astype(float)
    result = last - first
    falls = None
    if is_counter and len(v) > 1:
        falls = v[1:] < v[:-1]
        firsts = starts[(lengths > 0) & (starts > 0)]
        falls[firsts - 1] = False  # a series' first sample follows another series
        if not falls.any():  # no counter reset anywhere (always so on rollups' adjusted counter)
            falls = None
    if falls is not None:
        drops = np.zeros(len(v))
        drops[1:] = np.where(falls, v[:-1], 0.0)
        dropped = np.concatenate([[0], np.cumsum(drops != 0)])
        # counter resets are rare: the series that have one get the drops inside each window
        # (pairs (i-1, i) with lo < i < hi) added from a cumulative sum of their own, the sums
        # Prometheus forms; the others keep last - first as it is
        for k in np.flatnonzero(dropped[starts + lengths] - dropped[starts] > 0):
            a = starts[k]
            c = np.concatenate([[0.0], np.cumsum(drops[a:a + lengths[k]])])
            l_own = np.where(ok[k], lo[k] - a, 0)
            h_own = np.where(ok[k], hi[k] - 1 - a, 0)
            result[k] = result[k] + (c[h_own + 1] - c[l_own + 1])
    range_start = (ref - rng).astype(float)
    range_end = ref.astype(float)
    dur_start = (tf - range_start) / 1000
    dur_end = (range_end - tl) / 1000
    sampled = (tl - tf) / 1000
    with np.errstate(all="ignore"):
        avg_dur = sampled / np.where(ok, cnt - 1, 1)
        if is_counter:
            dz = sampled * ((first if raw is None else raw[li]) / result)
            use = (result > 0) & (first >= 0) & (dz < dur_start)
            dur_start = np.where(use, dz, dur_start)
        thresh = avg_dur * 1.1
        ext = (sampled + np.where(dur_start < thresh, dur_start, avg_dur / 2)
               + np.where(dur_end < thresh, dur_end, avg_dur / 2))
        factor = ext / sampled
        if is_rate:
            factor = factor / (rng / 1000)
        result = result * factor
    return result, ok


# --- instantValue (irate, idelta)

def instant_rate(s: RangeSeries, lo, hi, is_rate: bool):
    """The last two samples of each window: their difference (idelta), or per second with
    counter resets (irate)."""
    cnt = hi - lo
    ok = cnt >= 2
    i1 = np.where(ok, hi - 1, 0)
    i0 = np.where(ok, hi - 2, 0)
    last, prev = s.v[i1], s.v[i0]
    with np.errstate(all="ignore"):
        if is_rate:
            res = np.where(last < prev, last, last - prev)
        else:
            res = last - prev
        dt = (s.t[i1] - s.t[i0]).astype(float)
        ok = ok & (dt != 0)
        if is_rate:
            res = res / (dt / 1000)
    return res, ok


# --- aggrOverTime recurrences over gathered windows (W, M from gather), column by column.
# Prometheus 2.42 compensates its sums (Kahan with Neumaier's improvement, functions.go
# kahanSumInc): sum_over_time, avg_over_time's incremental mean, the Welford recurrences of
# stdvar/stddev_over_time and linearRegression's four sums. The same steps in the same order
# give the same bits (tests/promql/test_against_prometheus.py compares them with 2.42).

def kahan_inc(inc, total, comp):
    """One compensated addition: (new total, new compensation), as Go's kahanSumInc. Its branch
    (Neumaier's: subtract from the larger operand) yields the exact rounding error of the
    addition, which Knuth's branch-free TwoSum computes too, in fewer array operations; where
    an operand is infinite or NaN both give NaN."""
    new_total = total + inc
    back = new_total - total
    err = total - (new_total - back)
    err += inc - back
    return new_total, comp + err


def window_kahan(W, M):
    """Per window: (sum, compensation) of its values in order."""
    total = np.zeros(W.shape[0])
    comp = np.zeros(W.shape[0])
    with np.errstate(all="ignore"):
        for k in range(W.shape[1]):
            m = M[:, k]
            new_total, new_comp = kahan_inc(W[:, k], total, comp)
            total = np.where(m, new_total, total)
            comp = np.where(m, new_comp, comp)
    return total, comp


def window_sum(W, M):
    """sum_over_time: the compensated sum; an infinite sum as it is (its compensation is NaN)."""
    total, comp = window_kahan(W, M)
    with np.errstate(all="ignore"):
        return np.where(np.isinf(total), total, total + comp)


def window_mean(W, M):
    """Prometheus's incremental mean, compensated, with its rules for infinite values."""
    mean = np.zeros(W.shape[0])
    comp = np.zeros(W.shape[0])
    with np.errstate(all="ignore"):
        for k in range(W.shape[1]):
            v, m = W[:, k], M[:, k]
            count = k + 1.0
            mean_inf = np.isinf(mean)
            skip = mean_inf & ((np.isinf(v) & ((mean > 0) == (v > 0))) | (~np.isinf(v) & ~np.isnan(v)))
            new_mean, new_comp = kahan_inc(v / count - mean / count, mean, comp)
            take = m & ~skip
            mean = np.where(take, new_mean, mean)
            comp = np.where(take, new_comp, comp)
        return np.where(np.isinf(mean), mean, mean + comp)


def window_extreme(W, M, is_max: bool):
    """Max or min; a NaN is replaced by any later value, as in Prometheus."""
    val = W[:, 0].copy()
    for k in range(1, W.shape[1]):
        v, m = W[:, k], M[:, k]
        better = (v > val) if is_max else (v < val)
        val = np.where(m & (better | np.isnan(val)), v, val)
    return val


def window_variance(W, M):
    """Welford's population variance, mean and sum of squares compensated."""
    mean = np.zeros(W.shape[0])
    c_mean = np.zeros(W.shape[0])
    aux = np.zeros(W.shape[0])
    c_aux = np.zeros(W.shape[0])
    with np.errstate(all="ignore"):
        for k in range(W.shape[1]):
            v, m = W[:, k], M[:, k]
            count = k + 1.0
            delta = v - (mean + c_mean)
            new_mean, new_c_mean = kahan_inc(delta / count, mean, c_mean)
            new_aux, new_c_aux = kahan_inc(delta * (v - (new_mean + new_c_mean)), aux, c_aux)
            mean = np.where(m, new_mean, mean)
            c_mean = np.where(m, new_c_mean, c_mean)
            aux = np.where(m, new_aux, aux)
            c_aux = np.where(m, new_c_aux, c_aux)
        return (aux + c_aux) / np.maximum(M.sum(axis=1), 1)


# --- linearRegression (deriv, predict_linear)

def linear_regression(s: RangeSeries, lo, hi, W, M, intercept_t):
    """Least squares of value over (t - intercept_t) seconds in each window: (slope, intercept)."""
    cnt = M.sum(axis=1).astype(float)
    _, _, idx = gather(s, lo, hi)
    X = np.where(M, (s.t[np.minimum(idx, len(s.t) - 1)] - intercept_t[:, None]) / 1000.0, 0.0)
    Y = np.where(M, W, 0.0)
    with np.errstate(all="ignore"):
        sx, sy, sxy, sx2 = (total + comp for total, comp in (
            window_kahan(X, M), window_kahan(Y, M), window_kahan(X * Y, M), window_kahan(X * X, M)))
        cov = sxy - sx * sy / cnt
        var = sx2 - sx * sx / cnt
        slope = cov / var
        intercept = sy / cnt - slope * sx / cnt
        # constant windows: slope 0 (NaN for infinite values)
        const = np.all(~M | (W == W[:, :1]), axis=1)
        inf = np.isinf(W[:, 0])
        slope = np.where(const, np.where(inf, np.nan, 0.0), slope)
        intercept = np.where(const, np.where(inf, np.nan, W[:, 0]), intercept)
    return slope, intercept
