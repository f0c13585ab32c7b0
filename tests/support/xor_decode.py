"""An independent XOR chunk decoder for tests, written from the format description
(Prometheus tsdb/chunkenc/xor.go), not from the encoder."""

from __future__ import annotations

import struct


class BitReader:
    def __init__(self, data: bytes):
        self.value = int.from_bytes(data, "big")
        self.total = len(data) * 8
        self.pos = 0

    def bits(self, n: int) -> int:
        self.pos += n
        assert self.pos <= self.total, "read past the end of the chunk"
        return (self.value >> (self.total - self.pos)) & ((1 << n) - 1)

    def uvarint(self) -> int:
        result = shift = 0
        while True:
            byte = self.bits(8)
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return result


def signed(value: int, n: int) -> int:
    return value - (1 << n) if value >= 1 << (n - 1) else value


def decode(chunk: bytes) -> list[tuple[int, int]]:
    """(timestamp, value bits) pairs."""
    count = struct.unpack(">H", chunk[:2])[0]
    r = BitReader(chunk[2:])
    out = []
    t = delta = 0
    value = leading = trailing = 0
    for i in range(count):
        if i == 0:
            z = r.uvarint()
            t = (z >> 1) ^ -(z & 1)
            value = r.bits(64)
        else:
            if i == 1:
                delta = r.uvarint()
            else:
                prefix = 0
                for _ in range(4):
                    prefix = prefix << 1 | r.bits(1)
                    if not prefix & 1:
                        break
                width = {0b0: 0, 0b10: 14, 0b110: 17, 0b1110: 20, 0b1111: 64}[prefix]
                dod = signed(r.bits(width), width) if width else 0
                delta += dod
            t += delta
            if r.bits(1):
                if r.bits(1):
                    leading = r.bits(5)
                    sig = r.bits(6) or 64
                    trailing = 64 - leading - sig
                value ^= r.bits(64 - leading - trailing) << trailing
        out.append((t, value))
    assert r.total - r.pos < 8, "trailing bits beyond the padding"
    return out
