"""Go's side of rule templates: values as Python holds them (str, float for Go's float64,
int, bool, None for nil, dict for a map, list for a query result), their printing (fmt.Sprint,
a subset of fmt.Sprintf), truth, field access and text/template's builtin functions."""

from __future__ import annotations

import datetime
import html as _html
import math
import urllib.parse
from typing import Any, Callable

from ..promql.gofmt import go_quote, go_sprint_float


class FuncError(Exception):
    """A template function's error (Go's ``error`` result)."""


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _NoValue()  # no piped argument / Go's invalid reflect.Value


# --- literals -------------------------------------------------------------------------------

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\",
            '"': '"', "'": "'"}


def go_unquote(body: str, err: Callable[[str], Exception]) -> str:
    """The text of a Go interpreted string literal's body."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2:i + 2 + width]
            try:
                out.append(chr(int(digits, 16)) if len(digits) == width else "")
            except ValueError:
                raise err("invalid syntax in quoted string") from None
            i += 2 + width
        elif nxt.isdigit():
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            raise err("invalid syntax in quoted string")
    return "".join(out)


def parse_go_number(text: str, err: Callable[[str], Exception]) -> int | float:
    clean = text.replace("_", "")
    try:
        if clean.lstrip("+-").lower().startswith("0x"):
            return int(clean, 16)
        if any(c in clean for c in ".eE"):
            return float(clean)
        return int(clean)
    except ValueError:
        raise err(f"bad number syntax: {text!r}") from None


# --- printing, truth, fields ------------------------------------------------------------

def go_print(v: Any) -> str:
    """fmt.Sprint of one value."""
    if v is NO_VALUE or v is None:
        return "<no value>" if v is NO_VALUE else "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_sprint_float(v)
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, datetime.datetime):
        return go_time(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{go_print(k)}:{go_print(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(go_print(x) for x in v) + "]"
    return str(v)


def go_time(t: datetime.datetime) -> str:
    """time.Time.String() of a UTC time: 2006-01-02 15:04:05.999999999 +0000 UTC."""
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    if t.microsecond:
        text += ("." + f"{t.microsecond:06d}").rstrip("0")
    return text + " +0000 UTC"


def truth(v: Any) -> bool:
    if v is NO_VALUE or v is None:
        return False
    if isinstance(v, (bool, int, float, str, dict, list, tuple)):
        return bool(v)
    return True


def fields_of(v: Any, names: list[str]) -> Any:
    """``v.a.b``: map keys (missing: "", Prometheus's missingkey=zero)."""
    for name in names:
        if isinstance(v, dict):
            v = v.get(name, "")
        elif v is None or v is NO_VALUE:
            raise FuncError(f"nil pointer evaluating .{name}")
        else:
            raise FuncError(f"can't evaluate field {name} in type {go_type(v)}")
    return v


def go_type(v: Any) -> str:
    return {bool: "bool", int: "int", float: "float64", str: "string", dict: "map[string]string",
            list: "template.queryResult"}.get(type(v), type(v).__name__)


def range_pairs(v: Any) -> list[tuple[Any, Any]]:
    if v is None or v is NO_VALUE:
        return []
    if isinstance(v, dict):
        return [(k, v[k]) for k in sorted(v)]
    if isinstance(v, (list, tuple)):
        return list(enumerate(v))
    raise FuncError(f"range can't iterate over {go_print(v)}")


# --- Go's builtins --------------------------------------------------------------------------

def _eq(a: Any, *bs: Any) -> bool:
    if not bs:
        raise FuncError("missing argument for comparison")
    return any(_cmp_ok(a, b) and a == b for b in bs)


def _cmp_ok(a: Any, b: Any) -> bool:
    numeric = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        if type(a) is not type(b):
            raise FuncError("incompatible types for comparison")
        return True
    if isinstance(a, numeric) and isinstance(b, numeric):
        if type(a) is not type(b):
            raise FuncError("incompatible types for comparison")
        return True
    if type(a) is not type(b):
        raise FuncError("incompatible types for comparison")
    return True


def _lt(a: Any, b: Any) -> bool:
    _cmp_ok(a, b)
    if not isinstance(a, (int, float, str)) or isinstance(a, bool):
        raise FuncError("invalid type for comparison")
    return a < b


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, dict):
            v = v.get(k, "")
        elif isinstance(v, (list, tuple, str)):
            if not isinstance(k, int) or not 0 <= k < len(v):
                raise FuncError(f"index out of range: {k}")
            v = v[k]
        else:
            raise FuncError(f"can't index item of type {go_type(v)}")
    return v


def _len(v: Any) -> int:
    if isinstance(v, (str, dict, list, tuple)):
        return len(v.encode() if isinstance(v, str) else v)
    raise FuncError(f"len of type {go_type(v)}")


def _and(*args: Any) -> Any:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truth(a):
            return a
    return args[-1]


def go_sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_print(a)
    return out


MAX_FORMAT_WIDTH = 10_000  # a template cannot make printf allocate without bound


def go_sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs templates use: %s %v %d %f %e %g %q %t %x %%, with width,
    precision and the - + 0 flags."""
    import re
    out: list[str] = []
    arg_i = 0
    pos = 0
    for m in re.finditer(r"%([-+ #0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])", fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if int(width or 0) > MAX_FORMAT_WIDTH or int(prec or 0) > MAX_FORMAT_WIDTH:
            raise FuncError(f"printf width or precision above {MAX_FORMAT_WIDTH}")
        if verb == "%":
            out.append("%")
            continue
        if arg_i >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[arg_i]
        arg_i += 1
        out.append(_pad(_format_one(verb, a, prec), flags, width))
    out.append(fmt[pos:])
    if arg_i < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={go_print(a)}" for a in args[arg_i:]) + ")")
    return "".join(out)


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width:
        return text
    w = int(width)
    if "-" in flags:
        return text.ljust(w)
    if "0" in flags and text[:1] in "+-0123456789":
        sign = text[0] if text[0] in "+-" else ""
        return sign + text[len(sign):].rjust(w - len(sign), "0")
    return text.rjust(w)


def _format_one(verb: str, a: Any, prec: str | None) -> str:
    bad = f"%!{verb}({go_type(a)}={go_print(a)})"
    if verb in "vs":
        return go_print(a) if verb == "v" or isinstance(a, str) or not isinstance(a, (int, float)) else bad
    if verb == "q":
        return go_quote(a) if isinstance(a, str) else bad
    if verb == "t":
        return go_print(a) if isinstance(a, bool) else bad
    if verb == "d":
        return str(a) if isinstance(a, int) and not isinstance(a, bool) else bad
    if verb in "xX":
        if isinstance(a, int) and not isinstance(a, bool):
            return format(a, verb)
        if isinstance(a, str):
            return a.encode().hex() if verb == "x" else a.encode().hex().upper()
        return bad
    if verb in "feEgG":
        if not isinstance(a, float):
            return bad
        return go_float(a, verb, None if prec is None else int(prec))
    return f"%!{verb}({go_type(a)}={go_print(a)})"


def go_float(v: float, verb: str, prec: int | None) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if verb in "gG" and prec is None:
        return go_sprint_float(v)
    p = 6 if prec is None else prec
    text = f"%.{p}{verb}" % v
    if verb in "gG":
        # Go's %g keeps at least two exponent digits like C; Python too. Same text.
        return text
    return text


def builtins() -> dict[str, Callable[..., Any]]:
    """text/template's predefined functions."""
    return {
        "and": _and, "or": _or, "not": lambda a: not truth(a), "len": _len, "index": _index,
        "print": go_sprint, "printf": go_sprintf, "println": lambda *a: " ".join(go_print(x) for x in a) + "\n",
        "eq": _eq, "ne": lambda a, b: not _eq(a, b), "lt": _lt, "le": lambda a, b: _lt(a, b) or _eq(a, b),
        "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)), "ge": lambda a, b: not _lt(a, b),
        "html": lambda *a: _html.escape(go_sprint(*a)), "js": lambda *a: go_sprint(*a).replace("\\", "\\\\")
        .replace("'", "\\'").replace('"', '\\"'),
        "urlquery": lambda *a: urllib.parse.quote_plus(go_sprint(*a)),
        "slice": lambda s, *ix: s[ix[0] if ix else 0:ix[1] if len(ix) > 1 else None],
        "call": lambda f, *a: f(*a),
    }
