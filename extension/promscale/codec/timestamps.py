"""Timestamps of one series: microseconds (int64) → bytes, delta-of-delta.

Layout: version, count, first time, then (count ≥ 2) the unit as a power of ten
of microseconds (Prometheus sends milliseconds: unit 10³), the first delta and
the zigzagged deltas-of-deltas as byte planes, compressed. Regular scrapes
make every delta-of-delta zero but for jitter, so the planes are mostly zeros.
Any int64 input round-trips, in any order: differences wrap like two's
complement and the wrapping sum undoes them.
"""

from __future__ import annotations

import numpy as np

from ._bytes import (I64, from_planes, get_varint, pack, put_varint, to_planes, unpack, unzz, width_of,
                     wrapping_cumsum, wrapping_diff, zigzag, unzigzag, zz)

VERSION = 1
_UNITS = (1_000_000, 100_000, 10_000, 1000, 100, 10, 1)


def _unit_of(deltas: np.ndarray) -> int:
    for unit in _UNITS:
        if not np.any(deltas % unit):
            return unit
    return 1


def encode_times(times_us: np.ndarray) -> bytes:
    t = np.ascontiguousarray(times_us, dtype=I64)
    out = bytearray((VERSION,))
    put_varint(out, len(t))
    if len(t) == 0:
        return bytes(out)
    put_varint(out, zz(int(t[0])))
    if len(t) == 1:
        return bytes(out)
    deltas = wrapping_diff(t)
    unit = _unit_of(deltas)
    scaled = deltas // unit if unit > 1 else deltas
    out.append(_UNITS.index(unit))
    put_varint(out, zz(int(scaled[0])))
    dod = zigzag(wrapping_diff(scaled))
    width = width_of(dod)
    out.append(width)
    if width:
        out += pack(to_planes(dod, width))
    return bytes(out)


def decode_times(data: bytes | memoryview) -> np.ndarray:
    buf = memoryview(data)
    if buf[0] != VERSION:
        raise ValueError(f"unknown timestamp encoding version {buf[0]}")
    count, pos = get_varint(buf, 1)
    if count == 0:
        return np.empty(0, dtype=I64)
    first, pos = get_varint(buf, pos)
    if count == 1:
        return np.array([unzz(first)], dtype=I64)
    unit = _UNITS[buf[pos]]
    first_delta, pos = get_varint(buf, pos + 1)
    width = buf[pos]
    pos += 1
    if width:
        dod = unzigzag(from_planes(unpack(buf[pos:]), count - 2, width))
    else:
        dod = np.zeros(count - 2, dtype=I64)
    scaled = wrapping_cumsum(unzz(first_delta), dod)
    deltas = scaled * unit if unit > 1 else scaled
    return wrapping_cumsum(unzz(first), deltas)
