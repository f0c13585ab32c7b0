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


def micros_param(args: MultiDict, name: str, default: datetime) -> datetime:
    raw = args.get(name)
    if not raw:
        return default
    try:
        return datetime.fromtimestamp(int(raw) / 1e6, tz=timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise JaegerError(400, f"unable to parse param '{name}': {raw!r} is not an integer of microseconds") from exc


def int_param(args: MultiDict, name: str, default: int) -> int:
    raw = args.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise JaegerError(400, f"unable to parse param '{name}': {raw!r} is not an integer") from exc


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
