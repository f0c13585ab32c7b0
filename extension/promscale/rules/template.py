"""The part of Go's text/template that Prometheus rule templates use: parsed at load (so a
rule with a broken template or an unknown function is refused, as promtool refuses it) and
executed at every evaluation with Prometheus's data ($labels, $value, $externalLabels,
$externalURL) and functions (template_funcs.py).

Supported: text and actions with trim markers (``{{-``, ``-}}``) and comments; pipelines
with ``|``; variables (``$x := ...``, ``$x = ...``); fields of maps (``$labels.job``,
``.Labels.job``); parenthesised pipelines; string, raw string, number, bool and nil
literals; ``if``/``else if``/``else``/``end``, ``range`` (with one or two variables, over
lists and maps in key order) and ``with``. Missing map keys are the zero value ("") as with
Prometheus's ``missingkey=zero``. Not supported (refused at load): ``define``,
``template``, ``block``, ``break``, ``continue``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from . import template_go as F


class TemplateError(Exception):
    """A template that does not parse or fails to execute; str() is Go's text."""


_TRIM_SPACE = " \t\r\n"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)")
KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


@dataclass
class Tok:
    kind: str  # str, num, bool, nil, ident, var, field, dot, pipe, lparen, rparen, decl, assign, comma
    value: Any
    fields: list[str] = field(default_factory=list)  # a field chain after var/ident/rparen/dot


# --- lexing -----------------------------------------------------------------------------

def _lex(text: str, name: str) -> list[tuple[str, Any, int]]:
    """("text", str, line) and ("action", [Tok], line) items."""
    items: list[tuple[str, Any, int]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            items.append(("text", text[pos:], text.count("\n", 0, pos) + 1))
            return items
        chunk = text[pos:start]
        line = text.count("\n", 0, start) + 1
        i = start + 2
        if text.startswith("- ", i) or text.startswith("-\t", i) or text.startswith("-\n", i):
            chunk = chunk.rstrip(_TRIM_SPACE)
            i += 1
        items.append(("text", chunk, line))
        toks, i, trim_after = _lex_action(text, i, name, line)
        if toks is not None:
            items.append(("action", toks, line))
        pos = i
        if trim_after:
            while pos < len(text) and text[pos] in _TRIM_SPACE:
                pos += 1


def _lex_action(text: str, i: int, name: str, line: int) -> tuple[list[Tok] | None, int, bool]:
    def err(msg: str) -> TemplateError:
        return TemplateError(f"template: {name}:{line}: {msg}")

    while i < len(text) and text[i] in _TRIM_SPACE:
        i += 1
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        if end < 0:
            raise err("unclosed comment")
        i = end + 2
        while i < len(text) and text[i] in _TRIM_SPACE:
            i += 1
        if text.startswith("-}}", i):
            return None, i + 3, True
        if text.startswith("}}", i):
            return None, i + 2, False
        raise err("comment ends before closing delimiter")
    toks: list[Tok] = []
    n = len(text)
    while True:
        if i >= n:
            raise err("unclosed action")
        c = text[i]
        if c in _TRIM_SPACE:
            j = i
            while j < n and text[j] in _TRIM_SPACE:
                j += 1
            if text.startswith("-}}", j):
                return toks, j + 3, True
            i = j
            continue
        if text.startswith("}}", i):
            return toks, i + 2, False
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 1
                if j < n and text[j] == "\n":
                    raise err("unterminated quoted string")
                j += 1
            if j >= n:
                raise err("unterminated quoted string")
            toks.append(Tok("str", F.go_unquote(text[i + 1:j], err)))
            i = j + 1
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise err("unterminated raw quoted string")
            toks.append(Tok("str", text[i + 1:j]))
            i = j + 1
        elif c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                raise err("unterminated character constant")
            toks.append(Tok("num", ord(F.go_unquote(text[i + 1:j], err) or "\0")))
            i = j + 1
        elif c == "|":
            toks.append(Tok("pipe", "|"))
            i += 1
        elif c == "(":
            toks.append(Tok("lparen", "("))
            i += 1
        elif c == ")":
            toks.append(Tok("rparen", ")"))
            i = _field_chain(text, i + 1, toks[-1])
        elif c == ",":
            toks.append(Tok("comma", ","))
            i += 1
        elif text.startswith(":=", i):
            toks.append(Tok("decl", ":="))
            i += 2
        elif c == "=":
            toks.append(Tok("assign", "="))
            i += 1
        elif c == "$":
            m = _IDENT.match(text, i + 1)
            toks.append(Tok("var", "$" + (m.group() if m else "")))
            i = _field_chain(text, m.end() if m else i + 1, toks[-1])
        elif c == "." and not (i + 1 < n and text[i + 1].isdigit()):
            m = _IDENT.match(text, i + 1)
            if m:
                toks.append(Tok("field", None))
                i = _field_chain(text, i, toks[-1])
            else:
                toks.append(Tok("dot", "."))
                i += 1
        elif c.isdigit() or c in "+-." :
            m = _NUMBER.match(text, i)
            if not m or not m.group() or m.group() in "+-.":
                raise err(f"unexpected {text[i]!r} in command")
            toks.append(Tok("num", F.parse_go_number(m.group(), err)))
            i = m.end()
        else:
            m = _IDENT.match(text, i)
            if not m:
                raise err(f"unexpected {c!r} in command")
            word = m.group()
            if word in ("true", "false"):
                toks.append(Tok("bool", word == "true"))
            elif word == "nil":
                toks.append(Tok("nil", None))
            else:
                toks.append(Tok("ident", word))
            i = _field_chain(text, m.end(), toks[-1])


def _field_chain(text: str, i: int, tok: Tok) -> int:
    while i < len(text) and text[i] == ".":
        m = _IDENT.match(text, i + 1)
        if not m:
            break
        tok.fields.append(m.group())
        i = m.end()
    return i


# --- parsing ------------------------------------------------------------------------------

@dataclass
class Pipe:
    decl: list[str]
    assign: bool  # "=" rather than ":="
    cmds: list[list[Any]]  # each command: operands (Tok or Pipe)


class Template:
    """A parsed template: ``execute(data, funcs)`` gives the text."""

    def __init__(self, text: str, name: str, funcs: dict[str, Callable[..., Any]]):
        self.name = name
        self.funcs = funcs
        self._items = _lex(text, name)
        self._pos = 0
        self._vars: list[list[str]] = [["$"]]
        self.root, end = self._parse_list(top=True)
        if end is not None:
            raise self._err(f"unexpected {{{{{end}}}}}", self._line)

    _line = 1

    def _err(self, msg: str, line: int) -> TemplateError:
        return TemplateError(f"template: {self.name}:{line}: {msg}")

    def _parse_list(self, top: bool = False) -> tuple[list[Any], str | None]:
        """Nodes up to an {{else...}} or {{end}} (returned as "else"/"end" with the rest of
        the else action left to the caller), or the end of the text (None)."""
        nodes: list[Any] = []
        while self._pos < len(self._items):
            kind, value, line = self._items[self._pos]
            self._pos += 1
            self._line = line
            if kind == "text":
                if value:
                    nodes.append(("text", value))
                continue
            toks: list[Tok] = value
            if not toks:
                raise self._err("missing value for command", line)
            head = toks[0]
            if head.kind == "ident" and head.value in KEYWORDS and not head.fields:
                word = head.value
                if word in ("end", "else"):
                    if top:
                        raise self._err(f"unexpected {{{{{word}}}}}", line)
                    self._else_toks = toks[1:]
                    return nodes, word
                if word in ("if", "range", "with"):
                    nodes.append(self._parse_control(word, toks[1:], line))
                    continue
                raise self._err(f"{{{{{word}}}}} is not supported in rule templates", line)
            pipe = self._parse_pipe(toks, line, allow_decl=True)
            nodes.append(("action", pipe))
        return nodes, None

    def _parse_control(self, word: str, toks: list[Tok], line: int) -> tuple:
        self._vars.append(list(self._vars[-1]))
        pipe = self._parse_pipe(toks, line, allow_decl=True, range_decl=word == "range")
        body, end = self._parse_list()
        else_body: list[Any] = []
        if end is None:
            raise self._err(f"unexpected EOF in {word}", line)
        if end == "else":
            rest = self._else_toks
            self._vars[-1] = list(self._vars[-2])
            if rest and rest[0].kind == "ident" and rest[0].value == "if" and word == "if":
                # {{else if x}} is {{else}}{{if x}}...{{end}} sharing the outer {{end}}
                else_body = [self._parse_control_chained(rest[1:], line)]
            else:
                if rest:
                    raise self._err("unexpected tokens after else", line)
                else_body, end = self._parse_list()
                if end != "end":
                    raise self._err(f"expected end; found {end or 'EOF'}", line)
        self._vars.pop()
        return (word, pipe, body, else_body)

    def _parse_control_chained(self, toks: list[Tok], line: int) -> tuple:
        return self._parse_control("if", toks, line)

    def _parse_pipe(self, toks: list[Tok], line: int, allow_decl: bool, range_decl: bool = False) -> Pipe:
        decl: list[str] = []
        assign = False
        # $x := ..., $k, $v := ... (range), $x = ...
        if toks and toks[0].kind == "var" and not toks[0].fields and allow_decl:
            if len(toks) > 1 and toks[1].kind in ("decl", "assign"):
                decl, assign, toks = [toks[0].value], toks[1].kind == "assign", toks[2:]
            elif range_decl and len(toks) > 3 and toks[1].kind == "comma" and toks[2].kind == "var" \
                    and toks[3].kind in ("decl", "assign"):
                decl, assign, toks = [toks[0].value, toks[2].value], toks[3].kind == "assign", toks[4:]
        for name in decl:
            if assign:
                self._check_var(name, line)
            elif name not in self._vars[-1]:
                self._vars[-1].append(name)
        cmds: list[list[Any]] = [[]]
        i = 0

        def operand(i: int) -> tuple[Any, int]:
            tok = toks[i]
            if tok.kind == "lparen":
                depth, j = 1, i + 1
                while j < len(toks) and depth:
                    depth += {"lparen": 1, "rparen": -1}.get(toks[j].kind, 0)
                    j += 1
                if depth:
                    raise self._err("unclosed left paren", line)
                inner = self._parse_pipe(toks[i + 1:j - 1], line, allow_decl=False)
                return ("paren", inner, toks[j - 1].fields), j
            if tok.kind == "rparen":
                raise self._err("unexpected right paren", line)
            if tok.kind == "var":
                self._check_var(tok.value, line)
            if tok.kind == "ident" and tok.value not in self.funcs:
                raise self._err(f'function "{tok.value}" not defined', line)
            if tok.kind in ("decl", "assign", "comma"):
                raise self._err(f"unexpected {tok.value!r} in operand", line)
            return tok, i + 1

        while i < len(toks):
            if toks[i].kind == "pipe":
                if not cmds[-1]:
                    raise self._err("missing command", line)
                cmds.append([])
                i += 1
                continue
            node, i = operand(i)
            cmds[-1].append(node)
        if not cmds[-1]:
            raise self._err("missing value for command", line)
        return Pipe(decl, assign, cmds)

    def _check_var(self, name: str, line: int) -> None:
        if name not in self._vars[-1]:
            raise self._err(f'undefined variable "{name}"', line)

    # --- execution ------------------------------------------------------------------

    def execute(self, data: Any) -> str:
        out: list[str] = []
        self._run(self.root, data, [("$", data)], out)
        return "".join(out)

    def _run(self, nodes: list[Any], dot: Any, scope: list[tuple[str, Any]], out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                pipe: Pipe = node[1]
                value = self._pipe(pipe, dot, scope)
                if not pipe.decl:
                    out.append(F.go_print(value))
            elif kind in ("if", "with"):
                _, pipe, body, else_body = node
                inner = list(scope)
                value = self._pipe(pipe, dot, inner)
                if F.truth(value):
                    self._run(body, value if kind == "with" else dot, inner, out)
                else:
                    self._run(else_body, dot, inner, out)
            elif kind == "range":
                _, pipe, body, else_body = node
                inner = list(scope)
                pipe_no_decl = Pipe([], False, pipe.cmds)
                value = self._pipe(pipe_no_decl, dot, inner)
                pairs = F.range_pairs(value)
                if not pairs:
                    self._run(else_body, dot, inner, out)
                for key, elem in pairs:
                    step = list(inner)
                    if len(pipe.decl) == 1:
                        step.append((pipe.decl[0], elem))
                    elif len(pipe.decl) == 2:
                        step += [(pipe.decl[0], key), (pipe.decl[1], elem)]
                    self._run(body, elem, step, out)

    def _pipe(self, pipe: Pipe, dot: Any, scope: list[tuple[str, Any]]) -> Any:
        value: Any = F.NO_VALUE
        for cmd in pipe.cmds:
            value = self._command(cmd, dot, scope, value)
        for name in pipe.decl:
            if pipe.assign:
                for k in range(len(scope) - 1, -1, -1):
                    if scope[k][0] == name:
                        scope[k] = (name, value)
                        break
            else:
                scope.append((name, value))
        return value

    def _command(self, cmd: list[Any], dot: Any, scope: list[tuple[str, Any]], piped: Any) -> Any:
        first = cmd[0]
        if isinstance(first, Tok) and first.kind == "ident":
            args = [self._operand(a, dot, scope) for a in cmd[1:]]
            if piped is not F.NO_VALUE:
                args.append(piped)
            try:
                result = self.funcs[first.value](*args)
            except F.FuncError as exc:
                raise self._err(f"executing \"{self.name}\" at <{first.value}>: error calling {first.value}: {exc}",
                                self._line) from None
            except TypeError:
                raise self._err(f"executing \"{self.name}\" at <{first.value}>: wrong number of args for "
                                f"{first.value}", self._line) from None
            return F.fields_of(result, first.fields)
        if len(cmd) > 1 or piped is not F.NO_VALUE:
            raise self._err(f"executing \"{self.name}\": can't give argument to non-function", self._line)
        return self._operand(first, dot, scope)

    def _operand(self, node: Any, dot: Any, scope: list[tuple[str, Any]]) -> Any:
        if isinstance(node, tuple):  # ("paren", pipe, fields)
            return F.fields_of(self._pipe(node[1], dot, list(scope)), node[2])
        kind = node.kind
        if kind == "var":
            for name, value in reversed(scope):
                if name == node.value:
                    return F.fields_of(value, node.fields)
            raise self._err(f'undefined variable "{node.value}"', self._line)
        if kind == "field":
            return F.fields_of(dot, node.fields)
        if kind == "dot":
            return dot
        if kind == "ident":
            return F.fields_of(self.funcs[node.value](), node.fields)
        return node.value
