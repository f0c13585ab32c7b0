"""NumPy arrays as binary PostgreSQL array parameters.

A batch of samples goes to the database as three array parameters. Encoding
them in PostgreSQL's binary array format with NumPy costs no Python work per
sample, and the server decodes them without parsing text. db.register_binary_arrays
teaches psycopg to send them as they are.
"""

from __future__ import annotations

import struct

import numpy as np

INT8_OID, FLOAT8_OID, TIMESTAMPTZ_OID, UUID_OID, TEXT_OID, JSONB_OID = 20, 701, 1184, 2950, 25, 3802
INT8_ARRAY_OID, FLOAT8_ARRAY_OID, TIMESTAMPTZ_ARRAY_OID, UUID_ARRAY_OID = 1016, 1022, 1185, 2951
TEXT_ARRAY_OID, JSONB_ARRAY_OID = 1009, 3807

# PostgreSQL timestamps count microseconds from 2000-01-01; Prometheus counts ms from 1970.
PG_EPOCH_UNIX_MS = 946_684_800_000
# The timestamptz range, as Prometheus milliseconds: 4714-11-24 BC .. 294276-12-31 (inclusive).
MIN_TIMESTAMP_MS = -210_866_803_200_000
MAX_TIMESTAMP_MS = 9_224_318_015_999_999


def _array_bytes(values: np.ndarray, element_oid: int, big_endian_dtype: str, nulls: np.ndarray | None = None) -> bytes:
    n = len(values)
    if n == 0:
        return struct.pack(">iiI", 0, 0, element_oid)
    has_nulls = nulls is not None and bool(nulls.any())
    header = struct.pack(">iiIii", 1, int(has_nulls), element_oid, n, 1)
    body = np.empty(n, dtype=[("length", ">i4"), ("value", big_endian_dtype)])
    body["length"] = np.dtype(big_endian_dtype).itemsize
    body["value"] = values
    if not has_nulls:
        return header + body.tobytes()
    # a NULL element is its length, -1, with no value bytes after it
    body["length"][nulls] = -1
    element_bytes = np.frombuffer(body.tobytes(), dtype=np.uint8).reshape(n, body.itemsize)
    keep = np.ones(element_bytes.shape, dtype=bool)
    keep[nulls, 4:] = False
    return header + element_bytes[keep].tobytes()


class BinaryArray:
    """A one-dimensional array parameter, already in binary wire format."""

    __slots__ = ("data",)
    oid = 0

    def __init__(self, data: bytes):
        self.data = data

    def __len__(self) -> int:
        return struct.unpack_from(">i", self.data, 12)[0] if len(self.data) > 12 else 0


class Int8Array(BinaryArray):
    oid = INT8_ARRAY_OID

    @classmethod
    def of(cls, values: np.ndarray) -> "Int8Array":
        return cls(_array_bytes(np.asarray(values, dtype=np.int64), INT8_OID, ">i8"))


class Float8Array(BinaryArray):
    oid = FLOAT8_ARRAY_OID

    @classmethod
    def of(cls, values: np.ndarray) -> "Float8Array":
        # byte-exact: NaN payloads (stale markers) pass through untouched
        return cls(_array_bytes(np.asarray(values, dtype=np.float64), FLOAT8_OID, ">f8"))


class TimestamptzArray(BinaryArray):
    oid = TIMESTAMPTZ_ARRAY_OID

    @classmethod
    def from_unix_ms(cls, millis: np.ndarray, nulls: np.ndarray | None = None) -> "TimestamptzArray":
        """``nulls``, if given, marks the elements that are NULL (their ``millis`` are ignored)."""
        micros = (np.asarray(millis, dtype=np.int64) - PG_EPOCH_UNIX_MS) * 1000
        return cls(_array_bytes(micros, TIMESTAMPTZ_OID, ">i8", None if nulls is None else np.asarray(nulls, dtype=bool)))

    @classmethod
    def from_unix_us(cls, micros: np.ndarray) -> "TimestamptzArray":
        return cls(_array_bytes(np.asarray(micros, dtype=np.int64) - PG_EPOCH_UNIX_MS * 1000, TIMESTAMPTZ_OID, ">i8"))


class UuidArray(BinaryArray):
    oid = UUID_ARRAY_OID

    @classmethod
    def of(cls, ids: list[bytes]) -> "UuidArray":
        """From 16-byte strings (OTLP trace ids), sent as they are."""
        return cls(_array_bytes(np.frombuffer(b"".join(ids), dtype="S16"), UUID_OID, "S16"))


def _varlena_array_bytes(items: list[bytes], element_oid: int) -> bytes:
    """Binary array of variable-length elements (no NULLs): each is a length and its bytes.
    psycopg's own list dumper escapes every element with a regex, which costs more than
    everything else the connector does per span."""
    n = len(items)
    if n == 0:
        return struct.pack(">iiI", 0, 0, element_oid)
    lengths = struct.pack(f">{n}i", *map(len, items))
    parts: list[bytes] = [struct.pack(">iiIii", 1, 0, element_oid, n, 1)]
    for i, item in enumerate(items):
        parts.append(lengths[4 * i:4 * i + 4])
        parts.append(item)
    return b"".join(parts)


class TextArray(BinaryArray):
    oid = TEXT_ARRAY_OID

    @classmethod
    def of(cls, strings: list[str]) -> "TextArray":
        return cls(_varlena_array_bytes([s.encode() for s in strings], TEXT_OID))


class JsonbArray(BinaryArray):
    oid = JSONB_ARRAY_OID

    @classmethod
    def of(cls, documents: list[str]) -> "JsonbArray":
        """From JSON texts; binary jsonb is a version byte (1) and the text."""
        return cls(_varlena_array_bytes([b"\x01" + d.encode() for d in documents], JSONB_OID))


ARRAY_TYPES: tuple[type[BinaryArray], ...] = (Int8Array, Float8Array, TimestamptzArray, UuidArray, TextArray, JsonbArray)
