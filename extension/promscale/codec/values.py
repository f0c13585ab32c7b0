"""Values of one series: float8 → bytes, bit-exact (NaN payloads, stale markers, -0.0).

Two encodings; the encoder tries what applies and keeps the smaller:

* ``DECIMAL``: most scraped values are decimal numbers with few digits (byte
  counters, CPU seconds with two decimals, temperatures). Scaled by 10^k they
  are integers, stored as zigzagged deltas (or deltas-of-deltas for steady
  counters) in byte planes. A value that does not survive ``int / 10^k``
  bit-exactly (NaN, ±Inf, -0.0, stale markers, noise) is an *exception* kept
  as raw bits at its position.
* ``XOR``: each value's bits XOR the previous one's (Gorilla's idea), as eight
  byte planes. Always exact; used for noisy gauges.

``RAW`` (never chosen by ``encode_values``) is the bits after the mode as big-endian
uint64, PostgreSQL's binary form of float8 (``float8send``): what a flush of the head
writes, at no CPU cost (``raw_values``).
"""

from __future__ import annotations

import numpy as np

from ._bytes import (I64, U64, deflate, from_planes, get_varint, pack, put_varint, to_planes, unpack, width_of,
                     wrapping_cumsum, wrapping_diff, zigzag, unzigzag)

VERSION = 1
XOR, DECIMAL_DELTA, DECIMAL_DOD, RAW = 0, 1, 2, 3
_MAX_SCALE = 9
_EXACT_INT = float(1 << 53)
# beyond this share of exceptions the decimal form stops paying for itself
_MAX_EXCEPTION_SHARE = 0.25


def encode_values(values: np.ndarray) -> bytes:
    v = np.ascontiguousarray(values, dtype=np.float64)
    head = bytearray((VERSION,))
    put_varint(head, len(v))
    if len(v) == 0:
        return bytes(head)
    # candidates are (header, payload); compare them by their quick deflated size,
    # then compress only the winner thoroughly
    candidates = [_xor_payload(v)] + _decimal_payloads(v)
    header, payload = min(candidates, key=lambda c: len(c[0]) + len(deflate(c[1])))
    return bytes(head) + header + pack(payload)


def encode_values_raw(values: np.ndarray) -> bytes:
    """The ``RAW`` form of values, bit-exact."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(U64)
    return raw_values(bits.astype(">u8").tobytes(), len(bits))


def raw_values(big_endian: bytes, count: int) -> bytes:
    """The ``RAW`` form of ``count`` values given as concatenated ``float8send`` values
    (version, count, mode, the values as they are)."""
    out = bytearray((VERSION,))
    put_varint(out, count)
    out.append(RAW)
    out += big_endian
    return bytes(out)


def raw_values_payload(data: bytes) -> bytes | None:
    """The big-endian float8 bits of a ``RAW`` encoded row as they are, or None for the other
    modes (see timestamps.raw_times_payload)."""
    if not data or data[0] != VERSION:
        return None
    count, pos = get_varint(data, 1)
    if count == 0 or data[pos] != RAW:
        return None
    return data[pos + 1:pos + 1 + 8 * count]


def decode_values(data: bytes | memoryview) -> np.ndarray:
    buf = memoryview(data)
    if buf[0] != VERSION:
        raise ValueError(f"unknown value encoding version {buf[0]}")
    count, pos = get_varint(buf, 1)
    if count == 0:
        return np.empty(0, dtype=np.float64)
    mode = buf[pos]
    if mode == RAW:
        return np.frombuffer(buf, dtype=">u8", count=count, offset=pos + 1).astype(U64).view(np.float64)
    if mode == XOR:
        return _decode_xor(buf[pos + 1:], count)
    if mode in (DECIMAL_DELTA, DECIMAL_DOD):
        return _decode_decimal(buf[pos:], count)
    raise ValueError(f"unknown value encoding mode {mode}")


# --- XOR ---

def _xor_payload(v: np.ndarray) -> tuple[bytes, bytes]:
    bits = v.view(U64)
    xored = bits.copy()
    xored[1:] ^= bits[:-1]
    return bytes((XOR,)), to_planes(xored, 8)


def _decode_xor(buf: memoryview, count: int) -> np.ndarray:
    xored = from_planes(unpack(buf), count, 8)
    return np.bitwise_xor.accumulate(xored).view(np.float64)


# --- decimal ---

def _decimal_scale(v: np.ndarray) -> tuple[int, np.ndarray, np.ndarray] | None:
    """Smallest k such that few enough values miss ``rint(v·10^k) / 10^k == v``
    bit-exactly: (k, the integers, mask of exact positions)."""
    finite = np.isfinite(v)
    limit = max(1, int(len(v) * (1 - _MAX_EXCEPTION_SHARE)))
    if np.count_nonzero(finite) < limit:
        return None
    bits = v.view(U64)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(_MAX_SCALE + 1):
            factor = 10.0 ** k
            scaled = np.rint(v * factor)
            fits = finite & (np.abs(scaled) < _EXACT_INT)
            ints = np.where(fits, scaled, 0.0).astype(I64)
            # check the way the decoder rebuilds values (integer → float, so -0.0 is an exception)
            back = ints.astype(np.float64)
            if k:
                back /= factor
            exact = fits & (back.view(U64) == bits)
            if np.count_nonzero(exact) >= limit:
                return k, ints, exact
    return None


def _decimal_payloads(v: np.ndarray) -> list[tuple[bytes, bytes]]:
    found = _decimal_scale(v)
    if found is None:
        return []
    k, ints, exact = found
    exceptions = np.flatnonzero(~exact)
    if len(exceptions):
        # carry the previous exact integer over each exception so deltas stay small
        ints = np.where(exact, ints, 0)
        ints = ints[np.maximum.accumulate(np.where(exact, np.arange(len(v)), 0))]
    tail = bytearray()
    put_varint(tail, len(exceptions))
    side = b""
    if len(exceptions):
        gaps = np.diff(exceptions, prepend=0).astype(U64)
        gap_width = max(width_of(gaps), 1)
        side = bytes((gap_width,)) + to_planes(gaps, gap_width) + v.view(U64)[exceptions].astype("<u8").tobytes()
    deltas = wrapping_diff(ints)
    out = []
    for mode, stream in ((DECIMAL_DELTA, deltas), (DECIMAL_DOD, wrapping_diff(deltas))):
        z = zigzag(stream)
        width = width_of(z)
        header = bytearray((mode, k))
        put_varint(header, int(zigzag(ints[:1])[0]))
        if mode == DECIMAL_DOD:
            put_varint(header, int(zigzag(deltas[:1])[0]) if len(deltas) else 0)
        header += tail
        header.append(width)
        out.append((bytes(header), side + to_planes(z, width)))
    return out


def _decode_decimal(buf: memoryview, count: int) -> np.ndarray:
    mode, k = buf[0], buf[1]
    first, pos = get_varint(buf, 2)
    first = int(unzigzag(np.array([first], dtype=U64))[0])
    first_delta = 0
    if mode == DECIMAL_DOD:
        first_delta, pos = get_varint(buf, pos)
        first_delta = int(unzigzag(np.array([first_delta], dtype=U64))[0])
    n_exceptions, pos = get_varint(buf, pos)
    width = buf[pos]
    body = memoryview(unpack(buf[pos + 1:]))
    at = 0
    exceptions = bits = None
    if n_exceptions:
        gap_width = body[0]
        gaps = from_planes(body[1:], n_exceptions, gap_width)
        at = 1 + n_exceptions * gap_width
        exceptions = np.cumsum(gaps).astype(np.int64)
        bits = np.frombuffer(body, dtype="<u8", count=n_exceptions, offset=at)
        at += 8 * n_exceptions
    n_stream = count - 1 if mode == DECIMAL_DELTA else max(count - 2, 0)
    stream = unzigzag(from_planes(body[at:], n_stream, width)) if n_stream else np.empty(0, dtype=I64)
    if mode == DECIMAL_DOD:
        deltas = wrapping_cumsum(first_delta, stream) if count >= 2 else np.empty(0, dtype=I64)
    else:
        deltas = stream
    ints = wrapping_cumsum(first, deltas)
    values = ints.astype(np.float64)
    if k:
        values /= 10.0 ** k
    if n_exceptions:
        values.view(U64)[exceptions] = bits
    return values
