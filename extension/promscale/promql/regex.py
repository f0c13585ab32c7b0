"""Go RE2 regular expressions on Python's re: translate where they differ, reject what RE2 rejects.

PromQL anchors every matcher regex at both ends; callers use ``compile_anchored(p).fullmatch``.
"""

from __future__ import annotations

import functools
import re

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
# RE2's Perl classes are ASCII-only; Python's are Unicode-aware
_PERL = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}


class RegexError(ValueError):
    pass


def _translate(p: str) -> str:
    out = []
    i, n = 0, len(p)
    in_class = False
    # per open group: how many scoped-flag groups "(?i:" we opened inside it (RE2's "(?i)" applies to
    # the rest of the enclosing group; Python only takes global flags at the very start)
    opened = [0]
    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise RegexError("trailing backslash at end of expression: ``")
            e = p[i + 1]
            if e in "dws":
                out.append(_PERL[e] if in_class else f"[{_PERL[e]}]")
            elif e in "DWS":
                if in_class:
                    raise RegexError(f"invalid character class range: `\\{e}`")
                out.append(f"[^{_PERL[e.lower()]}]")
            elif e == "z":
                out.append("\\Z")
            elif e == "Q":
                end = p.find("\\E", i + 2)
                lit = p[i + 2:] if end < 0 else p[i + 2:end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            elif e in "pP":
                raise RegexError(f"invalid character class range: `\\{e}`")
            elif e.isdigit() and e != "0":
                raise RegexError(f"invalid escape sequence: `\\{e}`")
            elif e in "CXRKgGNhHVuZ":
                raise RegexError(f"invalid escape sequence: `\\{e}`")
            else:
                out.append(c + e)
            i += 2
            continue
        if in_class:
            if c == "[" and p.startswith("[:", i):
                end = p.find(":]", i + 2)
                name = p[i + 2:end] if end > 0 else ""
                neg = name.startswith("^")
                if neg:
                    raise RegexError(f"invalid character class range: `[:{name}:]`")
                if name in _POSIX:
                    out.append(_POSIX[name])
                    i = end + 2
                    continue
                if end > 0:
                    raise RegexError(f"invalid character class range: `[:{name}:]`")
            if c == "[":
                out.append("\\[")
                i += 1
                continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and p[i] == "^":
                out.append("^")
                i += 1
            if i < n and p[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(" and p.startswith("(?", i):
            rest = p[i + 2:i + 4]
            if rest.startswith(("=", "!", "<=", "<!", ">", "#")) or rest.startswith("P="):
                raise RegexError(f"invalid or unsupported Perl syntax: `{p[i:i + 3]}`")
            fm = re.match(r"\(\?([imsU]*)(?:-([imsU]*))?\)", p[i:])
            if fm:
                if "U" in fm.group(0):
                    raise RegexError(f"invalid or unsupported Perl syntax: `{fm.group(0)}`")
                out.append(fm.group(0)[:-1] + ":")
                opened[-1] += 1
                i += len(fm.group(0))
                continue
        if c == "(":
            opened.append(0)
        if c == ")" and len(opened) > 1:
            out.append(")" * opened.pop())
        if c == "$":
            out.append("(?!(?s:.))")
            i += 1
            continue
        out.append(c)
        i += 1
    if in_class:
        raise RegexError(f"missing closing ]: `{p[p.rfind('['):]}`")
    out.append(")" * opened[0])
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def compile_anchored(pattern: str):
    """The compiled regex; use .fullmatch (PromQL anchors it). Raises RegexError like Go."""
    try:
        translated = _translate(pattern)
        return re.compile(f"(?:{translated})")
    except RegexError as e:
        raise RegexError(f"error parsing regexp: {e}") from None
    except re.error as e:
        msg = str(e)
        if "missing )" in msg or "unterminated subpattern" in msg:
            msg = f"missing closing ): `^(?:{pattern})$`"
        elif "unbalanced parenthesis" in msg:
            msg = f"unexpected ): `^(?:{pattern})$`"
        elif "nothing to repeat" in msg or "multiple repeat" in msg:
            msg = f"missing argument to repetition operator: `{pattern}`"
        raise RegexError(f"error parsing regexp: {msg}") from None
