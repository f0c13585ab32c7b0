"""The vectorised Sample decoder agrees with protobuf on every encoding, including odd ones."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from pyconnector.proto import prometheus_remote_pb2 as pb
from pyconnector.remote_write import BadRequest, decode_samples

SPECIAL_VALUES = [0.0, -0.0, float("inf"), float("-inf"), 5e-324, 1.7976931348623157e308,
                  struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0],  # stale marker
                  struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000123))[0]]  # NaN with a payload


def bits(values: np.ndarray) -> list[int]:
    return values.view(np.uint64).tolist()


def encoded(t: int, v: float) -> bytes:
    return pb.Sample(timestamp=t, value=v).SerializeToString()


def test_random_samples_decode_like_protobuf():
    rng = random.Random(42)
    samples = []
    for _ in range(5000):
        t = rng.choice([0, 1, 127, 128, rng.randrange(0, 1 << 20), rng.randrange(0, 1 << 43),
                        rng.randrange(-(1 << 40), 0)])
        v = rng.choice(SPECIAL_VALUES + [rng.uniform(-1e9, 1e9), float(rng.randrange(100))])
        samples.append((t, v))
    times, values = decode_samples([encoded(t, v) for t, v in samples])
    assert times.tolist() == [t for t, _ in samples]
    assert bits(values) == bits(np.array([v for _, v in samples]))


def test_fields_in_unusual_order_or_with_unknown_fields_fall_back_to_protobuf():
    timestamp_first = b"\x10" + bytes([0x96, 0x01]) + b"\x09" + struct.pack("<d", 2.5)
    unknown_field = encoded(1000, 1.5) + b"\x18\x07"  # field 3, varint 7
    repeated_value = b"\x09" + struct.pack("<d", 1.0) + b"\x09" + struct.pack("<d", 3.0) + b"\x10\x05"
    times, values = decode_samples([timestamp_first, unknown_field, repeated_value])
    assert times.tolist() == [150, 1000, 5]
    assert values.tolist() == [2.5, 1.5, 3.0]  # protobuf: the last value wins


def test_empty_sample_is_zero_at_epoch():
    times, values = decode_samples([b""])
    assert times.tolist() == [0] and values.tolist() == [0.0]


@pytest.mark.parametrize("blob", [
    b"\x09\x00\x00",                       # value cut short
    b"\x10\x80\x80",                       # varint that never ends
    b"\x10" + b"\xff" * 11,                # varint longer than 10 bytes
    b"\x0a\x05abc",                        # length-delimited field overrunning the message
])
def test_malformed_samples_are_bad_requests(blob):
    with pytest.raises(BadRequest, match="malformed protobuf Sample"):
        decode_samples([encoded(1, 1.0), blob])


def test_timestamps_outside_postgres_range_are_rejected_by_value():
    with pytest.raises(BadRequest, match=r"sample timestamp -9223372036854775808 ms is outside the storable range"):
        decode_samples([encoded(-(1 << 63), 1.0)])
