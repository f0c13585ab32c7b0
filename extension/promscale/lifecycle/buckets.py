"""Time arithmetic of compressed rows, in microseconds since 2000-01-01 (PostgreSQL's
binary timestamp epoch, what ``timestamptz_send`` produces).

A compressed row holds one series over one *bucket*: an interval-aligned span
(aligned to the Unix epoch, like head partitions, so buckets and partitions of
whole hours or days line up).
"""

from __future__ import annotations

import numpy as np

from ..codec import SampleArrays

UNIX_EPOCH_US = 946_684_800_000_000  # 2000-01-01 minus 1970-01-01, in microseconds


def bucket_starts(times_us: np.ndarray, interval_us: int) -> np.ndarray:
    """Start of the bucket holding each time."""
    shifted = times_us + UNIX_EPOCH_US
    return shifted - shifted % interval_us - UNIX_EPOCH_US


def bucket_of(time_us: int, interval_us: int) -> int:
    """bucket_starts for one time, in Python ints (a NumPy call per series costs more)."""
    shifted = time_us + UNIX_EPOCH_US
    return shifted - shifted % interval_us - UNIX_EPOCH_US


def split_by_bucket(samples: SampleArrays, interval_us: int) -> list[tuple[int, SampleArrays]]:
    """(bucket start, samples in it) for each bucket that time-ordered samples touch."""
    first = bucket_of(int(samples.times[0]), interval_us)
    if bucket_of(int(samples.times[-1]), interval_us) == first:
        return [(first, samples)]
    buckets = bucket_starts(samples.times, interval_us)
    cuts = np.flatnonzero(buckets[1:] != buckets[:-1]) + 1
    bounds = [0, *cuts.tolist(), len(buckets)]
    return [(int(buckets[lo]), SampleArrays(samples.times[lo:hi], samples.values[lo:hi]))
            for lo, hi in zip(bounds[:-1], bounds[1:])]


def big_endian_times(raw: bytes) -> np.ndarray:
    """int64 microseconds from concatenated ``timestamptz_send`` values."""
    return np.frombuffer(raw, dtype=">i8").astype(np.int64)


def big_endian_values(raw: bytes) -> np.ndarray:
    """float64 from concatenated ``float8send`` values, bits untouched (no float conversion)."""
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).view(np.float64)
