"""The connector's varints against the protobuf library's own encoding."""

from __future__ import annotations

import numpy as np
from google.protobuf.internal import decoder, encoder

from pyconnector.protowire import read_uvarint, uvarint, uvarints_at

VALUES = [0, 1, 127, 128, 300, 16383, 16384, 2**21, 2**28 - 1, 2**35 - 1, 2**63 - 1, 2**64 - 1]


def library_bytes(value: int) -> bytes:
    out = []
    encoder._VarintEncoder()(out.append, value, True)
    return b"".join(out)


def test_encoding_is_protobufs():
    for value in VALUES:
        assert uvarint(value) == library_bytes(value)
    assert uvarint(-1) == library_bytes(2**64 - 1)  # Go's uint64 of -1


def test_reading_one_and_many():
    small = [v for v in VALUES if v < 2**35]
    data = b"".join(uvarint(v) for v in small)
    at, starts = 0, []
    for value in small:
        starts.append(at)
        got, at = read_uvarint(data, at)
        assert got == value == decoder._DecodeVarint(data, starts[-1])[0]
    assert at == len(data)
    values, sizes, ok = uvarints_at(np.frombuffer(data + bytes(8), dtype=np.uint8), np.array(starts), 5)
    assert values.tolist() == small and ok.all()
    assert sizes.tolist() == [len(uvarint(v)) for v in small]


def test_too_long_or_truncated():
    assert read_uvarint(uvarint(2**35), 0) == (-1, 5)  # more than five bytes
    assert read_uvarint(b"\x80\x80", 0) == (-1, 2)  # runs past the end
    _, _, ok = uvarints_at(np.frombuffer(uvarint(2**35) + bytes(8), dtype=np.uint8), np.array([0]), 5)
    assert not ok[0]
