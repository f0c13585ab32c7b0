"""Protocol Buffers' base-128 varints, the one piece of the wire format the connector reads and
writes by hand: remote_write's series are walked field by field without building messages
(prometheus/remote_write.py), HA labels are found in raw series keys (prometheus/ha.py), and
remote_read frames, XOR chunks and OTLP's error status are written byte by byte
(prometheus/remote_read.py, prometheus/xor_chunk.py, otlp/wire.py). Everything else goes
through the generated protobuf classes.

(The extension's storage codec has varints of its own, extension/promscale/codec/_bytes.py: the
connector never imports the extension, and the two formats only share the encoding.)
"""

from __future__ import annotations

import numpy as np


def uvarint(value: int) -> bytes:
    """``value`` (taken modulo 2^64, as Go's uint64) as a varint."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_uvarint(data: bytes, at: int, max_bytes: int = 5) -> tuple[int, int]:
    """(value, position after it) of the varint at ``data[at]``; value -1 when it runs past the
    end or past ``max_bytes`` (5: lengths, which are far below 2^35)."""
    value = shift = 0
    while at < len(data) and shift < 7 * max_bytes:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7
    return -1, at


def uvarints_at(buf: np.ndarray, at: np.ndarray, max_bytes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, byte count, ok) of the varints starting at each position of ``at`` in the byte
    array ``buf``, all at once; ok is false where one is longer than ``max_bytes``."""
    value = np.zeros(len(at), dtype=np.int64)
    size = np.zeros(len(at), dtype=np.int64)
    open_ = np.ones(len(at), dtype=bool)
    for k in range(max_bytes):
        byte = buf[at + k].astype(np.int64)
        value |= np.where(open_, (byte & 0x7F) << (7 * k), 0)
        size += open_
        open_ &= byte >= 0x80
    return value, size, ~open_
