"""Implementations of the PromQL functions of Prometheus 2.42 (promql/functions.go), vectorised
over steps: range functions use searchsorted windows, prefix sums and gathered window matrices."""

from __future__ import annotations

import math
import re

import numpy as np

from . import ast as A
from .aggregations import quantile_sorted
from .regex import RegexError, compile_anchored
from .values import Matrix, PromQLError, RangeSeries, Scalar, Vector, drop_name, labels_get, merge_rows

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _unwrap(node):
    while isinstance(node, A.ParenExpr):
        node = node.expr
    return node


def call(ev, node: A.Call, ts):
    name = node.func.name
    n = len(ts)
    if name == "time":
        return Scalar(ts / 1000.0)
    if name == "pi":
        return Scalar(np.full(n, math.pi))
    if name in RANGE_FUNCS or name in ("absent_over_time", "quantile_over_time", "holt_winters", "predict_linear"):
        return range_call(ev, node, ts)
    if name == "timestamp":
        arg = _unwrap(node.args[0])
        if isinstance(arg, A.VectorSelector) and arg.timestamp is not None and arg.original_offset:
            # Prometheus 2.42 resets the selector's offset to "step - @ time" at every step, so
            # timestamp(x @ t offset o) reads at t, ignoring o
            arg = A.VectorSelector(arg.name, arg.matchers, 0, arg.timestamp, None)
            v = ev.eval(arg, ts)
        else:
            v = ev.eval(node.args[0], ts)
        if isinstance(arg, A.VectorSelector) and v.times is not None:
            vals = v.times / 1000.0
        else:
            vals = np.broadcast_to(ts / 1000.0, v.vals.shape)
        return merge_rows([drop_name(l) for l in v.labels], np.array(vals, dtype=float), v.mask)
    if name == "vector":
        s = ev.eval(node.args[0], ts)
        return Vector([()], s.vals[None, :].copy(), np.ones((1, n), dtype=bool))
    if name == "scalar":
        v = ev.eval(node.args[0], ts)
        cnt = v.mask.sum(axis=0)
        vals = np.full(n, np.nan)
        if len(v.labels):
            idx = np.argmax(v.mask, axis=0)
            one = cnt == 1
            vals[one] = v.vals[idx[one], np.nonzero(one)[0]]
        return Scalar(vals)
    if name == "absent":
        return absent(ev, node, ts)
    if name in DATE_FUNCS:
        if node.args:
            v = ev.eval(node.args[0], ts)
        else:
            v = Vector([()], (ts / 1000.0)[None, :], np.ones((1, n), dtype=bool))
        vals = DATE_FUNCS[name](v.vals)
        return merge_rows([drop_name(l) for l in v.labels], vals, v.mask)
    if name in ("sort", "sort_desc"):
        v = ev.eval(node.args[0], ts)
        if n == 1 and len(v.labels):
            vals = v.vals[:, 0]
            nan = np.isnan(vals)
            key = vals if name == "sort" else -vals
            order = np.lexsort((np.where(nan, 0, key), nan))
            return Vector([v.labels[i] for i in order], v.vals[order], v.mask[order])
        return v
    if name == "label_replace":
        return label_replace(ev, node, ts)
    if name == "label_join":
        return label_join(ev, node, ts)
    if name == "histogram_quantile":
        return histogram_quantile(ev, node, ts)
    if name in ("histogram_count", "histogram_sum", "histogram_fraction"):
        # native histograms are not stored: there is nothing these can return
        for a in node.args:
            ev.eval(a, ts)
        return Vector.empty(n)
    if name in ("clamp", "clamp_min", "clamp_max", "round"):
        v = ev.eval(node.args[0], ts)
        args = [ev.eval(a, ts).vals for a in node.args[1:]]
        mask = v.mask
        with np.errstate(all="ignore"):
            if name == "clamp":
                lo, hi = args
                vals = np.maximum(lo, np.minimum(hi, v.vals))
                mask = mask & ~(hi < lo)[None, :]
            elif name == "clamp_min":
                vals = np.maximum(args[0], v.vals)
            elif name == "clamp_max":
                vals = np.minimum(args[0], v.vals)
            else:
                to = args[0] if args else np.ones(n)
                inv = 1.0 / to
                vals = np.floor(v.vals * inv + 0.5) / inv
        return merge_rows([drop_name(l) for l in v.labels], vals, mask).nonempty()
    if name in SIMPLE:
        v = ev.eval(node.args[0], ts)
        with np.errstate(all="ignore"):
            vals = SIMPLE[name](v.vals)
        return merge_rows([drop_name(l) for l in v.labels], vals, v.mask)
    raise PromQLError(f"function {name} is not implemented")


def _sgn(x):
    return np.where(x > 0, 1.0, np.where(x < 0, -1.0, x))


SIMPLE = {
    "abs": np.abs, "ceil": np.ceil, "floor": np.floor, "exp": np.exp, "sqrt": np.sqrt,
    "ln": np.log, "log2": np.log2, "log10": np.log10, "sgn": _sgn,
    "acos": np.arccos, "acosh": np.arccosh, "asin": np.arcsin, "asinh": np.arcsinh,
    "atan": np.arctan, "atanh": np.arctanh, "cos": np.cos, "cosh": np.cosh, "sin": np.sin,
    "sinh": np.sinh, "tan": np.tan, "tanh": np.tanh, "deg": np.degrees, "rad": np.radians,
}


def _dt(vals):
    secs = np.where(np.isfinite(vals), vals, 0).astype(np.int64)
    return secs.astype("datetime64[s]")


def _year(v):
    return (_dt(v).astype("datetime64[Y]").astype(np.int64) + 1970).astype(float)


def _month(v):
    return (_dt(v).astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(float)


def _day_of_month(v):
    d = _dt(v)
    return ((d.astype("datetime64[D]") - d.astype("datetime64[M]")).astype(np.int64) + 1).astype(float)


def _day_of_year(v):
    d = _dt(v)
    return ((d.astype("datetime64[D]") - d.astype("datetime64[Y]")).astype(np.int64) + 1).astype(float)


def _day_of_week(v):
    days = _dt(v).astype("datetime64[D]").astype(np.int64)
    return ((days + 4) % 7).astype(float)


def _hour(v):
    d = _dt(v)
    return ((d - d.astype("datetime64[D]")).astype(np.int64) // 3600).astype(float)


def _minute(v):
    d = _dt(v)
    return ((d - d.astype("datetime64[D]")).astype(np.int64) // 60 % 60).astype(float)


def _days_in_month(v):
    m = _dt(v).astype("datetime64[M]")
    return ((m + 1).astype("datetime64[D]") - m.astype("datetime64[D]")).astype(np.int64).astype(float)


DATE_FUNCS = {"year": _year, "month": _month, "day_of_month": _day_of_month, "day_of_year": _day_of_year,
              "day_of_week": _day_of_week, "hour": _hour, "minute": _minute, "days_in_month": _days_in_month}


# --- range functions

def _gather(s: RangeSeries, lo, hi, fill=0.0):
    """Window matrix W[step, k] = v[lo + k] with mask k < hi - lo."""
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


def _rate_all(mat, windows, is_counter, is_rate):
    """rate/increase/delta of every series of ``mat`` at once: (results, ok), one row per
    series. The series' samples are concatenated and each series' windows shifted to its
    offset; a window never reaches into another series, and the counter drop at a boundary
    between two series is zeroed, so each row is what the series alone gives."""
    lengths = np.array([len(s.v) for s in mat.series], dtype=np.int64)
    if not lengths.any():
        shape = (len(mat.series), len(mat.ref))
        return np.zeros(shape), np.zeros(shape, dtype=bool)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    t = np.concatenate([s.t for s in mat.series])
    v = np.concatenate([s.v for s in mat.series]).astype(float, copy=False)
    lo = np.stack([w[0] for w in windows]) + starts[:, None]
    hi = np.stack([w[1] for w in windows]) + starts[:, None]
    return _rate(t, v, starts, lengths, lo, hi, mat.ref, mat.range, is_counter, is_rate)


def _rate(t, v, starts, lengths, lo, hi, ref, rng, is_counter, is_rate):
    """Prometheus's extrapolatedRate over series concatenated in ``t``/``v`` (series k at
    ``starts[k]``, ``lengths[k]`` samples), windows [lo, hi) per series row and step."""
    cnt = hi - lo
    ok = cnt >= 2
    li = np.where(ok, lo, 0)
    hi1 = np.where(ok, hi - 1, 0)
    first, last = v[li], v[hi1]
    tf, tl = t[li].astype(float), t[hi1].astype(float)
    result = last - first
    if is_counter and len(v) > 1:
        drops = np.zeros(len(v))
        drops[1:] = np.where(v[1:] < v[:-1], v[:-1], 0.0)
        drops[starts[lengths > 0]] = 0.0  # a series' first sample follows another series
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
            dz = sampled * (first / result)
            use = (result > 0) & (first >= 0) & (dz < dur_start)
            dur_start = np.where(use, dz, dur_start)
        thresh = avg_dur * 1.1
        ext = sampled + np.where(dur_start < thresh, dur_start, avg_dur / 2) + np.where(dur_end < thresh, dur_end, avg_dur / 2)
        factor = ext / sampled
        if is_rate:
            factor = factor / (rng / 1000)
        result = result * factor
    return result, ok


def _instant_rate(s, lo, hi, is_rate):
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


def _sum_ot(W, M):
    acc = np.zeros(W.shape[0])
    for k in range(W.shape[1]):
        acc = np.where(M[:, k], acc + W[:, k], acc)
    return acc


def _avg_ot(W, M):
    mean = np.zeros(W.shape[0])
    with np.errstate(all="ignore"):
        for k in range(W.shape[1]):
            v, m = W[:, k], M[:, k]
            count = k + 1.0
            mean_inf = np.isinf(mean)
            skip = mean_inf & ((np.isinf(v) & ((mean > 0) == (v > 0))) | (~np.isinf(v) & ~np.isnan(v)))
            upd = mean + (v / count - mean / count)
            mean = np.where(m & ~skip, upd, mean)
    return mean


def _minmax_ot(W, M, is_max):
    val = W[:, 0].copy()
    for k in range(1, W.shape[1]):
        v, m = W[:, k], M[:, k]
        better = (v > val) if is_max else (v < val)
        val = np.where(m & (better | np.isnan(val)), v, val)
    return val


def _stdvar_ot(W, M):
    mean = np.zeros(W.shape[0])
    aux = np.zeros(W.shape[0])
    with np.errstate(all="ignore"):
        for k in range(W.shape[1]):
            v, m = W[:, k], M[:, k]
            count = k + 1.0
            delta = v - mean
            nmean = mean + delta / count
            naux = aux + delta * (v - nmean)
            mean = np.where(m, nmean, mean)
            aux = np.where(m, naux, aux)
        return aux / np.maximum(M.sum(axis=1), 1)


def _linreg(s, lo, hi, W, M, intercept_t):
    """Least squares of value over (t - intercept_t) seconds in each window."""
    cnt = M.sum(axis=1).astype(float)
    _, _, idx = _gather(s, lo, hi)
    X = np.where(M, (s.t[np.minimum(idx, len(s.t) - 1)] - intercept_t[:, None]) / 1000.0, 0.0)
    Y = np.where(M, W, 0.0)
    with np.errstate(all="ignore"):
        sx = _sum_ot(X, M)
        sy = _sum_ot(Y, M)
        sxy = _sum_ot(X * Y, M)
        sx2 = _sum_ot(X * X, M)
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


def _holt_winters_exact(vals, sf, tf):
    """Prometheus 2.42 funcHoltWinters for one window."""
    l = len(vals)
    if l < 2:
        return None
    s0, s1 = 0.0, vals[0]
    b = vals[1] - vals[0]
    for i in range(1, l):
        x = sf * vals[i]
        if i == 1:
            trend = b
        else:
            trend = tf * (s1 - s0) + (1 - tf) * b
        b = trend
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


RANGE_FUNCS = {"rate", "increase", "delta", "irate", "idelta", "deriv", "changes", "resets",
               "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
               "last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time"}


def range_call(ev, node: A.Call, ts):
    name = node.func.name
    n = len(ts)
    mi = next(i for i, a in enumerate(node.func.arg_types) if a == A.MATRIX)
    other = {}
    for i, a in enumerate(node.args):
        if i != mi:
            other[i] = ev.eval(a, ts).vals
    mat: Matrix = ev.eval(node.args[mi], ts)
    arg = _unwrap(node.args[mi])
    if name == "predict_linear" and isinstance(arg, A.MatrixSelector) and (
            arg.vs.timestamp is not None or arg.vs.start_or_end) and len(ts) > 1:
        # Prometheus 2.42 evaluates this step-dependent function step by step over an "@"
        # selector rewritten as an offset, reusing the previous step's points: the window keeps
        # its end at the @ time while its start moves on with the steps (measured on 2.42)
        mat.start_shift = ts - ts[0]
    if name == "absent_over_time":
        present = np.zeros(n, dtype=bool)
        for s in mat.series:
            lo, hi = mat.windows(s)
            present |= hi > lo
        return _absent_result(node.args[0], ~present, n)
    if name == "holt_winters" and any((np.subtract(*mat.windows(s)[::-1]) > 0).any() for s in mat.series):
        # Prometheus checks the factors when the function runs, i.e. for a non-empty window
        sf, tf = other[1], other[2]
        bad = (sf <= 0) | (sf >= 1)
        if bad.any():
            raise PromQLError("invalid smoothing factor. Expected: 0 < sf < 1, got: %s" % _go_percent_f(sf[bad][0]))
        bad = (tf <= 0) | (tf >= 1)
        if bad.any():
            raise PromQLError("invalid trend factor. Expected: 0 < tf < 1, got: %s" % _go_percent_f(tf[bad][0]))
    windows = [mat.windows(s) for s in mat.series]
    rates = None
    if name in ("rate", "increase", "delta") and mat.series:
        rates = _rate_all(mat, windows, name != "delta", name == "rate")
    labels, vals, mask = [], [], []
    samples = 0
    for k, s in enumerate(mat.series):
        if k % 256 == 255:
            ev.ctx.check_deadline()
        lo, hi = windows[k]
        cnt = hi - lo
        present = cnt > 0
        if not present.any():
            continue
        samples = max(samples, int(cnt.max()))
        if rates is not None:
            res, ok = rates[0][k], rates[1][k]
        elif name in ("irate", "idelta"):
            res, ok = _instant_rate(s, lo, hi, name == "irate")
        elif name == "count_over_time":
            res, ok = cnt.astype(float), present
        elif name == "present_over_time":
            res, ok = np.ones(n), present
        elif name == "last_over_time":
            res, ok = s.v[np.maximum(hi - 1, 0)], present
        elif name in ("changes", "resets"):
            v = s.v
            if len(v) > 1:
                if name == "changes":
                    d = (v[1:] != v[:-1]) & ~(np.isnan(v[1:]) & np.isnan(v[:-1]))
                else:
                    d = v[1:] < v[:-1]
                c = np.concatenate([[0, 0], np.cumsum(d)])
            else:
                c = np.zeros(2)
            # pairs (i-1, i) with lo < i < hi
            hi1 = np.maximum(hi - 1, 0)
            res = (c[hi1 + 1] - c[np.minimum(lo, hi1) + 1]).astype(float)
            ok = present
        else:
            W, M, _ = _gather(s, lo, hi)
            ok = present
            if name == "sum_over_time":
                res = _sum_ot(W, M)
            elif name == "avg_over_time":
                res = _avg_ot(W, M)
            elif name == "max_over_time":
                res = _minmax_ot(W, M, True)
            elif name == "min_over_time":
                res = _minmax_ot(W, M, False)
            elif name in ("stddev_over_time", "stdvar_over_time"):
                res = _stdvar_ot(W, M)
                if name == "stddev_over_time":
                    res = np.sqrt(res)
            elif name == "quantile_over_time":
                q = other[0]
                res = np.full(n, np.nan)
                for j in np.nonzero(present)[0]:
                    res[j] = quantile_sorted(q[j], W[j][M[j]].tolist())
            elif name == "deriv":
                ok = cnt >= 2
                res, _ = _linreg(s, lo, hi, W, M, s.t[np.minimum(lo, len(s.t) - 1)])
            elif name == "predict_linear":
                ok = cnt >= 2
                slope, icept = _linreg(s, lo, hi, W, M, ts)
                res = slope * other[1] + icept
            elif name == "holt_winters":
                res = np.full(n, np.nan)
                ok = cnt >= 2
                for j in np.nonzero(ok)[0]:
                    res[j] = _holt_winters_exact(W[j][M[j]], other[1][j], other[2][j])
            else:
                raise PromQLError(f"function {name} is not implemented")
        if not ok.any():
            continue
        labels.append(s.labels if name == "last_over_time" else drop_name(s.labels))
        vals.append(res)
        mask.append(ok)
    if not labels:
        return Vector.empty(n)
    return merge_rows(labels, np.array(vals, dtype=float), np.array(mask))


def _go_percent_f(v) -> str:
    """Go's fmt %f."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return "%f" % v


def _absent_labels(arg) -> tuple:
    arg = _unwrap(arg)
    if isinstance(arg, A.MatrixSelector):
        arg = arg.vs
    if not isinstance(arg, A.VectorSelector):
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


def _absent_result(arg, absent_mask, n):
    if not absent_mask.any():
        return Vector.empty(n)
    return Vector([_absent_labels(arg)], np.ones((1, n)), absent_mask[None, :].copy())


def absent(ev, node, ts):
    v = ev.eval(node.args[0], ts)
    present = v.mask.any(axis=0) if len(v.labels) else np.zeros(len(ts), dtype=bool)
    return _absent_result(node.args[0], ~present, len(ts))


def _go_expand(template: str, m) -> str:
    """regexp.Regexp.ExpandString: $1, ${1}, $name, ${name}, $$."""
    out = []
    i = 0
    n = len(template)
    while i < n:
        c = template[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end > 0 else ""
            if end < 0 or not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                out.append(c)
                i += 1
                continue
            i = end + 1
        else:
            mm = re.match(r"[A-Za-z0-9_]+", template[i + 1:])
            if not mm:
                out.append(c)
                i += 1
                continue
            name = mm.group(0)
            i += 1 + len(name)
        if name.isdigit():
            g = int(name)
            if g <= m.re.groups:
                out.append(m.group(g) or "")
        else:
            try:
                out.append(m.group(name) or "")
            except IndexError:  # no such group: expands to nothing, as in Go
                pass
    return "".join(out)


def label_replace(ev, node, ts):
    v = ev.eval(node.args[0], ts)
    dst = ev.eval(node.args[1], ts).val
    repl = ev.eval(node.args[2], ts).val
    src = ev.eval(node.args[3], ts).val
    regex = ev.eval(node.args[4], ts).val
    try:
        rx = compile_anchored(regex)
    except RegexError:
        raise PromQLError(f"invalid regular expression in label_replace(): {regex}") from None
    if not _LABEL_NAME.match(dst):
        raise PromQLError(f"invalid destination label name in label_replace(): {dst}")
    out = []
    for l in v.labels:
        m = rx.fullmatch(labels_get(l, src))
        if m is None:
            out.append(l)
            continue
        res = _go_expand(repl, m)
        d = dict(l)
        if res == "":
            d.pop(dst, None)
        else:
            d[dst] = res
        out.append(tuple(sorted(d.items())))
    return merge_rows(out, v.vals, v.mask)


def label_join(ev, node, ts):
    v = ev.eval(node.args[0], ts)
    dst = ev.eval(node.args[1], ts).val
    sep = ev.eval(node.args[2], ts).val
    srcs = [ev.eval(a, ts).val for a in node.args[3:]]
    for s in srcs:
        if not _LABEL_NAME.match(s):
            raise PromQLError(f"invalid source label name in label_join(): {s}")
    if not _LABEL_NAME.match(dst):
        raise PromQLError(f"invalid destination label name in label_join(): {dst}")
    out = []
    for l in v.labels:
        val = sep.join(labels_get(l, s) for s in srcs)
        d = dict(l)
        if val == "":
            d.pop(dst, None)
        else:
            d[dst] = val
        out.append(tuple(sorted(d.items())))
    return merge_rows(out, v.vals, v.mask)


def _bucket_quantile(q, bounds, counts):
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


def histogram_quantile(ev, node, ts):
    q = ev.eval(node.args[0], ts).vals
    v = ev.eval(node.args[1], ts)
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


def _parse_go_float(s: str) -> float:
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
