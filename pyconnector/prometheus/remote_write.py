"""Decoding Prometheus remote_write 1.0 requests (the protobuf WriteRequest, once
request_body.py has checked and decompressed the snappy block).

The hot path never turns a label into a Python string for a series it has seen:
each TimeSeries stays a byte string, NumPy walks the fields of all of them at once
(``walk_series``), a series is recognised by the bytes of its label fields, and
samples are decoded for the whole request at once. Only labels of series missing
from the cache are decoded and validated. Requests the walk does not expect
(exemplars, histograms, unusual field order) take the protobuf path, with the
same result.

Everything here is pure (no I/O): errors are ``BadRequest`` (errors.py) with a
message naming what was wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np
from google.protobuf.message import DecodeError

from ..pgbinary import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS
from .proto import prometheus_remote_pb2 as pb
from .errors import BadRequest
from ..protowire import uvarint, uvarints_at
from .proto import remote_write_blobs_pb2 as blobs_pb

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_TYPES = {value: name.lower() for name, value in pb.MetricMetadata.MetricType.items()}

# A series as the request spelled it: its label fields (tag, length, Label message), in request
# order. The fast and the protobuf paths produce the same key for the same series.
SeriesKey = bytes


def parse_write_request(data: bytes) -> pb.RawWriteRequest:
    try:
        return pb.RawWriteRequest.FromString(data)
    except DecodeError as exc:
        raise BadRequest(f"malformed protobuf WriteRequest: {exc}") from exc


# --- samples ---

def decode_samples(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps in ms as int64, values as float64) of raw Sample messages."""
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    ends = np.cumsum(lengths)
    return decode_samples_at(b"".join(blobs), ends - lengths, lengths)


def decode_samples_at(data: bytes, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples whose Sample messages lie at ``data[starts[i]:starts[i] + lengths[i]]``.

    Vectorised for the layout every encoder writes (value field 1, then timestamp
    field 2, either omitted when zero); any other layout falls back to protobuf.
    Values keep their exact bits, so stale markers survive.
    """
    n = len(starts)
    times = np.zeros(n, dtype=np.int64)
    values = np.zeros(n, dtype=np.float64)
    if n == 0:
        return times, values
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = starts + lengths
    # padding lets the gathers below read past the end without bounds checks
    buf = np.frombuffer(data + bytes(16), dtype=np.uint8)

    has_value = (lengths >= 9) & (buf[starts] == 0x09)
    value_rows = np.flatnonzero(has_value)
    if value_rows.size:
        offsets = starts[value_rows, None] + 1 + np.arange(8)
        values[value_rows] = buf[offsets].copy().view("<f8").ravel()

    ts_tag = starts + np.where(has_value, 9, 0)
    has_ts = (ts_tag < ends) & (buf[ts_tag] == 0x10)
    varint_len = np.where(has_ts, ends - ts_tag - 1, 0)
    # a sample must end exactly after its fields; anything else goes to the slow path
    ok = np.where(has_ts, (varint_len >= 1) & (varint_len <= 10), ts_tag == ends)
    acc = np.zeros(n, dtype=np.uint64)
    longest = int(varint_len.max())
    for k in range(min(longest, 10)):
        byte = buf[ts_tag + 1 + k].astype(np.uint64)
        inside = k < varint_len
        last = k == varint_len - 1
        # continuation bit set on every byte but the last
        ok &= ~inside | (last & (byte < 0x80)) | (~last & (byte >= 0x80))
        acc |= np.where(inside, (byte & np.uint64(0x7F)) << np.uint64(7 * k), np.uint64(0))
    times[:] = acc.view(np.int64)

    for row in np.flatnonzero(~ok):
        try:
            sample = pb.Sample.FromString(data[starts[row]:ends[row]])
        except DecodeError as exc:
            raise BadRequest(f"malformed protobuf Sample: {exc}") from exc
        times[row], values[row] = sample.timestamp, sample.value

    out_of_range = (times < MIN_TIMESTAMP_MS) | (times > MAX_TIMESTAMP_MS)
    if out_of_range.any():
        bad = int(times[np.flatnonzero(out_of_range)[0]])
        raise BadRequest(f"sample timestamp {bad} ms is outside the storable range "
                         f"({MIN_TIMESTAMP_MS} to {MAX_TIMESTAMP_MS})")
    return times, values


# --- labels ---

def decode_labels(key: SeriesKey) -> list[tuple[str, str]]:
    """Validated (name, value) pairs of a series, sorted by name; empty values dropped
    (an empty label is the same as no label in Prometheus)."""
    try:
        raw_labels = blobs_pb.LabelBlobs.FromString(key).labels
    except DecodeError as exc:
        raise BadRequest(f"malformed labels: {exc}") from exc
    pairs = []
    for raw in raw_labels:
        try:
            label = pb.Label.FromString(raw)
        except DecodeError as exc:
            raise BadRequest(f"malformed label (labels must be valid UTF-8 protobuf strings): {exc}") from exc
        pairs.append((label.name, label.value))
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise BadRequest(f"duplicate label name {duplicate!r} in series {format_labels(pairs)}")
    for name, _ in pairs:
        if not LABEL_NAME.fullmatch(name):
            raise BadRequest(f"invalid label name {name!r} in series {format_labels(pairs)}: "
                             "names must match [a-zA-Z_][a-zA-Z0-9_]*")
    for name, value in pairs:
        if "\0" in value:
            raise BadRequest(f"label {name!r} of series {format_labels(pairs)} holds a NUL character")
    metric = dict(pairs).get("__name__", "")
    if not metric:
        raise BadRequest(f"series {format_labels(pairs)} has no __name__ label")
    if not METRIC_NAME.fullmatch(metric):
        raise BadRequest(f"invalid metric name {metric!r}: names must match [a-zA-Z_:][a-zA-Z0-9_:]*")
    return sorted((name, value) for name, value in pairs if value != "")


def canonical_labels(key: SeriesKey) -> bytes:
    """A series' labels as the database identifies them (prom_api.get_or_create_series_ids):
    in bytewise name order, each ``name NUL value NUL``, empty values dropped; validated exactly
    as decode_labels validates them (the same BadRequest).

    Every series a connector worker has not seen goes through this (all of them after a
    restart), so it avoids decoding each label: the label fields of a key are looked up in a
    cache of those seen before (job="node", cpu="3" repeat across series), 3 us a series
    instead of decode_labels' 15. Anything unusual (a label field longer than 127 bytes, a
    duplicate or invalid name, a missing metric name) goes the slow way, for its error."""
    entries = []
    cache = _label_entries
    named = 0  # valid __name__ labels
    i, n = 0, len(key)
    while i < n:
        if key[i] != 0x0A or i + 1 >= n or key[i + 1] >= 0x80:
            return _canonical_labels_slowly(key)
        end = i + 2 + key[i + 1]
        raw = key[i + 2:end]
        entry = cache.get(raw)
        if entry is None:
            entry = _label_entry(raw)
            if entry is None:
                return _canonical_labels_slowly(key)
            if len(cache) >= _LABEL_ENTRIES_MAX:
                cache.clear()
            cache[raw] = entry
        entries.append(entry)
        named += entry[2]
        i = end
    if i != n or named != 1 or len({name for name, _, _ in entries}) != len(entries):
        return _canonical_labels_slowly(key)
    entries.sort()
    return b"".join([piece for _, piece, _ in entries])


# label field bytes -> (name, canonical piece (b"" for an empty value), whether it is a valid
# __name__ label), for canonical_labels; cleared when full (a worker refills it in a request or two)
_label_entries: dict[bytes, tuple[str, bytes, bool]] = {}
_LABEL_ENTRIES_MAX = 100_000


def _label_entry(raw: bytes) -> tuple[str, bytes, bool] | None:
    """The cache entry of one Label message; None if decode_labels would refuse it."""
    try:
        label = pb.Label.FromString(raw)
    except DecodeError:
        return None
    name, value = label.name, label.value
    if not LABEL_NAME.fullmatch(name) or "\0" in value:
        return None
    piece = name.encode() + b"\0" + value.encode() + b"\0" if value else b""
    return name, piece, name == "__name__" and METRIC_NAME.fullmatch(value) is not None


def _canonical_labels_slowly(key: SeriesKey) -> bytes:
    # names are ASCII (LABEL_NAME), so the string order of decode_labels is byte order
    return canonical_label_set(decode_labels(key))


def canonical_label_set(pairs: list[tuple[str, str]]) -> bytes:
    """Sorted (name, value) pairs in the encoding the database identifies a label set by
    (prom_api.get_or_create_series_ids(bytea[])): each ``name NUL value NUL``; the series is
    found by the SHA-256 of these bytes. The connector builds it from a request's raw labels
    (canonical_labels); this form is for pairs (the slow path, tests, benchmarks)."""
    return b"".join(name.encode() + b"\0" + value.encode() + b"\0" for name, value in pairs)


def format_labels(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{name}={value!r}" for name, value in pairs) + "}"


# --- exemplars, metadata ---

@dataclass
class Exemplars:
    ts_index: list[int] = field(default_factory=list)
    times_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # JSON objects

    def add(self, ts_index: int, raw: bytes) -> None:
        try:
            exemplar = pb.Exemplar.FromString(raw)
        except DecodeError as exc:
            raise BadRequest(f"malformed protobuf Exemplar: {exc}") from exc
        labels = {}
        for label in exemplar.labels:
            if not LABEL_NAME.fullmatch(label.name):
                raise BadRequest(f"invalid exemplar label name {label.name!r}")
            labels[label.name] = label.value
        if not MIN_TIMESTAMP_MS <= exemplar.timestamp <= MAX_TIMESTAMP_MS:
            raise BadRequest(f"exemplar timestamp {exemplar.timestamp} ms is outside the storable range")
        self.ts_index.append(ts_index)
        self.times_ms.append(exemplar.timestamp)
        self.values.append(exemplar.value)
        self.labels.append(json.dumps(labels, ensure_ascii=False, sort_keys=True))


def decode_metadata(entries) -> tuple[list[str], list[str], list[str], list[str]]:  # type: ignore[no-untyped-def]
    families, types, units, helps = [], [], [], []
    for entry in entries:
        if not entry.metric_family_name:
            raise BadRequest("metadata entry without metric_family_name")
        families.append(entry.metric_family_name)
        types.append(METRIC_TYPES.get(entry.type, "unknown"))
        units.append(entry.unit)
        helps.append(entry.help)
    return families, types, units, helps


# --- one request, split up ---

@dataclass
class DecodedWrite:
    """A WriteRequest as the ingest path needs it."""

    keys: list[SeriesKey]          # one per TimeSeries that carries samples or exemplars
    sample_counts: list[int]       # samples of each of those
    times_ms: np.ndarray
    values: np.ndarray
    exemplars: Exemplars
    metadata: tuple[list[str], list[str], list[str], list[str]]
    histograms_dropped: int


def label_field(name: str, value: str) -> bytes:
    """One label as a field of a series key (a LabelBlobs ``labels`` entry)."""
    label = pb.Label(name=name, value=value).SerializeToString()
    return b"\x0a" + uvarint(len(label)) + label


def with_label(write: DecodedWrite, field: bytes) -> DecodedWrite:
    """``write`` with one more label (a label_field) on every series, e.g. a tenant's
    __tenant__: series keys then differ per tenant, in the series cache too. A series that
    already carries the label is refused as any duplicate label (BadRequest)."""
    write.keys = [key + field for key in write.keys]
    return write


def decode_request(data: bytes) -> DecodedWrite:
    """A decompressed WriteRequest, split up for ingest (raises BadRequest when malformed)."""
    try:
        request = blobs_pb.WriteRequestBlobs.FromString(data)
    except DecodeError as exc:
        raise BadRequest(f"malformed protobuf WriteRequest: {exc}") from exc
    walked = walk_series(list(request.timeseries))
    if walked is None:
        return split_request(parse_write_request(data))
    keys, counts, sample_starts, sample_lengths, joined = walked
    times, values = decode_samples_at(joined, sample_starts, sample_lengths)
    return DecodedWrite(keys, counts, times, values, Exemplars(), decode_metadata(map(_metadata, request.metadata)), 0)


def _metadata(raw: bytes) -> pb.MetricMetadata:
    try:
        return pb.MetricMetadata.FromString(raw)
    except DecodeError as exc:
        raise BadRequest(f"malformed protobuf MetricMetadata: {exc}") from exc


def walk_series(series: list[bytes]):  # type: ignore[no-untyped-def]
    """Field boundaries of every TimeSeries at once, or None when a series has anything but
    label fields followed by sample fields (exemplars, histograms, other layouts).

    Returns (keys, samples per series, sample message starts and lengths, joined bytes) for
    the series that have samples.
    """
    n = len(series)
    if n == 0:
        return [], [], np.zeros(0, np.int64), np.zeros(0, np.int64), b""
    lengths = np.fromiter(map(len, series), dtype=np.int64, count=n)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    joined = b"".join(series)
    buf = np.frombuffer(joined + bytes(16), dtype=np.uint8)  # padding: reads past the end stay in bounds

    pos = starts.copy()
    labels_end = starts.copy()
    in_samples = np.zeros(n, dtype=bool)
    rows: list[np.ndarray] = []
    payload_starts: list[np.ndarray] = []
    payload_lengths: list[np.ndarray] = []
    active = np.flatnonzero(pos < ends)
    while active.size:
        at = pos[active]
        tag = buf[at]
        # messages are far below 2^35 bytes: a length needs at most 5 varint bytes
        length, size, ok = uvarints_at(buf, at + 1, 5)
        payload = at + 1 + size
        following = payload + length
        is_label = tag == 0x0A
        is_sample = tag == 0x12
        ok &= (following <= ends[active]) & (is_label & ~in_samples[active] | is_sample)
        if not ok.all():
            return None
        labels_end[active[is_label]] = following[is_label]
        in_samples[active[is_sample]] = True
        rows.append(active[is_sample])
        payload_starts.append(payload[is_sample])
        payload_lengths.append(length[is_sample])
        pos[active] = following
        active = active[following < ends[active]]

    row_of_sample = np.concatenate(rows)
    order = np.argsort(row_of_sample, kind="stable")  # a series' samples stay in request order
    counts = np.bincount(row_of_sample, minlength=n)
    with_samples = np.flatnonzero(counts)
    keys = [joined[a:b] for a, b in zip(starts[with_samples].tolist(), labels_end[with_samples].tolist())]
    return (keys, counts[with_samples].tolist(), np.concatenate(payload_starts)[order],
            np.concatenate(payload_lengths)[order], joined)


def split_request(request: pb.RawWriteRequest) -> DecodedWrite:
    """The general path: protobuf's own parse, for any valid encoding."""
    keys: list[SeriesKey] = []
    counts: list[int] = []
    blobs: list[bytes] = []
    exemplars = Exemplars()
    histograms = 0
    add_key, add_count, add_blobs = keys.append, counts.append, blobs.extend
    for ts in request.timeseries:
        samples = ts.samples
        if ts.histograms:
            histograms += len(ts.histograms)
        if ts.exemplars:
            for raw in ts.exemplars:
                exemplars.add(len(keys), raw)
        elif not samples:
            continue
        add_key(b"".join(_label_field(raw) for raw in ts.labels))
        add_count(len(samples))
        add_blobs(samples)
    times, values = decode_samples(blobs)
    return DecodedWrite(keys, counts, times, values, exemplars, decode_metadata(request.metadata), histograms)


def _label_field(raw: bytes) -> bytes:
    """A Label message as a field of TimeSeries: how the fast path's keys spell it."""
    n = len(raw)
    prefix = bytearray(b"\x0a")
    while n >= 0x80:
        prefix.append((n & 0x7F) | 0x80)
        n >>= 7
    prefix.append(n)
    return bytes(prefix) + raw
