"""Prometheus's XOR chunk encoding (tsdb/chunkenc/xor.go, the Gorilla scheme), for
remote_read STREAMED_XOR_CHUNKS responses.

Layout: a big-endian uint16 sample count, then a bit stream: the first timestamp as
a zig-zag varint and the first value as 64 raw bits; the second timestamp as a
uvarint delta; later timestamps as delta-of-delta in 1/14/17/20/64-bit buckets; every
value after the first as the XOR with its predecessor (0 bit when equal, else the
meaningful bits with a reused or new leading/trailing-zero window).
"""

from __future__ import annotations

import struct

from ..protowire import uvarint

MAX_SAMPLES_PER_CHUNK = 120  # what Prometheus's head cuts chunks at


class _BitWriter:
    """Bits accumulated in one Python int, most significant first."""

    __slots__ = ("acc", "count")

    def __init__(self) -> None:
        self.acc = 0
        self.count = 0

    def write(self, value: int, nbits: int) -> None:
        self.acc = (self.acc << nbits) | (value & ((1 << nbits) - 1))
        self.count += nbits

    def write_bytes(self, data: bytes) -> None:
        for byte in data:
            self.write(byte, 8)

    def to_bytes(self) -> bytes:
        pad = -self.count % 8
        return (self.acc << pad).to_bytes((self.count + pad) // 8, "big")


def varint(value: int) -> bytes:
    """Go binary.PutVarint: zig-zag, then uvarint."""
    return uvarint((value << 1) ^ (value >> 63))


def _bits_of(value: float) -> int:
    return struct.unpack(">Q", struct.pack(">d", value))[0]


def _fits(dod: int, nbits: int) -> bool:
    # Prometheus's bitRange: -(2^(n-1) - 1) <= x <= 2^(n-1)
    return -((1 << (nbits - 1)) - 1) <= dod <= 1 << (nbits - 1)


def encode(times_ms: list[int], values: list[float]) -> bytes:
    """One XOR chunk holding all the samples (at most 65535; callers cut at 120)."""
    n = len(times_ms)
    if n > 0xFFFF:
        raise ValueError("an XOR chunk holds at most 65535 samples")
    w = _BitWriter()
    prev_t = prev_delta = 0
    prev_bits = 0
    leading, trailing = 0xFF, 0
    for i in range(n):
        t, v_bits = times_ms[i], _bits_of(values[i])
        if i == 0:
            w.write_bytes(varint(t))
            w.write(v_bits, 64)
        else:
            delta = t - prev_t
            if i == 1:
                w.write_bytes(uvarint(delta))
            else:
                dod = delta - prev_delta
                if dod == 0:
                    w.write(0, 1)
                elif _fits(dod, 14):
                    w.write(0b10, 2)
                    w.write(dod, 14)
                elif _fits(dod, 17):
                    w.write(0b110, 3)
                    w.write(dod, 17)
                elif _fits(dod, 20):
                    w.write(0b1110, 4)
                    w.write(dod, 20)
                else:
                    w.write(0b1111, 4)
                    w.write(dod, 64)
            prev_delta = delta
            xor = v_bits ^ prev_bits
            if xor == 0:
                w.write(0, 1)
            else:
                w.write(1, 1)
                new_leading = min(64 - xor.bit_length(), 31)
                new_trailing = (xor & -xor).bit_length() - 1
                if leading != 0xFF and new_leading >= leading and new_trailing >= trailing:
                    w.write(0, 1)
                    w.write(xor >> trailing, 64 - leading - trailing)
                else:
                    leading, trailing = new_leading, new_trailing
                    sigbits = 64 - new_leading - new_trailing
                    w.write(1, 1)
                    w.write(new_leading, 5)
                    w.write(sigbits, 6)  # 64 wraps to 0; readers map it back
                    w.write(xor >> new_trailing, sigbits)
        prev_t, prev_bits = t, v_bits
    return struct.pack(">H", n) + w.to_bytes()
