"""The pieces that let new series be created with their activity bounds: the unions per label
taken in PL/Python (extension/promscale/catalog/series.py), the time range of each new series
in a request (pyconnector/ingest.py) and binary timestamptz arrays with NULLs (pgbinary)."""

from __future__ import annotations

import struct

import numpy as np

from promscale.catalog.series import _union_by
from pyconnector.prometheus.activity import Marks
from pyconnector.prometheus.ingest import _times_of
from pyconnector.pgbinary import PG_EPOCH_UNIX_MS, TimestamptzArray


def test_union_by_groups_on_every_key_part():
    metric = np.array([2, 1, 2, 1, 2])
    label = np.array([7, 7, 7, 8, 9])
    lo = np.array([5.0, 1.0, 3.0, 4.0, 6.0])
    hi = np.array([6.0, 2.0, 9.0, 4.5, 6.0])
    (m, l), lo_u, hi_u = _union_by((metric, label), lo, hi)
    assert list(zip(m.tolist(), l.tolist(), lo_u.tolist(), hi_u.tolist())) == [
        (1, 7, 1.0, 2.0), (1, 8, 4.0, 4.5), (2, 7, 3.0, 9.0), (2, 9, 6.0, 6.0)]


def test_union_by_of_nothing_is_nothing():
    (k,), lo, hi = _union_by((np.array([], dtype=np.int64),), np.array([]), np.array([]))
    assert len(k) == len(lo) == len(hi) == 0


def elements(array: TimestamptzArray) -> list[int | None]:
    """The Unix ms of each element of a one-dimensional binary timestamptz array (None for NULL)."""
    ndim, has_nulls, _oid, n, _lower = struct.unpack_from(">iiIii", array.data)
    out, offset = [], 20
    for _ in range(n):
        (length,) = struct.unpack_from(">i", array.data, offset)
        offset += 4
        if length == -1:
            out.append(None)
            continue
        (micros,) = struct.unpack_from(">q", array.data, offset)
        offset += length
        out.append(micros // 1000 + PG_EPOCH_UNIX_MS)
    assert ndim == 1 and has_nulls == (None in out) and offset == len(array.data)
    return out


def test_times_of_new_series_take_the_union_of_repeated_keys_and_null_without_samples():
    keys = ["a", "b", "a", "c", "d"]
    ids = [None, 11, None, None, None]  # "b" is known
    ranges = Marks(np.array([0, 1, 2, 4]), np.array([100, 50, 40, 7]), np.array([200, 60, 150, 9]))  # "c": no samples
    first, last = _times_of(["a", "c", "d"], keys, ids, ranges)
    assert elements(first) == [40, None, 7]
    assert elements(last) == [200, None, 9]
    assert _times_of(["a"], keys, ids, None) == (None, None)


def test_a_timestamptz_array_without_nulls_says_so():
    array = TimestamptzArray.from_unix_ms(np.array([1, 2]), np.array([False, False]))
    assert elements(array) == [1, 2] and array.data == TimestamptzArray.from_unix_ms(np.array([1, 2])).data
