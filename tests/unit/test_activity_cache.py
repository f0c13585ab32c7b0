"""pyconnector/activity.py: which series of a request need their activity bounds widened."""

from __future__ import annotations

import numpy as np
import pytest

from pyconnector.prometheus.activity import ActivityCache, Marks, time_ranges


def marks(ids, lo, hi=None) -> Marks:
    return Marks(np.array(ids, dtype=np.int64), np.array(lo, dtype=np.int64),
                 np.array(lo if hi is None else hi, dtype=np.int64))


def due_ids(cache: ActivityCache, m: Marks) -> list[int]:
    due = cache.due(m)
    return [] if due is None else due.series_ids.tolist()


def test_time_ranges_per_series():
    ids = np.array([7, 8, 9, 10], dtype=np.int64)
    got = time_ranges(ids, np.array([2, 0, 3, 1]), np.array([50, 40, 5, 9, 7, 60], dtype=np.int64))
    assert (got.series_ids.tolist(), got.min_ms.tolist(), got.max_ms.tolist()) == ([7, 9, 10], [40, 5, 60],
                                                                                  [50, 9, 60])
    one_each = time_ranges(ids, np.ones(4, dtype=np.int64), np.array([1, 2, 3, 4], dtype=np.int64))
    assert one_each.min_ms.tolist() == one_each.max_ms.tolist() == [1, 2, 3, 4]


def test_unknown_series_are_due_known_ones_only_outside_their_bounds():
    cache = ActivityCache(100)
    assert due_ids(cache, marks([1, 2], [10, 10])) == [1, 2]
    cache.store(np.array([1, 2]), np.array([0, 5]), np.array([100, 50]))
    assert due_ids(cache, marks([1, 2, 3], [10, 10, 10])) == [3]
    assert due_ids(cache, marks([1, 2], [0, 4], [100, 50])) == [2]  # below first_seen: a backfill
    assert due_ids(cache, marks([1, 2], [50, 50], [101, 50])) == [1]
    due = cache.due(marks([2, 1], [60, 1], [70, 2]))
    assert (due.series_ids.tolist(), due.min_ms.tolist(), due.max_ms.tolist()) == ([2], [60], [70])


def test_bounds_only_widen_and_survive_merges():
    cache = ActivityCache(1_000_000)
    ids = np.arange(1, 20_001, dtype=np.int64)
    for chunk in np.array_split(np.random.default_rng(1).permutation(ids), 20):  # merges the small part into the large
        cache.store(chunk, chunk * 10, chunk * 10 + 5)
    assert len(cache) == 20_000
    assert due_ids(cache, marks(ids, ids * 10, ids * 10 + 5)) == []
    cache.store(np.array([5, 5]), np.array([49, 60]), np.array([40, 51]))  # narrower than known: ignored
    assert due_ids(cache, marks([5], [49], [55])) == []
    assert due_ids(cache, marks([5], [48], [55])) == [5]


def test_over_the_limit_the_longest_idle_series_are_forgotten():
    cache = ActivityCache(10_000)
    ids = np.arange(1, 12_001, dtype=np.int64)
    for chunk in np.array_split(ids, 12):
        cache.store(chunk, np.zeros(len(chunk), dtype=np.int64), chunk)  # higher ids active more recently
    assert len(cache) <= 10_000
    assert due_ids(cache, marks(ids[-100:], np.ones(100, dtype=np.int64))) == []
    assert len(due_ids(cache, marks(ids[:1000], np.ones(1000, dtype=np.int64)))) > 0


def test_clear_and_size_check():
    cache = ActivityCache(5)
    cache.store(np.array([1]), np.array([0]), np.array([9]))
    cache.clear()
    assert len(cache) == 0 and due_ids(cache, marks([1], [1])) == [1]
    with pytest.raises(ValueError):
        ActivityCache(0)
