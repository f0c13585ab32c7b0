"""JSON exactly as Prometheus 2.42 writes it (Go encoding via json-iterator).

Differences from Python's json module that clients can see: HTML characters and
U+2028/U+2029 are escaped, control characters use \\u00XX except \\n \\r \\t, map keys
are sorted bytewise, and sample values are strings in Go float formatting.
"""

from __future__ import annotations

import json
import math
from typing import Any

_GO_ESCAPES = str.maketrans({
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
    "\u2028": "\\u2028", "\u2029": "\\u2029",
})


def dumps(value: Any) -> str:
    """Compact JSON with Go's escaping. Dicts keep their order: build Go maps with
    sorted keys (Go sorts map keys), structs in their field order."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # Python writes \b and \f as short escapes; Go 1.19 writes \u0008 and \u000c
    text = text.replace("\\b", "\\u0008").replace("\\f", "\\u000c") if ("\\b" in text or "\\f" in text) else text
    return text.translate(_GO_ESCAPES)


def _fixed(value: float) -> str:
    """Go strconv.FormatFloat(value, 'f', -1, 64): shortest digits, never an exponent."""
    text = repr(value)
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    mantissa, exponent = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    point = (mantissa.index(".") if "." in mantissa else len(mantissa)) + int(exponent)
    digits = mantissa.replace(".", "")
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it in vectors, matrices and exemplars."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return repr(value)  # Python's shortest 'e' form equals Go's ("1e-07", "1.5e+21")
    return _fixed(value)


def format_scalar(value: float) -> str:
    """A scalar result's value: Go 'f' formatting without the exponent switch."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return _fixed(value)


def format_timestamp_ms(millis: int) -> str:
    """A millisecond timestamp as Prometheus writes it: seconds with a 3-digit fraction when non-zero."""
    sign = "-" if millis < 0 else ""
    seconds, fraction = divmod(abs(millis), 1000)
    return f"{sign}{seconds}.{fraction:03d}" if fraction else f"{sign}{seconds}"


def success(data_json: str) -> str:
    return '{"status":"success","data":' + data_json + "}"


def error(error_type: str, message: str) -> str:
    return '{"status":"error","errorType":' + dumps(error_type) + ',"error":' + dumps(message) + "}"
