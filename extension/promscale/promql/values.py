"""Values the engine passes around, all evaluated over every step of a query at once.

A label set is a tuple of (name, value) pairs sorted by name, which orders like
Prometheus's labels.Compare.
"""

from __future__ import annotations

import numpy as np

from . import kernels

STALE_NAN_BITS = 0x7FF0000000000002


class PromQLError(Exception):
    """An evaluation error; ``error_type`` is the HTTP API errorType."""

    error_type = "execution"


class PromQLTimeout(PromQLError):
    error_type = "timeout"


def is_stale(vals: np.ndarray) -> np.ndarray:
    return vals.view(np.int64) == STALE_NAN_BITS


def drop_name(labels: tuple) -> tuple:
    if labels and labels[0][0] == "__name__":
        return labels[1:]
    return tuple(p for p in labels if p[0] != "__name__")


def labels_get(labels: tuple, name: str) -> str:
    for k, v in labels:
        if k == name:
            return v
    return ""


def labels_str(labels: tuple) -> str:
    from .gofmt import go_quote
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in labels) + "}"


class Vector:
    """An instant vector at every step: S series x N steps, with a presence mask."""

    __slots__ = ("labels", "vals", "mask", "times")

    def __init__(self, labels: list, vals: np.ndarray, mask: np.ndarray, times=None):
        self.labels = labels
        self.vals = vals
        self.mask = mask
        # per-sample timestamps (ms) for vector selector results, used by timestamp()
        self.times = times

    @staticmethod
    def empty(n: int) -> "Vector":
        return Vector([], np.zeros((0, n)), np.zeros((0, n), dtype=bool))

    def __len__(self):
        return len(self.labels)

    def nonempty(self) -> "Vector":
        keep = self.mask.any(axis=1)
        if keep.all():
            return self
        idx = np.nonzero(keep)[0]
        return Vector([self.labels[i] for i in idx], self.vals[idx], self.mask[idx],
                      None if self.times is None else self.times[idx])


class Scalar:
    __slots__ = ("vals",)

    def __init__(self, vals: np.ndarray):
        self.vals = vals


class String:
    __slots__ = ("val",)

    def __init__(self, val: str):
        self.val = val


class RangeSeries:
    """Samples of one series for a range vector: times (ms) and values, stale markers removed."""

    __slots__ = ("labels", "t", "v")

    def __init__(self, labels, t, v):
        self.labels = labels
        self.t = t
        self.v = v


class RollupRangeSeries(RangeSeries):
    """Pseudo-samples of a counter or gauge read from rollups (rollup/read.py): per point also
    its raw value and the raw samples up to it, so that rate's extrapolation is Prometheus's."""

    __slots__ = ("raw", "n")

    def __init__(self, labels, t, v, raw, n):
        super().__init__(labels, t, v)
        self.raw = raw
        self.n = n


class Matrix:
    """A range vector argument: series, and for each step its window [ref - range, ref]."""

    # no __slots__: flat() keeps its arrays in the instance's dict
    def __init__(self, series: list, ref: np.ndarray, rng: int):
        self.series = series
        self.ref = ref  # window end per step (ms)
        self.range = rng
        self.start_shift = None  # per step, moves the window start (see functions/trends.py, predict_linear)

    def windows(self, s: RangeSeries):
        start = self.ref - self.range
        if self.start_shift is not None:
            start = start + self.start_shift
        lo = np.searchsorted(s.t, start, "left")
        hi = np.searchsorted(s.t, self.ref, "right")
        return np.minimum(lo, hi), hi

    def flat(self, name: str) -> np.ndarray:
        """One attribute (t, v, raw, n) of every series laid end to end, made once."""
        key = "_flat_" + name
        hit = self.__dict__.get(key)
        if hit is None:
            hit = self.__dict__[key] = np.concatenate([getattr(s, name) for s in self.series])
        return hit

    def all_windows(self) -> list:
        """``windows`` of every series: (lo, hi) per series, rows of window_bounds's arrays when
        those exist."""
        bounds = self.window_bounds()
        if bounds is None:
            return [self.windows(s) for s in self.series]
        return list(zip(*bounds))

    def window_bounds(self):
        """``windows`` of every series as two arrays (series x steps), made once; None when they
        are cheaper per series (few series) or cannot be made at once (float times; keys that
        would leave int64). With the kernels (kernels.py), one forward walk per series; else two
        searches for all series: the series' times laid end to end, each series shifted past the
        previous one's (keys sorted as a whole), and each series' window bounds searched shifted
        alike. The same indices as ``windows``."""
        if "_bounds" in self.__dict__:
            return self._bounds
        self._bounds = self._window_bounds()
        return self._bounds

    def _window_bounds(self):
        series = self.series
        if len(series) < 16:
            return None
        start = self.ref - self.range
        if self.start_shift is not None:
            start = start + self.start_shift
        lengths = np.fromiter((len(s.t) for s in series), dtype=np.int64, count=len(series))
        t = self.flat("t")
        if not len(t) or t.dtype.kind != "i":
            return None
        offsets = np.cumsum(lengths) - lengths
        if kernels.loaded() and (np.diff(start) >= 0).all() and (np.diff(self.ref) >= 0).all():
            return kernels.window_bounds(t, offsets, lengths, start, self.ref)
        low = min(int(t.min()), int(start.min()))
        span = max(int(t.max()), int(self.ref.max())) - low + 1
        if span * len(series) >= 1 << 62:  # the shifted keys would leave int64
            return None
        shift = np.arange(len(series), dtype=np.int64) * span
        keys = (t - low) + np.repeat(shift, lengths)
        lo = np.searchsorted(keys, (start - low)[None, :] + shift[:, None], "left") - offsets[:, None]
        hi = np.searchsorted(keys, (self.ref - low)[None, :] + shift[:, None], "right") - offsets[:, None]
        return np.minimum(lo, hi), hi


def merge_rows(labels: list, vals: np.ndarray, mask: np.ndarray, check: bool = True) -> Vector:
    """Merge rows with equal label sets (present at different steps) into one series.

    Two rows present at the same step is Prometheus's duplicate-labelset error.
    """
    index: dict = {}
    dup = False
    for i, l in enumerate(labels):
        if l in index:
            dup = True
            index[l].append(i)
        else:
            index[l] = [i]
    if not dup:
        return Vector(labels, vals, mask)
    out_labels, out_vals, out_mask = [], [], []
    for l, rows in index.items():
        if len(rows) == 1:
            out_labels.append(l)
            out_vals.append(vals[rows[0]])
            out_mask.append(mask[rows[0]])
            continue
        m = mask[rows]
        if check and (m.sum(axis=0) > 1).any():
            raise PromQLError("vector cannot contain metrics with the same labelset")
        v = np.zeros(vals.shape[1])
        mm = np.zeros(vals.shape[1], dtype=bool)
        for r in rows:
            v = np.where(mask[r], vals[r], v)
            mm |= mask[r]
        out_labels.append(l)
        out_vals.append(v)
        out_mask.append(mm)
    n = vals.shape[1]
    return Vector(out_labels, np.array(out_vals).reshape(len(out_labels), n),
                  np.array(out_mask, dtype=bool).reshape(len(out_labels), n))
