"""The XOR chunk encoder against an independent decoder written here from the format
description (Prometheus tsdb/chunkenc/xor.go): bit stream, delta-of-delta buckets,
XOR value windows."""

from __future__ import annotations

import math
import random
import struct

import pytest

from pyconnector.prometheus.remote_read import crc32c, frame
from pyconnector.prometheus.xor_chunk import encode
from support.xor_decode import decode


def bits(v: float) -> int:
    return struct.unpack(">Q", struct.pack(">d", v))[0]


def roundtrip(times, values):
    assert decode(encode(times, values)) == [(t, bits(v)) for t, v in zip(times, values)]


def test_regular_scrape():
    roundtrip([1_700_000_000_000 + 15_000 * i for i in range(120)], [float(i % 7) for i in range(120)])


def test_every_delta_of_delta_bucket_and_negative_times():
    times = [-5000, -4000, -3000, -3000 + 8000, 10_000 + 70_000, 200_000, 200_001, 10**13, 10**13 + 1, 2**40]
    roundtrip(times, [1.0] * len(times))


def test_special_values_bit_exact():
    stale = struct.unpack(">d", struct.pack(">Q", 0x7FF0000000000002))[0]
    values = [0.0, -0.0, math.inf, -math.inf, stale, float("nan"), 5e-324, 1.7976931348623157e308, 0.1, 0.1, 1e-300]
    roundtrip(list(range(0, len(values) * 1000, 1000)), values)


@pytest.mark.parametrize("seed", range(5))
def test_random_series(seed):
    rnd = random.Random(seed)
    times, t = [], rnd.randint(-10**12, 10**12)
    for _ in range(rnd.randint(1, 300)):
        times.append(t)
        t += rnd.choice([15_000, 15_000, 14_999, 1, rnd.randint(1, 10**9)])
    values = [rnd.choice([rnd.random() * 100, round(rnd.random() * 10), 42.0, -rnd.random() * 1e10]) for _ in times]
    roundtrip(times, values)


def test_empty_and_single_sample():
    assert encode([], []) == b"\x00\x00"
    roundtrip([123], [4.5])


def test_frame_layout_uses_crc32_castagnoli():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    message = b"x" * 300
    framed = frame(message)
    assert framed[:2] == bytes([0xAC, 0x02])  # uvarint(300)
    assert framed[2:6] == struct.pack(">I", crc32c(message))
    assert framed[6:] == message


def test_pure_python_crc32c_fallback(monkeypatch):
    from pyconnector.prometheus import remote_read

    data = bytes(range(256)) * 3
    fast = remote_read.crc32c(data)
    monkeypatch.setattr(remote_read, "_crc32c_fast", None)
    assert remote_read.crc32c(b"123456789") == 0xE3069283
    assert remote_read.crc32c(data) == fast
