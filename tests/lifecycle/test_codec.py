"""Codec round-trips: random and adversarial series come back bit for bit."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from promscale.codec import (decode_times, decode_values, dedup_sorted, encode_times, encode_times_raw, encode_values,
                             encode_values_raw, raw_times, raw_values)

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
I64_MIN, I64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max


def from_bits(*bits: int) -> np.ndarray:
    return np.array(bits, dtype=np.uint64).view(np.float64)


def assert_values_roundtrip(values: np.ndarray) -> bytes:
    encoded = encode_values(values)
    decoded = decode_values(encoded)
    assert decoded.dtype == np.float64
    assert decoded.view(np.uint64).tolist() == np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
    return encoded


def assert_times_roundtrip(times: np.ndarray) -> bytes:
    encoded = encode_times(times)
    assert decode_times(encoded).tolist() == np.asarray(times, dtype=np.int64).tolist()
    return encoded


def scraped_times(rng: np.random.Generator, n: int, jitter_ms: int = 3) -> np.ndarray:
    return (np.int64(830_000_000_000_000) + np.arange(n, dtype=np.int64) * 15_000_000
            + rng.integers(-jitter_ms, jitter_ms + 1, n) * 1000)


@pytest.mark.parametrize("seed", range(20))
def test_random_series_roundtrip(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    kind = seed % 5
    if kind == 0:
        values = rng.normal(0, 1e6, n)
    elif kind == 1:
        values = np.round(np.cumsum(rng.uniform(0, 20, n)), 2)
    elif kind == 2:
        values = rng.integers(-2**60, 2**60, n).astype(np.float64)
    elif kind == 3:
        values = rng.integers(0, 2**64 - 1, n, dtype=np.uint64).view(np.float64)  # any bit pattern
    else:
        values = np.round(rng.normal(20, 3, n), 1)
        values[rng.random(n) < 0.05] = STALE
    assert_values_roundtrip(values)
    times = np.sort(rng.integers(-2**50, 2**50, n))
    assert_times_roundtrip(times)
    assert_times_roundtrip(scraped_times(rng, n))


def test_adversarial_values():
    special = from_bits(
        0x7FF0000000000002,  # stale marker (a signalling NaN pattern)
        0x7FF8000000000000,  # default quiet NaN
        0xFFF8000000000001,  # negative NaN with payload
        0x7FF0000000000001,
        0x7FFFFFFFFFFFFFFF,
        0x8000000000000000,  # -0.0
        0x0000000000000001,  # smallest subnormal
    )
    values = np.concatenate([special, [np.inf, -np.inf, 0.0, 1.5, -2.25, 1e308, -1e-308, 2.0**53, 2.0**53 + 2]])
    assert_values_roundtrip(values)
    assert_values_roundtrip(np.repeat(special, 7))
    # decimal-looking series with sparse exceptions in every position class
    base = np.round(np.linspace(0, 1000, 500), 3)
    for position in (0, 1, 250, 498, 499):
        spiked = base.copy()
        spiked[position] = STALE
        assert_values_roundtrip(spiked)
        spiked[position] = -0.0
        assert_values_roundtrip(spiked)


def test_single_and_empty():
    for value in (STALE, -0.0, np.inf, 42.0, 0.1):
        assert_values_roundtrip(np.array([value]))
    assert_values_roundtrip(np.array([], dtype=np.float64))
    for t in (0, -1, I64_MIN, I64_MAX, 830_000_000_000_123):
        assert_times_roundtrip(np.array([t], dtype=np.int64))
    assert_times_roundtrip(np.array([], dtype=np.int64))


def test_huge_deltas_and_out_of_order_times():
    assert_times_roundtrip(np.array([I64_MIN, I64_MAX, I64_MIN, 0, I64_MAX], dtype=np.int64))
    assert_times_roundtrip(np.array([5, 3, 9, -7, 100, 99], dtype=np.int64))
    assert_times_roundtrip(np.array([1000, 1000, 1000, 2000], dtype=np.int64))  # duplicates
    values = np.array([np.finfo(np.float64).max, -np.finfo(np.float64).max, 0.0, 2.0**62, -(2.0**62)])
    assert_values_roundtrip(values)


def test_scraped_data_is_small():
    """What compression is for: a scraped counter and a gauge under jitter stay near one byte a sample."""
    rng = np.random.default_rng(7)
    n = 960
    times = assert_times_roundtrip(scraped_times(rng, n))
    counter = assert_values_roundtrip(np.cumsum(rng.poisson(3, n)).astype(np.float64))
    constant = assert_values_roundtrip(np.full(n, 16_000_000_000.0))
    assert len(constant) < 20
    assert (len(times) + len(counter)) / n < 1.2


def test_dedup_keeps_the_value_sql_keeps():
    times = np.array([3, 1, 2, 2, 1, 3, 3], dtype=np.int64)
    values = np.array([np.nan, 5.0, 7.0, -1.0, 4.0, np.inf, 9.0])
    merged = dedup_sorted(times, values)
    assert merged.times.tolist() == [1, 2, 3]
    # ORDER BY value: smallest first, NaN after +Inf
    assert merged.values.tolist() == [4.0, -1.0, 9.0]


def test_corrupt_input_is_rejected():
    with pytest.raises(ValueError):
        decode_values(b"\x09\x01")
    with pytest.raises(ValueError):
        decode_times(b"\x07\x01")


def test_raw_form_is_postgres_send_format_and_round_trips():
    """RAW rows (what a flush writes): the values exactly as timestamptz_send / float8send give
    them, after a small header, and decoded like any other encoding."""
    rng = np.random.default_rng(3)
    times = scraped_times(rng, 300)
    values = np.concatenate([from_bits(0x7FF0000000000002, 0x8000000000000000, 0xFFF8000000000001),
                             [np.inf, -np.inf], rng.normal(0, 1, 295)])
    sent_times = times.astype(">i8").tobytes()                     # timestamptz_send, concatenated
    sent_values = values.view(np.uint64).astype(">u8").tobytes()   # float8send, concatenated
    assert raw_times(sent_times, len(times)) == encode_times_raw(times)
    assert raw_values(sent_values, len(values)) == encode_values_raw(values)
    assert decode_times(encode_times_raw(times)).tolist() == times.tolist()
    decoded = decode_values(encode_values_raw(values))
    assert decoded.view(np.uint64).tolist() == values.view(np.uint64).tolist()
    decoded[0] = 1.0  # writable, like every decoder's output
    for n in (0, 1, 127, 128, 20000):  # one- and multi-byte counts
        t = np.arange(n, dtype=np.int64) * 7 - 3
        assert decode_times(encode_times_raw(t)).tolist() == t.tolist()
        assert decode_values(encode_values_raw(t.astype(np.float64))).tolist() == t.astype(np.float64).tolist()
    # about 16 bytes a sample: a flush's rows are cheap to write, not small
    assert len(encode_times_raw(times)) + len(encode_values_raw(values)) < 16 * 300 + 8
