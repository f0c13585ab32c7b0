"""Prometheus HTTP API parameters: times, durations and form values, parsed exactly
as Prometheus 2.42 does (web/api/v1/api.go parseTime, parseDuration), with its
error messages. Times stay int64 milliseconds: never datetime, which overflows on
the open bounds clients send."""

from __future__ import annotations

import math
import re
from typing import Callable

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from ..go_syntax import INT64_MAX, INT64_MIN, ParamError, go_quote, parse_duration_ns, parse_go_float

# Prometheus's minTime/maxTime, as RFC3339 strings and as milliseconds
MIN_TIME_TEXT = "-292273086-05-16T16:47:06Z"
MAX_TIME_TEXT = "292277025-08-18T07:12:54.999999999Z"
MIN_TIME_MS = -9223372036854
MAX_TIME_MS = 9223372036854

_GO_INT = re.compile(r"[+-]?\d+")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))")


def form(request: Request) -> MultiDict:
    """URL and form-body parameters merged as Go's r.Form: body values first."""
    merged: MultiDict = MultiDict()
    for source in (request.form, request.args):
        for key, values in source.lists():
            for value in values:
                merged.add(key, value)
    return merged


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


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_time(text: str) -> int:
    """Milliseconds since the epoch from unix seconds (float) or RFC3339Nano."""
    number = parse_go_float(text)
    if number is not None and not math.isfinite(number):
        return MIN_TIME_MS  # what Go's int64 conversions make of NaN and ±Inf here
    if number is not None:
        whole = math.trunc(number) if math.isfinite(number) else number
        fraction = number - whole if math.isfinite(number) else 0.0
        seconds = _go_int64(whole)
        nanos = _go_int64(_go_round(fraction * 1000) / 1000 * 1e9)
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
    raise ParamError(f"cannot parse {go_quote(text)} to a valid timestamp")


def time_param(values: MultiDict, name: str, default: int) -> int:
    """parseTimeParam: an absent or empty parameter is the default."""
    text = values.get(name, "")
    if text == "":
        return default
    try:
        return parse_time(text)
    except ParamError as exc:
        raise ParamError(f"invalid parameter {go_quote(name)}: Invalid time value for '{name}': {exc}") from None


def invalid(name: str, cause: str) -> ParamError:
    return ParamError(f"invalid parameter {go_quote(name)}: {cause}")


def int_param(values: MultiDict, name: str, message: Callable[[str], str] | None = None) -> int | None:
    text = values.get(name, "")
    if text == "":
        return None
    if not _GO_INT.fullmatch(text) or not INT64_MIN <= int(text) <= INT64_MAX:
        raise ParamError(message(text) if message else
                         f"invalid parameter {go_quote(name)}: cannot parse {go_quote(text)} to a valid number")
    return int(text)


__all__ = ["INT64_MAX", "INT64_MIN", "MAX_TIME_MS", "MIN_TIME_MS", "ParamError", "form", "go_quote", "int_param",
           "invalid", "parse_duration_ns", "parse_go_float", "parse_time", "time_param"]
