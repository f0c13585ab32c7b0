"""Reading a request body within a size limit and a time limit, for every protocol.

A client that sends its headers and then stalls (or trickles its body) holds one of the
worker's threads for as long as it likes: 16 such sockets once made /healthz time out for as
long as they stayed. The body is therefore read in chunks against a deadline for the whole of
it (--body-timeout), not a timeout per read, which a byte every few seconds would reset.
Under gunicorn the request's socket is in the WSGI environ, and its timeout bounds each read;
other servers (werkzeug's, in tests) read without it.
"""

from __future__ import annotations

import time

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request

CHUNK = 1 << 16


class BodyTooLarge(Exception):
    """The body is over the size limit (each protocol answers 413)."""


class BodyTimeout(Exception):
    """The body did not arrive in time (each protocol answers 408)."""


def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """At most ``limit`` bytes of body, all of it received within ``timeout_s`` seconds."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"request body of {request.content_length} bytes is over the limit of {limit}")
    sock = request.environ.get("gunicorn.socket")
    deadline = time.monotonic() + timeout_s
    chunks: list[bytes] = []
    size = 0
    previous = sock.gettimeout() if sock is not None else None
    try:
        while size <= limit:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BodyTimeout(f"request body not received within {timeout_s:g} s (--body-timeout)")
            if sock is not None:
                sock.settimeout(left)
            try:
                chunk = request.stream.read(min(CHUNK, limit + 1 - size))
            except (TimeoutError, ClientDisconnected) as exc:
                # werkzeug turns the socket's timeout into ClientDisconnected (400); a timeout
                # is the client's slowness, a disconnect its absence
                if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
                    raise BodyTimeout(f"request body not received within {timeout_s:g} s (--body-timeout)") from None
                raise
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        if sock is not None:
            sock.settimeout(previous)
    if size > limit:
        raise BodyTooLarge(f"request body is over the limit of {limit} bytes")
    return b"".join(chunks)
