"""Time arithmetic of compressed rows, in microseconds since 2000-01-01 (PostgreSQL's
binary timestamp epoch, what ``timestamptz_send`` produces).

A compressed row holds one series over one *bucket*: an interval-aligned span
(aligned to the Unix epoch, like head partitions, so buckets and partitions of
whole hours or days line up).
"""

from __future__ import annotations

import numpy as np

UNIX_EPOCH_US = 946_684_800_000_000  # 2000-01-01 minus 1970-01-01, in microseconds


def bucket_starts(times_us: np.ndarray, interval_us: int) -> np.ndarray:
    """Start of the bucket holding each time."""
    shifted = times_us + UNIX_EPOCH_US
    return shifted - shifted % interval_us - UNIX_EPOCH_US


def big_endian_times(raw: bytes) -> np.ndarray:
    """int64 microseconds from concatenated ``timestamptz_send`` values."""
    return np.frombuffer(raw, dtype=">i8").astype(np.int64)


def big_endian_values(raw: bytes) -> np.ndarray:
    """float64 from concatenated ``float8send`` values, bits untouched (no float conversion)."""
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).view(np.float64)
