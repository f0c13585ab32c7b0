"""JSON exactly as Prometheus 2.42 writes it: Go's HTML-safe string escaping, sample values
and timestamps in Go's float formatting, and the API's success and error envelopes with the
HTTP status of each error type. Every response body of the extension is written with these.
"""

from __future__ import annotations

import re
from typing import Any

from ..promql.gofmt import SHORT_ESCAPES, format_float_e, format_float_f, format_sample_value

# web/api/v1/api.go respondError: the HTTP status of each errorType
STATUS_OF_ERROR_TYPE = {
    "bad_data": 400,
    "execution": 422,
    "timeout": 503,
    "canceled": 503,
    "internal": 500,
    "not_found": 404,
    "unavailable": 500,
}

# a character Go's encoder escapes (or replaces: lone surrogates are invalid UTF-8)
_ESCAPED = re.compile("[\x00-\x1f\"\\\\<>&\u2028\u2029\ud800-\udfff]")


def json_string(s: str) -> str:
    """A JSON string as Go's encoding/json writes it (HTML-safe escapes)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in SHORT_ESCAPES:
            out.append(SHORT_ESCAPES[ch])
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_ts(t: int) -> str:
    """A millisecond timestamp as seconds with a 3-digit fraction when non-zero ("1435781451.780")."""
    sign = ""
    if t < 0:
        sign = "-"
        t = -t
    s = f"{sign}{t // 1000}"
    frac = t % 1000
    if frac:
        s += "." + f"{frac:03d}"
    return s


def string(value: str) -> str:
    """A JSON string as Go writes it; label names and values rarely need an escape, and
    finding that out with one regex search is ten times faster than escaping."""
    return json_string(value) if _ESCAPED.search(value) else '"' + value + '"'


def string_list(values: list[str]) -> str:
    """A JSON array of strings: thousands of label values checked with a single search."""
    if _ESCAPED.search("".join(values)):
        return "[" + ",".join(map(json_string, values)) + "]"
    return '["' + '","'.join(values) + '"]' if values else "[]"


def label_sets(sets: list[tuple[tuple[str, str], ...]]) -> str:
    """A JSON array of label sets given as sorted (name, value) pairs (Go sorts map keys).
    Label names never need an escape; the values are checked all at once (60,000 label sets:
    0.15 s instead of 0.5 s escaping string by string)."""
    if _ESCAPED.search("".join([v for pairs in sets for _, v in pairs])):
        return "[" + ",".join("{" + ",".join(string(k) + ":" + string(v) for k, v in pairs) + "}"
                              for pairs in sets) + "]"
    return "[" + ",".join(["{" + ",".join([f'"{k}":"{v}"' for k, v in pairs]) + "}" for pairs in sets]) + "]"


def json_float(v: float) -> str:
    """A float64 as encoding/json writes it: 'f' formatting, 'e' below 1e-6 and from 1e21 on,
    with the exponent's leading zero dropped (1e-7, not 1e-07)."""
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mantissa, _, exp = format_float_e(v).partition("e")
        return f"{mantissa}e{exp[0]}{exp[1:].lstrip('0') or '0'}"
    return format_float_f(v)


def dumps(value: Any) -> str:
    """Compact JSON as encoding/json writes it (strings, numbers, booleans, null, lists, dicts).
    Dicts keep their order: build Go maps with sorted keys (Go sorts map keys), structs in
    their field order."""
    if isinstance(value, str):
        return string(value)
    if isinstance(value, dict):
        return "{" + ",".join(string(str(k)) + ":" + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_float(value)
    raise TypeError(f"gojson.dumps does not encode {type(value).__name__}")


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it in vectors, matrices and exemplars."""
    return format_sample_value(value)


def format_timestamp_ms(millis: int) -> str:
    """Seconds with a 3-digit millisecond fraction when non-zero ("1435781451.780")."""
    return json_ts(millis)


def success(data_json: str, warnings: list[str] | None = None) -> str:
    """Prometheus's success envelope; "warnings" only when there are some, as Prometheus."""
    if not warnings:
        return '{"status":"success","data":' + data_json + "}"
    return '{"status":"success","data":' + data_json + ',"warnings":' + string_list(warnings) + "}"


def error(error_type: str, message: str) -> str:
    return '{"status":"error","errorType":' + json_string(error_type) + ',"error":' + json_string(message) + "}"


def status_of_error(error_type: str) -> int:
    """The HTTP status Prometheus answers an error of this type with."""
    return STATUS_OF_ERROR_TYPE.get(error_type, 500)


_ERROR_PREFIX = '{"status":"error","errorType":"'


def status_of(body: str) -> int:
    """The HTTP status of a body written by success() or error()."""
    if body.startswith(_ERROR_PREFIX):
        return status_of_error(body[len(_ERROR_PREFIX):].split('"', 1)[0])
    return 200
