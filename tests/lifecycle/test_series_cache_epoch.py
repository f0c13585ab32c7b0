"""SeriesCache epochs: entries resolved under an old epoch never land in a newer cache."""

from __future__ import annotations

from pyconnector.prometheus.series_cache import SeriesCache


def test_epoch_guards_the_cache():
    cache = SeriesCache(100)
    assert cache.epoch is None
    assert cache.adopt_epoch(3) == 3
    assert cache.adopt_epoch(4) == 3  # another thread adopted first
    cache.store({b"a": 1}, 3)
    cache.invalidate(3)               # a write under epoch 3 was refused
    assert len(cache) == 0 and cache.epoch is None
    cache.invalidate(3)               # a second thread that saw the same refusal changes nothing
    assert cache.adopt_epoch(4) == 4
    cache.store({b"b": 2}, 3)         # resolved before the refusal: dropped
    cache.store({b"c": 3}, 4)
    assert cache.lookup([b"b", b"c"]) == [None, 3]
    cache.invalidate(3)               # stale refusal from before the restart: ignored
    assert cache.lookup([b"c"]) == [3]
