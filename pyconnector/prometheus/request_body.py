"""The body of a remote_write or remote_read request: a snappy block of one protobuf message,
checked (media type, message type, encoding, size) before anything is read or decoded.

``protocol`` ("remote_write", "remote_read") and ``message`` ("prometheus.WriteRequest") name
what was expected in the errors, which the protocol's error hook answers (errors.py).
"""

from __future__ import annotations

import snappy
from werkzeug.wrappers import Request

from ..body import read_body
from .errors import BadRequest, TooLarge, UnsupportedMediaType

PROTOBUF = "application/x-protobuf"


def snappy_protobuf_body(request: Request, limit: int, timeout_s: float, protocol: str, message: str) -> bytes:
    """The raw (still compressed) body of a ``protocol`` request ("remote_write") carrying a
    ``message`` ("prometheus.WriteRequest"), at most ``limit`` bytes, received within
    ``timeout_s`` seconds (pyconnector/body.py)."""
    # required, not only checked when present: a web page can POST a body without a content type
    # (or a "simple" one) to another site without a CORS preflight
    if request.mimetype != PROTOBUF:
        given = repr(request.content_type) if request.content_type else "none"
        raise UnsupportedMediaType(f"unsupported Content-Type {given}: {protocol} needs {PROTOBUF}")
    proto = request.mimetype_params.get("proto")
    if proto not in (None, message):
        raise UnsupportedMediaType(f"unsupported {protocol} message {proto!r}: only {message} (1.0)")
    encoding = request.headers.get("Content-Encoding", "snappy").strip().lower()
    if encoding != "snappy":
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}: {protocol} bodies are snappy")
    return read_body(request, limit, timeout_s)


def uvarint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """(value, next position) of the unsigned varint at ``pos``."""
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BadRequest("malformed snappy data: truncated length header")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def decompress(body: bytes, max_decoded_bytes: int, protocol: str, message: str) -> bytes:
    """Snappy block format (not framed), with the decoded size checked before decoding."""
    if not body:
        raise BadRequest(f"empty request body: expected a snappy-compressed {message.removeprefix('prometheus.')}")
    decoded_size, _ = uvarint(body)
    if decoded_size > max_decoded_bytes:
        raise TooLarge(f"decompressed body would be {decoded_size} bytes, over the limit of {max_decoded_bytes}")
    try:
        return snappy.uncompress(body)
    except Exception as exc:  # python-snappy raises its own error types
        raise BadRequest(f"malformed snappy data ({protocol} needs the snappy block format): {exc}") from exc
