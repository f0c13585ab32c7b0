"""Values written as Prometheus (a Go program) writes them: floats (strconv.ParseFloat),
durations (float seconds or 1h30m), quoting (%q), with Prometheus's error messages.

Shared by the connector's flags (config.py: --query-timeout 2m) and the Prometheus HTTP API's
parameters (prometheus/params.py).
"""

from __future__ import annotations

import math
import re

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+(?:_\d+)*\.?\d*(?:_\d+)*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan"
    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+)", re.IGNORECASE)
_PROM_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


class ParamError(Exception):
    """A bad parameter: Prometheus answers bad_data with this message."""


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


def parse_duration_ns(text: str) -> int:
    """A duration in nanoseconds (Go time.Duration) from float seconds or a
    Prometheus duration such as 1h30m."""
    number = parse_go_float(text)
    if number is not None:
        nanos = number * 1e9
        if math.isnan(nanos) or not (-(2.0**63) <= nanos <= 2.0**63):
            raise ParamError(f"cannot parse {go_quote(text)} to a valid duration. It overflows int64")
        return max(INT64_MIN, min(INT64_MAX, int(nanos)))
    m = _PROM_DURATION.fullmatch(text) if text else None
    if m and any(m.groups()):
        millis = sum(int(g) * unit for g, unit in zip(m.groups(), _DURATION_MS) if g)
        if millis * 1_000_000 > INT64_MAX:
            raise ParamError(f"cannot parse {go_quote(text)} to a valid duration")
        return millis * 1_000_000
    raise ParamError(f"cannot parse {go_quote(text)} to a valid duration")


def go_quote(text: str) -> str:
    """Go's %q for the strings users send (ASCII printable as is, the rest escaped)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out) + '"'
