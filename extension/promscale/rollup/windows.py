"""Per-window aggregates of raw samples, for many series at once.

Window w of resolution R covers the samples with end(w) - R < t <= end(w): left-open like a
PromQL range ``[R]`` evaluated at end(w), so an aligned range made of whole windows sees
exactly the samples the windows hold. Stale markers are left out, as PromQL leaves them out
of range vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STALE_NAN_BITS = 0x7FF0000000000002
AGGREGATES = ("counts", "sums", "mins", "maxs", "firsts", "lasts", "increases")


@dataclass
class Windows:
    """Flat per-window arrays, ordered by (series id, window end); times in µs."""
    series_ids: np.ndarray
    ends: np.ndarray
    first_times: np.ndarray
    last_times: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    firsts: np.ndarray
    lasts: np.ndarray
    increases: np.ndarray

    def __len__(self) -> int:
        return len(self.ends)

    def take(self, index) -> "Windows":
        return Windows(*(getattr(self, f)[index] for f in FIELDS))

    @staticmethod
    def concat(parts: list["Windows"]) -> "Windows":
        """The windows of all parts, one after the other (no reordering)."""
        return Windows(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))


FIELDS = ("series_ids", "ends", "first_times", "last_times") + AGGREGATES


def window_ends(times: np.ndarray, resolution_us: int) -> np.ndarray:
    """The end of the window holding each time: the smallest multiple of the resolution >= t."""
    return -((-times) // resolution_us) * resolution_us


def compute_windows(ids: np.ndarray, times: np.ndarray, values: np.ndarray, resolution_us: int) -> Windows:
    """Aggregates per (series, window) of samples ordered by (series id, time), one per time."""
    keep = values.view(np.int64) != STALE_NAN_BITS
    if not keep.all():
        ids, times, values = ids[keep], times[keep], values[keep]
    if not len(ids):
        z = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=np.float64)
        return Windows(z, z, z, z, f, f, f, f, f, f, f)
    ends = window_ends(times, resolution_us)
    starts = np.flatnonzero(np.r_[True, (ids[1:] != ids[:-1]) | (ends[1:] != ends[:-1])])
    last = np.r_[starts[1:], len(ids)] - 1
    counts = np.diff(np.r_[starts, len(ids)]).astype(np.float64)
    # PromQL's increase: a rise adds the difference, a drop (a counter reset) adds the new value
    step = np.zeros(len(values), dtype=np.float64)
    prev, cur = values[:-1], values[1:]
    step[1:] = np.where(cur < prev, cur, cur - prev)
    step[starts] = 0.0
    with np.errstate(invalid="ignore"):
        return Windows(
            series_ids=ids[starts], ends=ends[starts], first_times=times[starts], last_times=times[last],
            counts=counts, sums=np.add.reduceat(values, starts), mins=np.fmin.reduceat(values, starts),
            maxs=np.fmax.reduceat(values, starts), firsts=values[starts], lasts=values[last],
            increases=np.add.reduceat(step, starts))
