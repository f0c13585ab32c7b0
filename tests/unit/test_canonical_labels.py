"""remote_write.canonical_labels (the connector's fast path from a request's raw labels to the
database's canonical label set) answers exactly as decoding every label does: the same bytes,
or the same BadRequest, whether the label fields are cached or not."""

from __future__ import annotations

import pytest

from pyconnector.prometheus import remote_write
from pyconnector.prometheus.remote_write import BadRequest, canonical_labels, decode_labels


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + varint(len(payload)) + payload


def label(name: str, value: str) -> bytes:
    return field(0x0A, field(0x0A, name.encode()) + field(0x12, value.encode()))


def key(*pairs: tuple[str, str]) -> bytes:
    return b"".join(label(n, v) for n, v in pairs)


def slowly(raw: bytes) -> bytes | str:
    try:
        return b"".join(n.encode() + b"\0" + v.encode() + b"\0" for n, v in decode_labels(raw))
    except BadRequest as exc:
        return f"BadRequest: {exc}"


def fast(raw: bytes) -> bytes | str:
    try:
        return canonical_labels(raw)
    except BadRequest as exc:
        return f"BadRequest: {exc}"


CASES = {
    "sorted": key(("__name__", "up"), ("instance", "a:9100"), ("job", "node")),
    "unsorted": key(("job", "node"), ("__name__", "up"), ("Instance", "a")),
    "empty value dropped": key(("__name__", "up"), ("job", "")),
    "long value": key(("__name__", "up"), ("path", "/" * 300)),
    "unicode": key(("__name__", "up"), ("city", "Zürich ☃")),
    "duplicate name": key(("__name__", "up"), ("job", "a"), ("job", "b")),
    "duplicate name, one empty": key(("__name__", "up"), ("job", ""), ("job", "b")),
    "two metric names": key(("__name__", "up"), ("__name__", "down")),
    "invalid name": key(("__name__", "up"), ("bad-name", "x")),
    "NUL in value": key(("__name__", "up"), ("job", "a\0b")),
    "no metric name": key(("job", "node")),
    "empty metric name": key(("__name__", ""), ("job", "node")),
    "invalid metric name": key(("__name__", "1up")),
    "truncated": key(("__name__", "up"))[:-2],
    "length past the end": key(("__name__", "up")) + b"\x0a\x05\x0a",
    "other field": key(("__name__", "up")) + field(0x12, b"x"),
    "non-minimal length": b"\x0a\x86\x00" + field(0x0A, b"__name__") + field(0x12, b"up"),
    "invalid UTF-8": field(0x0A, field(0x0A, b"__name__") + field(0x12, b"\xff")),
}


@pytest.mark.parametrize("case", CASES)
def test_fast_path_answers_as_decoding_every_label(case):
    raw = CASES[case]
    remote_write._label_entries.clear()
    expected = slowly(raw)
    assert fast(raw) == expected  # label fields not cached yet
    assert fast(raw) == expected  # cached
    if case in ("sorted", "unsorted", "empty value dropped", "long value", "unicode"):
        assert isinstance(expected, bytes)


def test_the_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(remote_write, "_LABEL_ENTRIES_MAX", 10)
    remote_write._label_entries.clear()
    for i in range(50):
        assert canonical_labels(key(("__name__", "m"), ("i", str(i)))) == b"__name__\0m\0i\0" + str(i).encode() + b"\0"
    assert len(remote_write._label_entries) <= 10
