"""The sending side of remote_write for the benchmarks: protobuf WriteRequests built without a
Python loop per sample, snappy-compressed, sent by concurrent keep-alive connections.

A benchmark must measure the receiver, not its own encoder, so requests are built before the
clock starts, and fast: every series' TimeSeries message is a constant prefix (the field header,
its Label fields, the Sample field header) followed by 15 bytes of sample (value, timestamp).
``RequestEncoder`` keeps all prefixes in one byte array and assembles a request with NumPy
gathers (~10 ms per 2,000 samples, most of it snappy).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import snappy

from pyconnector.prometheus.xor_chunk import uvarint

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}
SAMPLES_PER_REQUEST = 2000  # Prometheus's max_samples_per_send

# a Sample message: 0x09 + 8-byte double, 0x10 + 6-byte varint timestamp (2^35 <= ms < 2^42,
# i.e. 1971 to 2109): 16 bytes, so every TimeSeries ends with 0x12 0x10 and these 16 bytes
_SAMPLE_HEAD = b"\x12\x10\x09"
_TAIL_BYTES = 15  # the 8 value bytes, 0x10, the 6 timestamp bytes
_MIN_TS, _MAX_TS = 1 << 35, 1 << 42


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return uvarint(number << 3 | 2) + uvarint(len(payload)) + payload


def encode_label(name: str, value: str) -> bytes:
    """One Label field of a TimeSeries."""
    return field(1, field(1, name.encode()) + field(2, value.encode()))


def encode_labels(labels: Iterable[tuple[str, str]]) -> bytes:
    """The Label fields of a TimeSeries, in the given order (Prometheus sends them sorted by name)."""
    return b"".join(encode_label(k, v) for k, v in labels)


def timestamp_varints(times_ms: np.ndarray) -> np.ndarray:
    """uint8[n, 6]: the varint bytes of each timestamp (all must take exactly six bytes)."""
    times = np.asarray(times_ms, dtype=np.int64)
    if times.size and (times.min() < _MIN_TS or times.max() >= _MAX_TS):
        raise ValueError("timestamps must lie between 1971 and 2109 (6-byte varints)")
    shifts = np.arange(0, 42, 7, dtype=np.int64)
    out = ((times[:, None] >> shifts) & 0x7F).astype(np.uint8)
    out[:, :5] |= 0x80
    return out


class RequestEncoder:
    """Encodes requests carrying one sample for each of a list of series.

    Series are numbered by the order of ``add``; ``encode(ids, times, values)`` builds the
    WriteRequest bytes (uncompressed) for those series in that order."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # prefixes added since the last _prepare
        self._flat = np.zeros(0, dtype=np.uint8)
        self._sizes = np.zeros(0, dtype=np.int64)
        self._offsets = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._sizes) + len(self._pending)

    def add(self, label_fields: Sequence[bytes]) -> None:
        """Registers series by their encoded Label fields (``encode_labels``)."""
        for labels in label_fields:
            body_len = len(labels) + 2 + 16  # the labels, then the Sample field (tag, length, 16 bytes)
            self._pending.append(b"\x0a" + uvarint(body_len) + labels + _SAMPLE_HEAD)

    def _prepare(self) -> np.ndarray:
        if self._pending:
            sizes = np.asarray([len(p) for p in self._pending], dtype=np.int64)
            self._flat = np.concatenate([self._flat, np.frombuffer(b"".join(self._pending), dtype=np.uint8)])
            self._sizes = np.concatenate([self._sizes, sizes])
            self._offsets = np.cumsum(self._sizes) - self._sizes
            self._pending = []
        return self._flat

    def label_fields(self, series: int) -> bytes:
        """The Label fields series number ``series`` was added with."""
        flat = self._prepare()
        start, end = int(self._offsets[series]), int(self._offsets[series] + self._sizes[series])
        header = 2 if flat[start + 1] < 0x80 else 3  # 0x0a and a one- or two-byte length
        return flat[start + header:end - len(_SAMPLE_HEAD)].tobytes()

    def encode(self, ids: np.ndarray, times_ms: np.ndarray, values: np.ndarray) -> bytes:
        flat = self._prepare()
        ids = np.asarray(ids, dtype=np.int64)
        sizes = self._sizes[ids]
        entry = sizes + _TAIL_BYTES
        starts = np.cumsum(entry) - entry
        out = np.empty(int(entry.sum()), dtype=np.uint8)
        # prefixes: a ragged copy, source and destination offsets repeated per byte
        within = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        out[np.repeat(starts, sizes) + within] = flat[np.repeat(self._offsets[ids], sizes) + within]
        tail = np.empty((len(ids), _TAIL_BYTES), dtype=np.uint8)
        tail[:, :8] = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(-1, 8)
        tail[:, 8] = 0x10
        tail[:, 9:] = timestamp_varints(times_ms)
        out[(starts + sizes)[:, None] + np.arange(_TAIL_BYTES)] = tail
        return out.tobytes()


@dataclass
class Request:
    body: bytes  # snappy-compressed WriteRequest
    samples: int


def build_requests(encoder: RequestEncoder, ids: np.ndarray, times_ms: np.ndarray,
                   values: np.ndarray) -> list[Request]:
    """Requests of up to SAMPLES_PER_REQUEST samples, in the given order."""
    out = []
    for lo in range(0, len(ids), SAMPLES_PER_REQUEST):
        hi = lo + SAMPLES_PER_REQUEST
        raw = encoder.encode(ids[lo:hi], times_ms[lo:hi], values[lo:hi])
        out.append(Request(snappy.compress(raw), len(ids[lo:hi])))
    return out


class DeadlineExceeded(Exception):
    """The time budget ran out while sending; ``acked`` samples had been acknowledged."""

    def __init__(self, acked: int, elapsed: float):
        super().__init__(f"time budget exceeded after {elapsed:.1f} s ({acked} samples acknowledged)")
        self.acked = acked
        self.elapsed = elapsed


def send_all(url: str, per_sender: list[list[Request]], deadline: float | None = None,
             timeout: float = 600) -> float:
    """Seconds to deliver every request, one keep-alive connection per sender, each in order
    (like Prometheus's queue shards). Raises DeadlineExceeded once time.monotonic() passes
    ``deadline``, RuntimeError on a non-2xx answer."""
    parts = urlsplit(url)
    failures: list[str] = []
    acked = [0] * len(per_sender)
    stop = threading.Event()

    def sender(n: int, requests: list[Request]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            for request in requests:
                if stop.is_set():
                    break
                conn.request("POST", parts.path, body=request.body, headers=HEADERS)
                response = conn.getresponse()
                text = response.read()
                if response.status // 100 != 2:
                    failures.append(f"{response.status} {text[:300]!r}")
                    stop.set()
                    break
                acked[n] += request.samples
        except OSError as exc:
            failures.append(repr(exc))
            stop.set()
        finally:
            conn.close()

    threads = [threading.Thread(target=sender, args=(n, requests)) for n, requests in enumerate(per_sender)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    out_of_time = False
    for t in threads:
        while t.is_alive():
            t.join(0.2)
            if deadline is not None and time.monotonic() > deadline:
                out_of_time = True
                stop.set()  # senders finish the request in flight, then stop
    elapsed = time.perf_counter() - started
    if out_of_time and not failures and sum(acked) < sum(r.samples for requests in per_sender for r in requests):
        raise DeadlineExceeded(sum(acked), elapsed)
    if failures:
        raise RuntimeError(f"{url}: {len(failures)} failed requests, first: {failures[0]}")
    return elapsed
