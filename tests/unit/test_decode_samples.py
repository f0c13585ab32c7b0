"""The vectorised Sample decoder agrees with protobuf on every encoding, including odd ones."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb
from pyconnector.prometheus.remote_write import BadRequest, decode_samples

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


# --- whole requests: the NumPy walk and protobuf's parse agree ---

from pyconnector.prometheus.remote_write import decode_request, split_request, parse_write_request, walk_series  # noqa: E402
from pyconnector.prometheus.proto import remote_write_blobs_pb2 as blobs_pb  # noqa: E402


def random_request(rng: random.Random) -> pb.WriteRequest:
    req = pb.WriteRequest()
    for s in range(rng.randrange(0, 40)):
        ts = req.timeseries.add()
        ts.labels.add(name="__name__", value=rng.choice(["up", "node_load1", "x" * 300]))
        for k in range(rng.randrange(0, 6)):
            ts.labels.add(name=f"l{k}", value=rng.choice(["", "a", "é" * rng.randrange(1, 100)]))
        for _ in range(rng.randrange(0, 4)):
            ts.samples.add(timestamp=rng.randrange(0, 1 << 42), value=rng.choice(SPECIAL_VALUES + [rng.random()]))
    if rng.random() < 0.3:
        req.metadata.add(metric_family_name="up", type=pb.MetricMetadata.GAUGE, help="h", unit="")
    return req


def assert_same(a, b):
    assert a.keys == b.keys and a.sample_counts == b.sample_counts
    assert a.times_ms.tolist() == b.times_ms.tolist()
    assert bits(a.values) == bits(b.values)
    assert a.metadata == b.metadata


def test_walk_agrees_with_protobuf_on_random_requests():
    rng = random.Random(7)
    walked = 0
    for _ in range(300):
        data = random_request(rng).SerializeToString()
        walked += walk_series(list(blobs_pb.WriteRequestBlobs.FromString(data).timeseries)) is not None
        assert_same(decode_request(data), split_request(parse_write_request(data)))
    assert walked == 300  # every encoder-standard request takes the fast path


def test_labels_after_samples_take_the_protobuf_path_with_the_same_keys():
    label = pb.Label(name="__name__", value="up").SerializeToString()
    sample = encoded(1000, 1.0)
    series = b"\x12" + bytes([len(sample)]) + sample + b"\x0a" + bytes([len(label)]) + label
    data = b"\x0a" + bytes([len(series)]) + series
    assert walk_series([series]) is None
    standard = pb.WriteRequest()
    standard.timeseries.add(labels=[pb.Label(name="__name__", value="up")], samples=[pb.Sample(timestamp=1000, value=1.0)])
    assert_same(decode_request(data), decode_request(standard.SerializeToString()))


@pytest.mark.parametrize("data", [b"\x0a\x05\x0a\x09", b"\x0a\x03\x0a\x80\x80", b"\xff\xff"])
def test_malformed_requests_are_bad_requests(data):
    with pytest.raises(BadRequest, match="malformed"):
        decode_request(data)


def test_corrupted_requests_decode_like_protobuf_or_fail_cleanly():
    """Flipped bytes: the fast path and protobuf's parse give the same answer, or both a BadRequest."""
    rng = random.Random(11)
    for _ in range(2000):
        data = bytearray(random_request(rng).SerializeToString())
        if not data:
            continue
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data)
        try:
            expected = split_request(parse_write_request(data))
        except BadRequest:
            with pytest.raises(BadRequest):
                decode_request(data)
            continue
        assert_same(decode_request(data), expected)
