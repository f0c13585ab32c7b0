"""JSON exactly as Prometheus 2.42 writes it, for the non-query endpoints.

The formatting rules themselves (Go's HTML-safe string escaping, sample values in Go float
formatting, millisecond timestamps) are the PromQL engine's (promscale.promql.api/gofmt),
so every endpoint writes numbers and strings the same way.
"""

from __future__ import annotations

import re
from typing import Any

from ..promql.api import json_string, json_ts
from ..promql.gofmt import format_sample_value

# a character Go's encoder escapes (or replaces: lone surrogates are invalid UTF-8)
_ESCAPED = re.compile("[\x00-\x1f\"\\\\<>&\u2028\u2029\ud800-\udfff]")


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


def dumps(value: Any) -> str:
    """Compact JSON of str / list / dict values. Dicts keep their order: build Go maps with
    sorted keys (Go sorts map keys), structs in their field order."""
    if isinstance(value, str):
        return string(value)
    if isinstance(value, dict):
        return "{" + ",".join(string(k) + ":" + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"gojson.dumps does not encode {type(value).__name__}")


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it in vectors, matrices and exemplars."""
    return format_sample_value(value)


def format_timestamp_ms(millis: int) -> str:
    """Seconds with a 3-digit millisecond fraction when non-zero ("1435781451.780")."""
    return json_ts(millis)


def success(data_json: str) -> str:
    return '{"status":"success","data":' + data_json + "}"


def error(error_type: str, message: str) -> str:
    return '{"status":"error","errorType":' + json_string(error_type) + ',"error":' + json_string(message) + "}"
