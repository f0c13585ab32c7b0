"""Jaeger query API parameters, parsed as Jaeger 1.38's HTTP handler does; a bad one raises
JaegerError, which the protocol's error hook (handlers.Jaeger.error_response) answers in
Jaeger's JSON error shape."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from werkzeug.datastructures import MultiDict

SPAN_KINDS = ("server", "client", "producer", "consumer", "internal")
DEFAULT_LIMIT = 100
# Jaeger has no maximum; every trace found is read and rendered in memory, so a search asks
# for at most this many (a refused request names it)
MAX_LIMIT = 10_000
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class JaegerError(Exception):
    """A request Jaeger would refuse: HTTP status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> timedelta:
    """A Go time.ParseDuration string ('1.2s', '100ms', '1h15m', '500us') as a timedelta."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    while pos < len(s):
        match = _DURATION_PART.match(s, pos)
        if not match:
            raise ValueError(f"time: invalid duration {text!r}")
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    return timedelta(seconds=sign * seconds)


def parse_trace_id(text: str) -> str:
    """32 lower-case hex digits of a Jaeger trace id (up to 32 hex; shorter fills the low bits)."""
    if not text or len(text) > 32 or not re.fullmatch(r"[0-9a-fA-F]+", text):
        raise JaegerError(400, f"cannot parse traceID {text!r}: expected up to 32 hex digits")
    return text.lower().rjust(32, "0")


def int_param(args: MultiDict, name: str, default: int) -> int:
    """A 64-bit integer parameter (Go's strconv.ParseInt: anything outside int64 is refused)."""
    raw = args.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise JaegerError(400, f"unable to parse param '{name}': {raw!r} is not an integer") from exc
    if not INT64_MIN <= value <= INT64_MAX:
        raise JaegerError(400, f"unable to parse param '{name}': {raw!r} is out of the 64-bit integer range")
    return value


def time_param(args: MultiDict, name: str, default: datetime, unit_seconds: float) -> datetime:
    """A time given as an integer count of ``unit_seconds`` since 1970 (microseconds for search
    ranges, milliseconds for the dependencies' endTs), within the years 1 to 9999."""
    raw = args.get(name)
    if not raw:
        return default
    value = int_param(args, name, 0)
    try:
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=value * unit_seconds)
    except OverflowError:
        raise JaegerError(400, f"unable to parse param '{name}': {raw!r} is outside the years 1 to 9999") from None


def micros_param(args: MultiDict, name: str, default: datetime) -> datetime:
    return time_param(args, name, default, 1e-6)


def limit_param(args: MultiDict) -> int:
    """The number of traces a search returns: DEFAULT_LIMIT when absent or not positive (as
    Jaeger), at most MAX_LIMIT."""
    limit = int_param(args, "limit", DEFAULT_LIMIT)
    if limit <= 0:
        return DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise JaegerError(400, f"parameter 'limit' is {limit}; a search returns at most {MAX_LIMIT} traces")
    return limit


def before(end: datetime, span: timedelta, name: str) -> datetime:
    """``end - span``, or a 400 naming parameter ``name`` when that leaves the years 1 to 9999."""
    try:
        return end - span
    except OverflowError:
        raise JaegerError(400, f"parameter '{name}' reaches before the year 1") from None


def duration_param(args: MultiDict, name: str) -> timedelta | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return parse_go_duration(raw)
    except ValueError as exc:
        raise JaegerError(400, f"unable to parse param '{name}': {exc}") from exc


def parse_tags(args: MultiDict) -> dict[str, str]:
    tags: dict[str, str] = {}
    for raw in args.getlist("tags"):
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise JaegerError(400, f"malformed 'tags' parameter, expecting JSON object: {raw!r}") from exc
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise JaegerError(400, f"malformed 'tags' parameter, expecting a JSON object of strings: {raw!r}")
        tags.update(parsed)
    for raw in args.getlist("tag"):
        key, sep, value = raw.partition(":")
        if not sep:
            raise JaegerError(400, f"malformed 'tag' parameter, expecting key:value, received: {raw!r}")
        tags[key] = value
    return tags
