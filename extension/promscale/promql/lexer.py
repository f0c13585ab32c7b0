"""PromQL lexer: turns a query string into tokens, as Prometheus's promql/parser/lex.go does.

Positions are byte offsets into the query; errors carry them so the parser can
report Prometheus's "line:col: parse error: ..." messages.
"""

from __future__ import annotations

from dataclasses import dataclass

KEYWORDS = {
    "and": "LAND", "or": "LOR", "unless": "LUNLESS", "atan2": "ATAN2",
    "by": "BY", "without": "WITHOUT", "on": "ON", "ignoring": "IGNORING",
    "group_left": "GROUP_LEFT", "group_right": "GROUP_RIGHT", "bool": "BOOL",
    "offset": "OFFSET",
    "start": "START", "end": "END",
    "inf": "NUMBER", "nan": "NUMBER",
}

AGGREGATORS = {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar",
               "topk", "bottomk", "count_values", "quantile"}

# what Prometheus prints for a token type in "unexpected <x>" messages
TOKEN_DESC = {
    "EOF": "end of input", "LEFT_PAREN": '"("', "RIGHT_PAREN": '")"', "LEFT_BRACE": '"{"',
    "RIGHT_BRACE": '"}"', "LEFT_BRACKET": '"["', "RIGHT_BRACKET": '"]"', "COMMA": '","',
    "EQL": '"="', "COLON": '":"', "SEMICOLON": '";"', "BLANK": '"_"', "TIMES": '"x"',
    "SPACE": "<space>", "AT": '"@"', "NUMBER": "number", "STRING": "string",
    "DURATION": "duration", "IDENTIFIER": "identifier", "METRIC_IDENTIFIER": "metric identifier",
    "ADD": '"+"', "SUB": '"-"', "MUL": '"*"', "DIV": '"/"', "MOD": '"%"', "POW": '"^"',
    "EQLC": '"=="', "NEQ": '"!="', "LTE": '"<="', "LSS": '"<"', "GTE": '">="', "GTR": '">"',
    "EQL_REGEX": '"=~"', "NEQ_REGEX": '"!~"', "LAND": "and", "LOR": "or", "LUNLESS": "unless",
    "ATAN2": "atan2", "BY": "by", "WITHOUT": "without", "ON": "on", "IGNORING": "ignoring",
    "GROUP_LEFT": "group_left", "GROUP_RIGHT": "group_right", "BOOL": "bool", "OFFSET": "offset",
    "START": "start", "END": "end", "AGGREGATOR": "aggregation",
}

OPERATOR_TEXT = {
    "ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/", "MOD": "%", "POW": "^",
    "EQLC": "==", "NEQ": "!=", "LTE": "<=", "LSS": "<", "GTE": ">=", "GTR": ">",
    "LAND": "and", "LOR": "or", "LUNLESS": "unless", "ATAN2": "atan2",
    "EQL": "=", "EQL_REGEX": "=~", "NEQ_REGEX": "!~",
}


@dataclass
class Token:
    typ: str
    val: str
    pos: int

    def desc(self) -> str:
        if self.typ == "AGGREGATOR":
            return self.val
        d = TOKEN_DESC.get(self.typ, self.typ)
        if self.typ in ("NUMBER", "STRING", "DURATION", "IDENTIFIER", "METRIC_IDENTIFIER"):
            return f'{d} "{self.val}"' if self.typ != "STRING" else f"{d} {self.val}"
        return d


class LexError(Exception):
    def __init__(self, pos: int, msg: str):
        super().__init__(msg)
        self.pos = pos
        self.msg = msg


def _is_alpha(c: str) -> bool:
    return c == "_" or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_alnum(c: str) -> bool:
    return _is_alpha(c) or ("0" <= c <= "9")


DURATION_UNITS = ("ms", "s", "m", "h", "d", "w", "y")


def lex(query: str) -> list[Token]:
    """All tokens of the query, ending with EOF, or with an ERROR token where lexing failed
    (the parser reports it only when it gets there, as Prometheus's lazy lexer does)."""
    toks: list[Token] = []
    try:
        _lex(query, toks)
    except LexError as e:
        toks.append(Token("ERROR", e.msg, e.pos))
    return toks


def _lex(query: str, toks: list) -> list[Token]:
    i, n = 0, len(query)
    brace_open = False
    bracket_open = False
    paren_depth = 0
    while True:
        # skip whitespace and comments
        while i < n:
            c = query[i]
            if c in " \t\n\r":
                i += 1
            elif c == "#":
                while i < n and query[i] != "\n":
                    i += 1
            else:
                break
        if i >= n:
            if brace_open:
                raise LexError(i, "unexpected end of input inside braces")
            if bracket_open:
                raise LexError(i, "unclosed left bracket")
            if paren_depth:
                raise LexError(i, "unclosed left parenthesis")
            toks.append(Token("EOF", "", i))
            return toks
        c = query[i]
        start = i
        two = query[i:i + 2]
        if brace_open:
            # inside label matchers: identifiers, strings, operators, commas
            if c == "}":
                brace_open = False
                toks.append(Token("RIGHT_BRACE", c, i)); i += 1; continue
            if c == ",":
                toks.append(Token("COMMA", c, i)); i += 1; continue
            if two == "=~":
                toks.append(Token("EQL_REGEX", two, i)); i += 2; continue
            if two == "!~":
                toks.append(Token("NEQ_REGEX", two, i)); i += 2; continue
            if two == "!=":
                toks.append(Token("NEQ", two, i)); i += 2; continue
            if c == "=":
                toks.append(Token("EQL", c, i)); i += 1; continue
            if c in "\"'`":
                i = _lex_string(query, i, toks)
                continue
            if _is_alpha(c):
                while i < n and _is_alnum(query[i]):
                    i += 1
                word = query[start:i]
                typ = KEYWORDS.get(word.lower(), "IDENTIFIER")
                if typ == "NUMBER":
                    typ = "IDENTIFIER"
                if word.lower() in AGGREGATORS:
                    typ = "IDENTIFIER"
                toks.append(Token(typ, word, start))
                continue
            if c == "{":
                raise LexError(i, "unexpected left brace '{' inside braces")
            raise LexError(i, f"unexpected character inside braces: {c!r}")
        if bracket_open:
            if c == "]":
                bracket_open = False
                toks.append(Token("RIGHT_BRACKET", c, i)); i += 1; continue
            if c == ":":
                toks.append(Token("COLON", c, i)); i += 1; continue
            if c.isdigit():
                j = i
                while j < n and (_is_alnum(query[j])):
                    j += 1
                word = query[i:j]
                if word.isdigit():
                    # Prometheus 2.55+: a plain number in brackets is seconds
                    toks.append(Token("DURATION", word + "s", i))
                    i = j
                    continue
                if not _is_duration(word):
                    raise LexError(i, f'bad duration syntax: "{word}"')
                toks.append(Token("DURATION", word, i))
                i = j
                continue
            if c == "[":
                raise LexError(i, "unexpected left bracket '[' inside brackets")
            raise LexError(i, f"unexpected character inside brackets: {c!r}")
        if c == ",":
            toks.append(Token("COMMA", c, i)); i += 1; continue
        if c == "(":
            paren_depth += 1
            toks.append(Token("LEFT_PAREN", c, i)); i += 1; continue
        if c == ")":
            paren_depth -= 1
            if paren_depth < 0:
                raise LexError(i, "unexpected right parenthesis ')'")
            toks.append(Token("RIGHT_PAREN", c, i)); i += 1; continue
        if c == "{":
            brace_open = True
            toks.append(Token("LEFT_BRACE", c, i)); i += 1; continue
        if c == "}":
            raise LexError(i, "unexpected right brace '}'")
        if c == "[":
            bracket_open = True
            toks.append(Token("LEFT_BRACKET", c, i)); i += 1; continue
        if c == "]":
            raise LexError(i, "unexpected right bracket ']'")
        if c == "@":
            toks.append(Token("AT", c, i)); i += 1; continue
        if two in ("==", "!=", "<=", ">=", "=~", "!~"):
            typ = {"==": "EQLC", "!=": "NEQ", "<=": "LTE", ">=": "GTE", "=~": "EQL_REGEX", "!~": "NEQ_REGEX"}[two]
            toks.append(Token(typ, two, i)); i += 2; continue
        if c in "+-*/%^<>=":
            typ = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV", "%": "MOD", "^": "POW",
                   "<": "LSS", ">": "GTR", "=": "EQL"}[c]
            toks.append(Token(typ, c, i)); i += 1; continue
        if c == "!":
            raise LexError(i, "unexpected character after '!': " + (repr(query[i + 1]) if i + 1 < n else "EOF"))
        if c in "\"'`":
            i = _lex_string(query, i, toks)
            continue
        if c.isdigit() or (c == "." and i + 1 < n and query[i + 1].isdigit()):
            i = _lex_number_or_duration(query, i, toks)
            continue
        if _is_alpha(c) or c == ":":
            while i < n and (_is_alnum(query[i]) or query[i] == ":"):
                i += 1
            word = query[start:i]
            low = word.lower()
            if ":" in word:
                toks.append(Token("METRIC_IDENTIFIER", word, start))
            elif low in KEYWORDS:
                toks.append(Token(KEYWORDS[low], word, start))
            elif low in AGGREGATORS:
                toks.append(Token("AGGREGATOR", word, start))
            else:
                toks.append(Token("IDENTIFIER", word, start))
            continue
        raise LexError(i, f"unexpected character: {c!r}")


def _is_duration(word: str) -> bool:
    try:
        parse_duration(word)
        return True
    except ValueError:
        return False


def parse_duration(s: str) -> int:
    """Prometheus model.ParseDuration, in milliseconds."""
    import re
    if s == "0":
        return 0
    m = re.fullmatch(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?", s)
    if not s or not m or not any(m.groups()):
        raise ValueError(f'not a valid duration string: "{s}"')
    mult = (365 * 86400000, 7 * 86400000, 86400000, 3600000, 60000, 1000, 1)
    total = 0
    for g, mu in zip(m.groups(), mult):
        if g:
            total += int(g) * mu
    if total > 2 ** 63 - 1:
        raise ValueError("duration out of range")
    return total


def _lex_string(query: str, i: int, toks: list[Token]) -> int:
    q = query[i]
    j = i + 1
    n = len(query)
    while j < n:
        c = query[j]
        if q != "`" and c == "\\":
            j += 2
            continue
        if q != "`" and c == "\n":
            raise LexError(j, "unterminated quoted string")
        if c == q:
            toks.append(Token("STRING", query[i:j + 1], i))
            return j + 1
        j += 1
    if q == "`":
        raise LexError(n, "unterminated raw string")
    raise LexError(n, "unterminated quoted string")


def _lex_number_or_duration(query: str, i: int, toks: list[Token]) -> int:
    import re
    n = len(query)
    m = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?").match(query, i)
    # a duration like 5m or 1h30m (only digits followed by a unit)
    dm = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+").match(query, i)
    if dm and (not m or dm.end() > m.end()):
        end = dm.end()
        if end < n and (_is_alnum(query[end])):
            raise LexError(i, f'bad number or duration syntax: "{query[i:end + 1]}"')
        toks.append(Token("DURATION", query[i:end], i))
        return end
    end = m.end()
    if end < n and (_is_alnum(query[end]) or query[end] == "."):
        raise LexError(i, f'bad number or duration syntax: "{query[i:end + 1]}"')
    toks.append(Token("NUMBER", query[i:end], i))
    return end


def unquote(s: str) -> str:
    """Go strconv.Unquote for PromQL strings."""
    q = s[0]
    body = s[1:-1]
    if q == "`":
        return body
    out = []
    i = 0
    n = len(body)
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              "\\": "\\", "'": "'", '"': '"'}
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("invalid syntax")
        e = body[i + 1]
        if e in simple:
            if (e == "'" and q == '"') or (e == '"' and q == "'"):
                raise ValueError("invalid syntax")
            out.append(simple[e]); i += 2
        elif e == "x":
            out.append(_bytes_seq(body, i, 2, 16)); i += 4
        elif e in "01234567":
            out.append(_bytes_seq(body, i, 3, 8)); i += 4
        elif e == "u":
            out.append(chr(int(body[i + 2:i + 6], 16))); i += 6
        elif e == "U":
            out.append(chr(int(body[i + 2:i + 10], 16))); i += 10
        else:
            raise ValueError("invalid syntax")
    # merge raw bytes (from \x / octal escapes) into UTF-8 text
    res = []
    buf = bytearray()
    for p in out:
        if isinstance(p, bytes):
            buf += p
        else:
            if buf:
                res.append(buf.decode("utf-8", "replace")); buf = bytearray()
            res.append(p)
    if buf:
        res.append(buf.decode("utf-8", "replace"))
    return "".join(res)


def _bytes_seq(body: str, i: int, width: int, base: int) -> bytes:
    start = i + 2 if base == 16 else i + 1
    digits = body[start:start + width]
    if len(digits) != width:
        raise ValueError("invalid syntax")
    v = int(digits, base)
    if v > 255:
        raise ValueError("invalid syntax")
    return bytes([v])
