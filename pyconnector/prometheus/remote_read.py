"""Prometheus remote_read: snappy ReadRequest in; a snappy ReadResponse (SAMPLES) or
framed ChunkedReadResponses of XOR chunks (STREAMED_XOR_CHUNKS) out.

The matchers of each query select series and samples in one call of
prom_api.get_matching_samples (the read path, prom_api.get_samples).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import snappy

from .errors import BadRequest, TooLarge
from .proto import prometheus_remote_pb2 as pb
from .request_body import decompress
from .xor_chunk import MAX_SAMPLES_PER_CHUNK, encode as encode_xor, uvarint

try:  # C implementation when installed; the fallback below is the same function
    from crc32c import crc32c as _crc32c_fast
except ImportError:  # pragma: no cover
    _crc32c_fast = None

SAMPLES_CONTENT_TYPE = "application/x-protobuf"
STREAMED_CONTENT_TYPE = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
OPS = {pb.LabelMatcher.EQ: "=", pb.LabelMatcher.NEQ: "!=", pb.LabelMatcher.RE: "=~", pb.LabelMatcher.NRE: "!~"}


class BadReadRequest(BadRequest):
    """The request cannot be decoded or served as asked (HTTP 400)."""


@dataclass
class SeriesData:
    keys: list[str]
    values: list[str]
    times_ms: list[int]
    samples: list[float]


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    if _crc32c_fast is not None:
        return _crc32c_fast(data)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def parse_request(body: bytes, max_decoded_bytes: int) -> pb.ReadRequest:
    """The ReadRequest of a snappy block body (size checked before decoding)."""
    try:
        raw = decompress(body, max_decoded_bytes, "remote_read", "prometheus.ReadRequest")
    except (BadRequest, TooLarge) as exc:  # an oversized read is a bad request too (400)
        raise BadReadRequest(str(exc)) from None
    request = pb.ReadRequest()
    try:
        request.ParseFromString(raw)
    except Exception as exc:
        raise BadReadRequest(f"malformed protobuf ReadRequest: {exc}") from None
    return request


def response_type(request: pb.ReadRequest) -> int:
    """The first accepted type we implement (both); none listed means SAMPLES."""
    for accepted in request.accepted_response_types:
        if accepted in (pb.ReadRequest.SAMPLES, pb.ReadRequest.STREAMED_XOR_CHUNKS):
            return accepted
    if request.accepted_response_types:
        raise BadReadRequest(f"server does not support any of the requested response types: "
                             f"{list(request.accepted_response_types)}")
    return pb.ReadRequest.SAMPLES


def matchers_of(query: pb.Query) -> tuple[list[str], list[str], list[str]]:
    names, ops, values = [], [], []
    for m in query.matchers:
        if m.type not in OPS:
            raise BadReadRequest(f"unknown label matcher type {m.type}")
        names.append(m.name)
        ops.append(OPS[m.type])
        values.append(m.value)
    return names, ops, values


def samples_response(results: list[list[SeriesData]]) -> bytes:
    response = pb.ReadResponse()
    for series_list in results:
        result = response.results.add()
        for s in series_list:
            ts = result.timeseries.add()
            for k, v in zip(s.keys, s.values):
                ts.labels.add(name=k, value=v)
            for t, v in zip(s.times_ms, s.samples):
                ts.samples.add(timestamp=t, value=v)
    return snappy.compress(response.SerializeToString())


def frame(message: bytes) -> bytes:
    """uvarint length, CRC32-Castagnoli (big-endian), message."""
    return uvarint(len(message)) + struct.pack(">I", crc32c(message)) + message


def streamed_frames(query_index: int, series_list: list[SeriesData], max_bytes_in_frame: int) -> Iterator[bytes]:
    """One frame per series, or several when its chunks exceed max_bytes_in_frame."""
    for s in series_list:
        labels = [pb.Label(name=k, value=v) for k, v in zip(s.keys, s.values)]
        pending: list[pb.Chunk] = []
        size = 0
        for i in range(0, len(s.times_ms), MAX_SAMPLES_PER_CHUNK):
            times = s.times_ms[i:i + MAX_SAMPLES_PER_CHUNK]
            chunk = pb.Chunk(min_time_ms=times[0], max_time_ms=times[-1], type=pb.Chunk.XOR,
                             data=encode_xor(times, s.samples[i:i + MAX_SAMPLES_PER_CHUNK]))
            pending.append(chunk)
            size += len(chunk.data)
            if size >= max_bytes_in_frame:
                yield frame(pb.ChunkedReadResponse(chunked_series=[pb.ChunkedSeries(labels=labels, chunks=pending)],
                                                   query_index=query_index).SerializeToString())
                pending, size = [], 0
        if pending:
            yield frame(pb.ChunkedReadResponse(chunked_series=[pb.ChunkedSeries(labels=labels, chunks=pending)],
                                               query_index=query_index).SerializeToString())
