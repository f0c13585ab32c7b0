"""Building remote_write requests for tests (protobuf WriteRequest + snappy block)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

import snappy

from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "promscale-tests",
}

Series = tuple[Mapping[str, str], Iterable[tuple[int, float]]]


def write_request(
    series: Iterable[Series] = (),
    metadata: Iterable[tuple[str, int, str, str]] = (),
    exemplars: Iterable[tuple[Mapping[str, str], Mapping[str, str], float, int]] = (),
) -> pb.WriteRequest:
    """series: (labels, [(ts_ms, value)]); metadata: (family, type enum, help, unit);
    exemplars: (series labels, exemplar labels, value, ts_ms)."""
    req = pb.WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for name, value in sorted(labels.items()):
            ts.labels.add(name=name, value=value)
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    for labels, ex_labels, value, t in exemplars:
        ts = req.timeseries.add()
        for name, val in sorted(labels.items()):
            ts.labels.add(name=name, value=val)
        ex = ts.exemplars.add(value=value, timestamp=t)
        for name, val in ex_labels.items():
            ex.labels.add(name=name, value=val)
    for family, mtype, help_text, unit in metadata:
        req.metadata.add(metric_family_name=family, type=mtype, help=help_text, unit=unit)
    return req


def encode(req: pb.WriteRequest | bytes) -> bytes:
    raw = req if isinstance(req, bytes) else req.SerializeToString()
    return snappy.compress(raw)


def bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]
