"""Go's formatting of floats, strings and Prometheus durations, reproduced exactly."""

from __future__ import annotations

import math


def _shortest_digits(v: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |v| and the decimal exponent (d.ddd x 10^exp)."""
    r = repr(abs(v))
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
    else:
        mant, exp = r, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # position of the decimal point relative to the digit string
    point = len(ip) + exp
    lead = len(ip + fp) - len((ip + fp).lstrip("0"))
    point -= lead
    digits = digits.rstrip("0") or "0"
    return digits, point - 1


def format_float_f(v: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64) with Prometheus's NaN/+Inf/-Inf spelling."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    digits, exp = _shortest_digits(v)
    sign = "-" if v < 0 else ""
    if exp >= 0:
        ip = digits[:exp + 1].ljust(exp + 1, "0")
        fp = digits[exp + 1:]
    else:
        ip = "0"
        fp = "0" * (-exp - 1) + digits
    return sign + ip + ("." + fp if fp else "")


def go_sprint_float(v: float) -> str:
    """fmt.Sprint(float64): %g with the shortest digits (exponent when exp < -4 or >= 6)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    digits, exp = _shortest_digits(v)
    sign = "-" if v < 0 else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        es = "-" if exp < 0 else "+"
        return f"{sign}{mant}e{es}{abs(exp):02d}"
    return format_float_f(v)


def format_duration(ms: int) -> str:
    """model.Duration.String()."""
    if ms == 0:
        return "0s"
    r = ""
    for unit, mult, exact in (("y", 31536000000, True), ("w", 604800000, True), ("d", 86400000, False),
                              ("h", 3600000, False), ("m", 60000, False), ("s", 1000, False), ("ms", 1, False)):
        if exact and ms % mult != 0:
            continue
        v = ms // mult
        if v > 0:
            r += f"{v}{unit}"
            ms -= v * mult
    return r


# the backslash escapes Go's strconv.Quote (%q) and encoding/json have in common
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_QUOTE_ESCAPES = {**SHORT_ESCAPES, "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def go_quote(s: str) -> str:
    """strconv.Quote (fmt %q) for valid UTF-8 text."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif o < 0x20 or o == 0x7f:
            out.append("\\x%02x" % o)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def format_float_e(v: float) -> str:
    """strconv.FormatFloat(v, 'e', -1, 64)."""
    digits, exp = _shortest_digits(v)
    sign = "-" if v < 0 else ""
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def format_sample_value(v: float) -> str:
    """Prometheus's jsonutil.MarshalValue: 'f' formatting, 'e' below 1e-6 or from 1e21 on."""
    if math.isnan(v) or math.isinf(v):
        return format_float_f(v)
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        return format_float_e(v)
    return format_float_f(v)
