"""Samples of one series as parallel arrays, merged and deduplicated like SQL reads them.

The read path picks, among samples of a series at the same time, the one that
sorts first by value in PostgreSQL's float8 order (NaN after +Inf, all NaNs
equal). Compression must pick the same one, or a query would change its answer
when its data is compressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SampleArrays:
    times: np.ndarray   # int64 microseconds since 2000-01-01 (PostgreSQL's epoch)
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.times)


def dedup_sorted(times: np.ndarray, values: np.ndarray) -> SampleArrays:
    """Time-ordered samples without duplicate times, keeping the first in PostgreSQL value order."""
    times = np.asarray(times, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if len(times) > 1:
        nan = np.isnan(values)
        order = np.lexsort((np.where(nan, 0.0, values), nan, times))
        times = times[order]
        values = values[order]
        keep = np.empty(len(times), dtype=bool)
        keep[0] = True
        np.not_equal(times[1:], times[:-1], out=keep[1:])
        if not keep.all():
            times = times[keep]
            values = values[keep]
    return SampleArrays(times, values)


def merge_samples(parts: list[SampleArrays]) -> SampleArrays:
    """One time-ordered, deduplicated series from several (possibly overlapping) parts."""
    if len(parts) == 1:
        return dedup_sorted(parts[0].times, parts[0].values)
    return dedup_sorted(np.concatenate([p.times for p in parts]), np.concatenate([p.values for p in parts]))
