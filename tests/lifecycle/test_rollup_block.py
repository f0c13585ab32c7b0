"""The rollup block codec (extension/promscale/rollup/block.py): every column of a row's windows
round-trips bit for bit, whatever the values, and scraped counters take few bytes."""

from __future__ import annotations

import numpy as np
import pytest

from promscale.rollup.block import COLUMNS, decode_block, decode_blocks, encode_block
from promscale.rollup.windows import compute_windows

HOUR_US = 3_600_000_000


def windows_of(times_us: np.ndarray, values: np.ndarray, resolution_us: int = HOUR_US) -> dict:
    with np.errstate(over="ignore"):  # sums of huge values overflow to inf, as they may
        w = compute_windows(np.zeros(len(times_us), dtype=np.int64), times_us, values, resolution_us)
    return {c: getattr(w, c) for c in COLUMNS}


def assert_roundtrip(w: dict) -> bytes:
    block = encode_block(w)
    back = decode_block(block)
    for c in COLUMNS:
        want = np.asarray(w[c])
        assert back[c].dtype == want.dtype, c
        assert np.array_equal(back[c].view(np.int64), want.view(np.int64)), c
    # any subset decodes the same
    for c in COLUMNS:
        assert np.array_equal(decode_block(block, (c,))[c].view(np.int64), np.asarray(w[c]).view(np.int64)), c
    return block


def scraped(rng, hours: int, scrape_ms: int = 15_000, jitter_ms: int = 2):
    n = hours * 3_600_000 // scrape_ms
    t_ms = 1_800_000_000_000 + scrape_ms // 2 + np.arange(n) * scrape_ms + rng.integers(-jitter_ms, jitter_ms + 1, n)
    return (t_ms - 946_684_800_000) * 1000, n


@pytest.mark.parametrize("seed", range(8))
def test_counters_gauges_and_noise_round_trip(seed):
    rng = np.random.default_rng(seed)
    t, n = scraped(rng, 200)
    counter = np.cumsum(rng.poisson(40, n)).astype(float)
    counter[n // 3:] -= counter[n // 3] - 5  # a reset
    gauges = [counter, np.round(rng.normal(50, 10, n), 2), rng.normal(0, 1e9, n), rng.random(n) * 1e-7,
              np.round(rng.normal(0, 3, n), 1) * 1e20]
    for values in gauges:
        assert_roundtrip(windows_of(t, values))
        assert_roundtrip(windows_of(t, values, 300_000_000))


def test_adversarial_values_gaps_and_single_samples():
    rng = np.random.default_rng(1)
    t, n = scraped(rng, 50)
    keep = np.ones(n, dtype=bool)
    keep[100:700] = False  # hours without samples
    keep[::97] = False
    t = t[keep]
    values = rng.poisson(3, len(t)).astype(float)
    for special in (np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308, np.float64(2**60)):
        v = values.copy()
        v[::13] = special
        assert_roundtrip(windows_of(t, v))
    one = windows_of(t[:1], values[:1])
    assert_roundtrip(one)
    # irregular times in µs, huge deltas
    t2 = np.sort(rng.integers(-2**61, 2**61, 300))
    t2 = t2[np.r_[True, np.diff(t2) > 0]]
    assert_roundtrip(windows_of(t2, rng.normal(size=len(t2)), 7))


def test_scraped_counters_take_a_few_bytes_per_hour():
    rng = np.random.default_rng(2)
    t, n = scraped(rng, 720)
    counter = 1000 + np.cumsum(rng.poisson(30 * 15, n)).astype(float)
    block = assert_roundtrip(windows_of(t, counter))
    # stored column by column the rollups took ~11.8 bytes per window (docs/performance.md)
    assert len(block) / 720 < 6


def test_many_blocks_decode_together_as_each_alone():
    rng = np.random.default_rng(3)
    blocks, wanted = [], []
    for i in range(40):
        t, n = scraped(rng, 24 + (i % 3) * 10)
        values = np.cumsum(rng.poisson(1 + i % 4, n)).astype(float) / (1 if i % 5 else 10)
        w = windows_of(t, values)
        blocks.append(encode_block(w))
        wanted.append(w)
    names = ("ends", "last_times", "sums", "increases")
    for w, got in zip(wanted, decode_blocks(blocks, names)):
        assert sorted(got) == sorted(names)
        for c in names:
            assert np.array_equal(got[c].view(np.int64), np.asarray(w[c]).view(np.int64)), c


def test_the_decoded_rows_cache_keeps_the_newest_within_its_bound():
    from promscale.rollup.read import _DecodedCache

    cache = _DecodedCache(limit=10_000)
    row = {"ends": np.zeros(100, dtype=np.int64)}  # 800 bytes, and the key's block
    for i in range(30):
        cache.put((("ends",), bytes([i]) * 200), row)
        assert cache.bytes <= 10_000
    assert cache.get((("ends",), bytes([29]) * 200)) is row
    assert cache.get((("ends",), bytes([0]) * 200)) is None  # the oldest went first
    assert len(cache.rows) == 10_000 // 1000
    cache.put((("ends",), b"x"), {"ends": np.zeros(2000)})  # larger than the bound: not kept
    assert cache.get((("ends",), b"x")) is None
