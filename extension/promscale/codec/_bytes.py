"""Byte-level building blocks shared by the codecs.

Integers are stored as *byte planes*: the zigzagged values are cut to the
narrowest width that holds them and written plane by plane (all low bytes,
then all next bytes...). Small deltas then become long runs of equal bytes that
a general-purpose compressor squeezes well; the planes cost no per-value branching.
"""

from __future__ import annotations

import lzma
import zlib

import numpy as np

U64 = np.dtype("<u8")
I64 = np.dtype("<i8")

# compressor tags (first byte of a packed block)
RAW, DEFLATE, LZMA = 0, 1, 2
# raw streams: no container headers or checksums; rows are small, every byte counts
# (a small dictionary and hash-chain match finder keep lzma's per-call set-up cheap)
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 12, "mf": lzma.MF_HC3,
                  "lc": 0, "lp": 0, "pb": 0}]


def zigzag(x: np.ndarray) -> np.ndarray:
    """int64 → uint64 with small magnitudes first (0, -1, 1, -2, ...)."""
    x = x.astype(I64, copy=False)
    return ((x << 1) ^ (x >> 63)).view(U64)


def unzigzag(z: np.ndarray) -> np.ndarray:
    z = z.astype(U64, copy=False)
    return ((z >> np.uint64(1)).view(I64)) ^ (-(z & np.uint64(1)).view(I64))


def wrapping_diff(x: np.ndarray) -> np.ndarray:
    """np.diff in two's-complement arithmetic: exact for any int64 input, and
    undone by a wrapping cumsum even where the true difference overflows."""
    u = x.view(U64)
    return (u[1:] - u[:-1]).view(I64)


def wrapping_cumsum(first: int, deltas: np.ndarray) -> np.ndarray:
    out = np.empty(len(deltas) + 1, dtype=U64)
    out[0] = np.uint64(first & 0xFFFFFFFFFFFFFFFF)
    if len(deltas):
        # unsigned array arithmetic wraps silently (NumPy warns only for scalars), so no
        # np.errstate here: entering one costs more than this cumsum on a row's times
        np.cumsum(deltas.view(U64), out=out[1:])
        out[1:] += out[0]
    return out.view(I64)


def width_of(z: np.ndarray) -> int:
    """Bytes per value needed for unsigned ``z``: 0 when all are zero."""
    if not len(z):
        return 0
    top = int(z.max())
    if top == 0:
        return 0
    for width in (1, 2, 4):
        if top < 1 << (8 * width):
            return width
    return 8


def to_planes(z: np.ndarray, width: int) -> bytes:
    if width == 0:
        return b""
    narrow = z.astype(np.dtype(f"<u{width}"))
    return narrow.view(np.uint8).reshape(-1, width).T.tobytes()


def from_planes(buf: bytes | memoryview, count: int, width: int) -> np.ndarray:
    if width == 0:
        return np.zeros(count, dtype=U64)
    planes = np.frombuffer(buf, dtype=np.uint8, count=count * width).reshape(width, count)
    return np.ascontiguousarray(planes.T).view(np.dtype(f"<u{width}")).reshape(count).astype(U64)


def put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("varint must be non-negative")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def get_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("corrupt varint")


def zz(value: int) -> int:
    """Zigzag of one Python int in the int64 range."""
    return (value << 1) ^ (value >> 63) if value < 0 else value << 1


def unzz(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def deflate(payload: bytes) -> bytes:
    """Tagged raw-deflate (or raw, when that is smaller) block: the quick estimate."""
    if len(payload) < 8:
        return bytes((RAW,)) + payload
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    packed = compressor.compress(payload) + compressor.flush()
    if len(packed) >= len(payload):
        return bytes((RAW,)) + payload
    return bytes((DEFLATE,)) + packed


def pack(payload: bytes) -> bytes:
    """The smallest of raw, deflate and lzma for ``payload``, tagged. lzma's range
    coder wins on skewed inputs but costs ~0.1 ms a call: tried only where it can pay."""
    best = deflate(payload)
    if len(payload) >= 128 and len(best) > 32:
        candidate = bytes((LZMA,)) + lzma.compress(payload, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
        if len(candidate) < len(best):
            best = candidate
    return best


def unpack(block: bytes | memoryview) -> bytes:
    tag = block[0]
    body = bytes(block[1:])
    if tag == RAW:
        return body
    if tag == DEFLATE:
        return zlib.decompress(body, -15)
    if tag == LZMA:
        return lzma.decompress(body, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    raise ValueError(f"unknown compressor tag {tag}")
