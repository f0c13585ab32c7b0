"""The Prometheus HTTP API's parameters as Prometheus 2.42 parses and checks them
(web/api/v1/api.go parseTime, parseDuration, parseTimeParam, the query_range checks), with its
error messages byte for byte. Times are int64 milliseconds, durations int64 nanoseconds: never
datetime, which overflows on the open bounds clients send.

The connector passes the parameters as it received them (strings); everything that checks or
converts them is here, for the HTTP API and the SQL functions alike.
"""

from __future__ import annotations

import math
import re
from typing import Callable, TypeVar

from ..promql.gofmt import go_quote
from ..promql.lexer import parse_duration

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# Prometheus's minTime/maxTime, as RFC3339 strings and as milliseconds
MIN_TIME_TEXT = "-292273086-05-16T16:47:06Z"
MAX_TIME_TEXT = "292277025-08-18T07:12:54.999999999Z"
MIN_TIME_MS = -9223372036854
MAX_TIME_MS = 9223372036854
MAX_POINTS = 11_000

_GO_INT = re.compile(r"[+-]?\d+")
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+(?:_\d+)*\.?\d*(?:_\d+)*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan"
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+)", re.IGNORECASE)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))")
T = TypeVar("T")
_LABEL_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")


class BadData(Exception):
    """A request Prometheus refuses with errorType bad_data (HTTP 400) and this message."""


def invalid(name: str, cause: str) -> BadData:
    return BadData(f"invalid parameter {go_quote(name)}: {cause}")


def parsed(name: str, text: str, parse: Callable[[str], T], context: str = "") -> T:
    """``parse(text)``; its error names the parameter (invalid parameter "name": context...)."""
    try:
        return parse(text)
    except BadData as exc:
        raise invalid(name, context + str(exc)) from None


# --- Go's number syntax

def parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64), or None where Go would fail."""
    if not _GO_FLOAT.fullmatch(text):
        return None
    if text.lower().lstrip("+-").startswith("0x"):
        sign = -1.0 if text.startswith("-") else 1.0
        return sign * float.fromhex(text.lstrip("+-"))
    if "_" in text:
        return None  # Go allows underscores only with a base prefix
    try:
        return float(text)
    except (ValueError, OverflowError):
        return None


def _go_int64(value: float) -> int:
    """Go's int64(float) on amd64: out of range (and NaN) gives INT64_MIN."""
    if math.isnan(value) or not (INT64_MIN <= value < 2.0**63):
        return INT64_MIN
    return int(value)


def _go_round(value: float) -> float:
    """math.Round: half away from zero (Python's round() is half to even)."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _wrap64(value: int) -> int:
    return (value + (1 << 63)) % (1 << 64) - (1 << 63)


# --- durations

def parse_duration_ns(text: str) -> int:
    """parseDuration: nanoseconds (Go time.Duration) from float seconds or a Prometheus
    duration such as 1h30m."""
    number = parse_go_float(text)
    if number is not None:
        nanos = number * 1e9
        if math.isnan(nanos) or not (-(2.0**63) <= nanos <= 2.0**63):
            raise BadData(f"cannot parse {go_quote(text)} to a valid duration. It overflows int64")
        return max(INT64_MIN, min(INT64_MAX, int(nanos)))
    try:
        millis = parse_duration(text)
    except ValueError:
        millis = None
    if millis is None or millis * 1_000_000 > INT64_MAX:
        raise BadData(f"cannot parse {go_quote(text)} to a valid duration")
    return millis * 1_000_000


def duration_param(form: dict, name: str) -> int | None:
    """An optional duration parameter in nanoseconds; None when absent or empty."""
    text = first(form, name)
    return None if text == "" else parsed(name, text, parse_duration_ns)


def required_duration(form: dict, name: str) -> int:
    """query_range's step, in nanoseconds."""
    return parsed(name, first(form, name), parse_duration_ns)


def timeout_seconds(text: str | None) -> float | None:
    """The ``timeout`` parameter in seconds (the engine's deadline); None when absent."""
    return parsed("timeout", text, parse_duration_ns) / 1e9 if text else None


def statement_timeout_ms(text: str | None, max_ms: int) -> int:
    """The statement_timeout of a query: its ``timeout`` parameter bounded by the connector's
    --query-timeout (``max_ms``), at least 1 ms; ``max_ms`` when absent or unparsable (the
    query itself then answers the parameter's error)."""
    if not text:
        return max_ms
    try:
        requested_ns = parse_duration_ns(text)
    except BadData:
        return max_ms
    return max(1, min(requested_ns // 1_000_000, max_ms))


# --- times

def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_time(text: str) -> int:
    """parseTime: milliseconds since the epoch from unix seconds (float) or RFC3339Nano."""
    number = parse_go_float(text)
    if number is not None and not math.isfinite(number):
        return MIN_TIME_MS  # what Go's int64 conversions make of NaN and ±Inf here
    if number is not None:
        whole = math.trunc(number)
        seconds = _go_int64(whole)
        nanos = _go_int64(_go_round((number - whole) * 1000) / 1000 * 1e9)
        # time.Unix normalises nanos into [0, 1e9); FromTime = Unix()*1000 + ns/1e6
        seconds, nanos = seconds + nanos // 1_000_000_000, nanos % 1_000_000_000
        return _wrap64(seconds * 1000 + nanos // 1_000_000)
    m = _RFC3339.fullmatch(text)
    if m:
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        if 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60:
            nanos = int((m.group(7) or "0")[:9].ljust(9, "0"))
            offset = 0 if m.group(8) else (1 if m.group(9) == "+" else -1) * (int(m.group(10)) * 60 + int(m.group(11)))
            seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset * 60
            return seconds * 1000 + nanos // 1_000_000
    if text == MIN_TIME_TEXT:
        return MIN_TIME_MS
    if text == MAX_TIME_TEXT:
        return MAX_TIME_MS
    raise BadData(f"cannot parse {go_quote(text)} to a valid timestamp")


def seconds_to_ms(t: float) -> int:
    """Float seconds given to a SQL function, as parseTime reads them, in milliseconds."""
    if math.isnan(t) or math.isinf(t):
        raise BadData(f"cannot parse {t!r} to a valid timestamp")
    sec = math.trunc(t)
    frac = (t - sec) * 1000  # math.Round(ns*1000)/1000, then nanoseconds -> milliseconds
    ms = math.floor(frac + 0.5) if frac >= 0 else -math.floor(-frac + 0.5)
    return int(sec) * 1000 + int(ms)


def time_param(form: dict, name: str, default: int) -> int:
    """parseTimeParam: an absent or empty parameter is the default."""
    text = first(form, name)
    return default if text == "" else parsed(name, text, parse_time, f"Invalid time value for '{name}': ")


def required_time(form: dict, name: str) -> int:
    """query_range's start and end: required, named in the error."""
    return parsed(name, first(form, name), parse_time)


def open_range(form: dict) -> tuple[int, int]:
    """start/end of series, labels, values, exemplars and delete_series (open by default)."""
    return time_param(form, "start", MIN_TIME_MS), time_param(form, "end", MAX_TIME_MS)


# --- ranges and steps

def check_bounds(start_ms: int, end_ms: int) -> None:
    if end_ms < start_ms:
        raise invalid("end", "end timestamp must not be before start time")


def check_step(step_ns: int) -> None:
    if step_ns <= 0:
        raise invalid("step", "zero or negative query resolution step widths are not accepted. "
                              "Try a positive integer")


def check_points(start_ms: int, end_ms: int, step_ns: int) -> None:
    # Go: end.Sub(start) / step on int64 nanoseconds (saturating subtraction, truncating division)
    if min((end_ms - start_ms) * 1_000_000, INT64_MAX) // step_ns > MAX_POINTS:
        raise BadData("exceeded maximum resolution of 11,000 points per timeseries. "
                      "Try decreasing the query resolution (?step=XX)")


def check_range(start_ms: int, end_ms: int, step_ns: int) -> None:
    """query_range's checks, in Prometheus's order."""
    check_bounds(start_ms, end_ms)
    check_step(step_ns)
    check_points(start_ms, end_ms, step_ns)


# --- other values

def first(form: dict, name: str) -> str:
    """Go's r.FormValue: the first value of a parameter, "" when absent."""
    values = form.get(name)
    return values[0] if values else ""


def int_param(form: dict, name: str, message: str | None = None) -> int | None:
    """An optional int64 parameter; ``message``: Prometheus's own text for a bad one."""
    text = first(form, name)
    if text == "":
        return None
    if not _GO_INT.fullmatch(text) or not INT64_MIN <= int(text) <= INT64_MAX:
        raise BadData(message or f"invalid parameter {go_quote(name)}: cannot parse {go_quote(text)} "
                                 "to a valid number")
    return int(text)


def required_match(selectors: list[str] | None) -> list[str]:
    """series' and delete_series' match[]: at least one."""
    if not selectors:
        raise BadData("no match[] parameter provided")
    return selectors


def limit_param(form: dict) -> int | None:
    """series/labels/values' ``limit``: 0 and negative mean none."""
    limit = int_param(form, "limit")
    return limit if limit is not None and limit > 0 else None


def is_label_name(name: str) -> bool:
    return bool(name) and not name[0].isdigit() and all(ch in _LABEL_NAME_CHARS for ch in name)
