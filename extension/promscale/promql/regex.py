"""PromQL's regular expressions: Go's RE2 syntax and semantics, matched by RE2 (google-re2).

Matching runs on RE2, whose time is linear in the text: a user's pattern such as ``(a+)+`` cannot
make a backend spin for minutes (Python's backtracking ``re`` has no bound and no interrupt check,
so neither statement_timeout nor pg_cancel_backend could stop it). The pattern is also translated
to Python's syntax and compiled there, only to validate it: that yields the error messages of Go's
regexp/syntax that PromQL answers, byte for byte, which RE2's own messages do not.

PromQL anchors every matcher regex at both ends; callers use ``compile_anchored(p).fullmatch``.
"""

from __future__ import annotations

import functools
import re

import re2

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
                i += _unicode_class_length(p, i)
                # validation only (RE2 matches the class itself): a valid atom in its place
                out.append("a" if in_class else "(?:.)")
                continue
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


def _unicode_class_length(p: str, i: int) -> int:
    """Length of the Unicode class \\pN, \\p{Name} or \\p{^Name} (or \\P...) at p[i], as Go's
    parseUnicodeClass reads it; RegexError (Go's message) when RE2 knows no such class."""
    if i + 2 >= len(p):  # Go reads the anchoring's ")" as the class name
        raise RegexError(f"invalid character class range: `{p[i:]})`")
    if p[i + 2] != "{":
        seq, name = p[i:i + 3], p[i + 2]
    else:
        end = p.find("}", i)
        if end < 0:  # Go looks for the brace in the anchored pattern, and quotes its rest
            raise RegexError(f"invalid character class range: `{p[i:]})$`")
        seq, name = p[i:end + 1], p[i + 3:end]
    if not _is_unicode_class(name[1:] if name.startswith("^") else name):
        raise RegexError(f"invalid character class range: `{seq}`")
    return len(seq)


@functools.lru_cache(maxsize=256)
def _is_unicode_class(name: str) -> bool:
    """Whether RE2 knows the Unicode category or script (Go's unicode.Categories, Scripts, Any)."""
    if not name or not all(c.isascii() and (c.isalnum() or c == "_") for c in name):
        return False
    try:
        _re2_program("\\p{" + name + "}", capture=False)
    except re2.error:
        return False
    return True


class Pattern:
    """A pattern matched by RE2 against whole strings (the part of ``re.Pattern`` PromQL uses).
    Matchers only ask whether a value matches: that runs a program without capture groups (RE2's
    DFA); the groups, for label_replace, come from a second program, compiled when first asked for."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._test = _re2_program(pattern, capture=False)
        self._groups_program = None

    @property
    def groups(self) -> int:
        return self._capturing().NumberOfCapturingGroups()

    def fullmatch(self, text: str) -> "Match | None":
        encoded = text.encode("utf-8", "surrogatepass")
        if self._test.Match(_ANCHOR_BOTH, encoded, 0, len(encoded))[0][0] < 0:
            return None
        return Match(self, encoded)

    def _capturing(self):
        if self._groups_program is None:
            self._groups_program = _re2_program(self.pattern, capture=True)
        return self._groups_program


class Match:
    """A whole-string match: ``group(i)`` and ``group(name)`` as in ``re`` (IndexError for a group the
    pattern does not have; None for one that did not take part)."""

    def __init__(self, pattern: Pattern, encoded: bytes):
        self.re = pattern
        self._encoded = encoded
        self._spans = None

    def group(self, which: int | str = 0) -> str | None:
        program = self.re._capturing()
        if isinstance(which, str):
            index = dict(program.NamedCapturingGroups()).get(which.encode("utf-8"))
            if index is None:
                raise IndexError(f"no such group: {which}")
        else:
            index = which
            if not 0 <= index <= program.NumberOfCapturingGroups():
                raise IndexError(f"no such group: {which}")
        if self._spans is None:
            self._spans = program.Match(_ANCHOR_BOTH, self._encoded, 0, len(self._encoded))
        start, end = self._spans[index]
        return None if start < 0 else self._encoded[start:end].decode("utf-8", "surrogatepass")


_ANCHOR_BOTH = re2._Anchor.ANCHOR_BOTH


def _re2_program(pattern: str, capture: bool):
    options = re2.Options()
    options.log_errors = False  # a user's bad pattern is an answer, not a line in the server's log
    options.never_capture = not capture
    return re2.compile(pattern, options)._regexp


# RE2's words for what Go's regexp/syntax also rejects, where only RE2 does it (Python's re accepts it)
_RE2_ERRORS = (("invalid repetition size", "invalid repeat count"), ("pattern too large", "expression too large"))


def _re2_error(pattern: str, exc: Exception) -> RegexError:
    message = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    for theirs, go in _RE2_ERRORS:
        if message.startswith(theirs):
            rest = message[len(theirs):].lstrip(": ")
            return RegexError(f"error parsing regexp: {go}: `{rest}`" if rest else f"error parsing regexp: {go}")
    return RegexError(f"error parsing regexp: {message}: `{pattern}`")


@functools.lru_cache(maxsize=1024)
def compile_anchored(pattern: str) -> Pattern:
    """The compiled regex; use .fullmatch (PromQL anchors it). Raises RegexError like Go."""
    try:
        translated = _translate(pattern)
        re.compile(f"(?:{translated})")  # validation only: Go's error messages (see the module's doc)
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
    try:
        return Pattern(pattern)
    except re2.error as exc:
        raise _re2_error(pattern, exc) from None
