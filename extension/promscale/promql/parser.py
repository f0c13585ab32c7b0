"""Hand-written PromQL parser (Pratt) with Prometheus 2.42's type checks and error messages."""

from __future__ import annotations

import math
import re

from . import ast as A
from .functions import lookup
from .lexer import OPERATOR_TEXT, Token, lex, parse_duration, unquote
from .regex import RegexError, compile_anchored


class ParseError(Exception):
    """A parse error; str() is Prometheus's "line:col: parse error: ..." text."""

    def __init__(self, query: str, pos: int, msg: str):
        self.query = query
        self.pos = pos
        self.msg = msg
        super().__init__(self.format())

    def format(self) -> str:
        pos = self.pos
        if pos < 0 or pos > len(self.query):
            return f"invalid position: parse error: {self.msg}"
        line = 1
        last_break = -1
        for i, c in enumerate(self.query[:pos]):
            if c == "\n":
                last_break = i
                line += 1
        col = pos - last_break
        return f"{line}:{col}: parse error: {self.msg}"


# binary operator precedence (higher binds tighter); ^ is right-associative
PRECEDENCE = {"LOR": 1, "LAND": 2, "LUNLESS": 2,
              "EQLC": 3, "NEQ": 3, "LTE": 3, "LSS": 3, "GTE": 3, "GTR": 3,
              "ADD": 4, "SUB": 4, "MUL": 5, "DIV": 5, "MOD": 5, "ATAN2": 5, "POW": 6}
COMPARISON = {"==", "!=", "<=", "<", ">=", ">"}
SET_OPS = {"and", "or", "unless"}
LABEL_TOKENS = {"IDENTIFIER", "LAND", "LOR", "LUNLESS", "ATAN2", "BY", "WITHOUT", "ON", "IGNORING",
                "GROUP_LEFT", "GROUP_RIGHT", "BOOL", "OFFSET", "START", "END", "AGGREGATOR"}


def parse_number(s: str) -> float:
    """strconv.ParseInt(s, 0, 64), falling back to ParseFloat (so 0x1f and 010 are integers)."""
    low = s.lower()
    try:
        if low.startswith("0x"):
            return float(int(low, 16))
        if len(low) > 1 and low.startswith("0") and low.isdigit():
            return float(int(low, 8))
        if low.isdigit():
            return float(int(low))
    except ValueError:
        pass
    if low in ("inf", "+inf"):
        return math.inf
    if low == "-inf":
        return -math.inf
    if low == "nan":
        return math.nan
    return float(s)


class Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = lex(query)
        self.i = 0

    # --- token helpers
    def peek(self, k: int = 0) -> Token:
        t = self.toks[min(self.i + k, len(self.toks) - 1)]
        if t.typ == "ERROR":
            self.err(t.pos, t.val)
        return t

    def next(self) -> Token:
        t = self.peek()
        if self.i < len(self.toks) - 1:
            self.i += 1
        return t

    def err(self, pos: int, msg: str):
        raise ParseError(self.query, pos, msg)

    def unexpected(self, tok: Token, context: str = "", expected: str = ""):
        desc = _describe(tok)
        msg = f"unexpected {desc}"
        if context:
            msg += f" in {context}"
        if expected:
            msg += f", expected {expected}"
        self.err(tok.pos, msg)

    def expect(self, typ: str, context: str = "", expected: str = "") -> Token:
        t = self.peek()
        if t.typ != typ:
            self.unexpected(t, context, expected)
        return self.next()

    # --- grammar
    def parse(self) -> A.Node:
        if self.peek().typ == "EOF":
            self.err(0, "no expression found in input")
        node = self.parse_expr(0)
        t = self.peek()
        if t.typ != "EOF":
            self.unexpected(t)
        self.check(node)
        return node

    def parse_expr(self, min_prec: int) -> A.Node:
        lhs = self.parse_unary()
        while True:
            t = self.peek()
            prec = PRECEDENCE.get(t.typ)
            if prec is None or prec < min_prec:
                return lhs
            self.next()
            op = OPERATOR_TEXT[t.typ]
            return_bool = False
            matching = A.VectorMatching()
            if self.peek().typ == "BOOL":
                self.next()
                return_bool = True
            if self.peek().typ in ("ON", "IGNORING"):
                matching.on = self.next().typ == "ON"
                matching.matching_labels = self.parse_label_list("grouping opts")
                if self.peek().typ in ("GROUP_LEFT", "GROUP_RIGHT"):
                    g = self.next()
                    matching.card = "many-to-one" if g.typ == "GROUP_LEFT" else "one-to-many"
                    if self.peek().typ == "LEFT_PAREN":
                        matching.include = self.parse_label_list("grouping opts")
            elif self.peek().typ in ("GROUP_LEFT", "GROUP_RIGHT"):
                self.unexpected(self.peek(), "binary expression")
            next_min = prec if t.typ == "POW" else prec + 1
            rhs = self.parse_expr(next_min)
            lhs = A.BinaryExpr(op, lhs, rhs, matching, return_bool)
            lhs.pos = t.pos
            lhs.start = getattr(lhs.lhs, "start", t.pos)

    def parse_unary(self) -> A.Node:
        t = self.peek()
        if t.typ in ("ADD", "SUB"):
            self.next()
            # unary binds like '*': only '^' binds tighter
            operand = self.parse_expr(PRECEDENCE["POW"])
            if isinstance(operand, A.NumberLiteral):
                if t.typ == "SUB":
                    operand.val = -operand.val
                operand.start = t.pos
                return operand
            node = A.UnaryExpr(OPERATOR_TEXT[t.typ], operand)
            node.start = t.pos
            return node
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, node: A.Node) -> A.Node:
        while True:
            t = self.peek()
            if t.typ == "LEFT_BRACKET":
                node = self.parse_range(node)
            elif t.typ == "OFFSET":
                self.next()
                neg = False
                if self.peek().typ == "SUB":
                    self.next()
                    neg = True
                elif self.peek().typ == "ADD":
                    self.next()
                d = self.peek()
                if d.typ == "NUMBER" and re.fullmatch(r"[0-9]+", d.val):
                    # Prometheus 2.55+: an offset may be a number of seconds
                    d = Token("DURATION", d.val + "s", d.pos)
                elif d.typ != "DURATION":
                    self.unexpected(d, "offset", "duration")
                self.next()
                dur = self.duration(d)
                self.add_offset(node, -dur if neg else dur)
            elif t.typ == "AT":
                self.next()
                self.parse_at(node)
            else:
                return node

    def duration(self, tok: Token) -> int:
        try:
            d = parse_duration(tok.val)
        except ValueError as e:
            self.err(tok.pos, str(e))
        if d == 0:
            self.err(tok.pos, "duration must be greater than 0")
        return d

    def parse_range(self, node: A.Node) -> A.Node:
        lb = self.next()
        d = self.peek()
        if d.typ != "DURATION":
            self.unexpected(d, "subquery or range", "duration")
        self.next()
        rng = self.duration(d)
        if self.peek().typ == "COLON":
            self.next()
            step = 0
            if self.peek().typ == "DURATION":
                step = self.duration(self.next())
            self.expect("RIGHT_BRACKET", "subquery selector", '"]"')
            sq = A.SubqueryExpr(node, rng, step)
            sq.start = getattr(node, "start", lb.pos)
            return sq
        rb = self.peek()
        if rb.typ != "RIGHT_BRACKET":
            self.unexpected(rb, "subquery or range selector", '":" or "]"')
        self.next()
        if not isinstance(node, A.VectorSelector):
            self.err(lb.pos, "ranges only allowed for vector selectors")
        if node.original_offset != 0:
            self.err(lb.pos, "no offset modifiers allowed before range")
        if node.timestamp is not None or node.start_or_end:
            self.err(lb.pos, "no @ modifiers allowed before range")
        ms = A.MatrixSelector(node, rng)
        ms.start = getattr(node, "start", lb.pos)
        return ms

    def _modifier_target(self, node):
        if isinstance(node, A.VectorSelector):
            return node
        if isinstance(node, A.MatrixSelector):
            return node.vs
        if isinstance(node, A.SubqueryExpr):
            return node
        return None

    def add_offset(self, node, offset: int):
        target = self._modifier_target(node)
        if target is None:
            self.err(getattr(node, "start", 0),
                     "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery")
        if target.original_offset != 0:
            self.err(getattr(node, "start", 0), "offset may not be set multiple times")
        target.original_offset = offset

    def parse_at(self, node):
        t = self.peek()
        start_or_end = None
        ts = None
        if t.typ in ("START", "END"):
            self.next()
            self.expect("LEFT_PAREN", "@", '"("')
            self.expect("RIGHT_PAREN", "@", '")"')
            start_or_end = t.val.lower()
        else:
            sign = 1.0
            if t.typ in ("ADD", "SUB"):
                self.next()
                sign = -1.0 if t.typ == "SUB" else 1.0
            num = self.peek()
            if num.typ == "DURATION":
                # Prometheus 2.55+ accepts a duration as a number of seconds
                v = sign * parse_duration(num.val) / 1000.0
            elif num.typ != "NUMBER":
                self.unexpected(num, "@", "timestamp")
            else:
                v = sign * parse_number(num.val)
            self.next()
            if math.isinf(v) or math.isnan(v) or v >= 9.223372036854776e18 or v <= -9.223372036854776e18:
                shown = ("+Inf" if v > 0 else "-Inf") if math.isinf(v) else ("NaN" if v != v else "%f" % v)
                self.err(getattr(node, "start", 0), "timestamp out of bounds for @ modifier: " + shown)
            ts = int(_go_round(v * 1000))
        target = self._modifier_target(node)
        if target is None:
            self.err(getattr(node, "start", 0),
                     "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery")
        if target.timestamp is not None or target.start_or_end:
            self.err(getattr(node, "start", 0), "@ <timestamp> may not be set multiple times")
        target.timestamp = ts
        target.start_or_end = start_or_end

    def parse_primary(self) -> A.Node:
        t = self.peek()
        if t.typ == "NUMBER":
            self.next()
            n = A.NumberLiteral(parse_number(t.val))
            n.start = t.pos
            return n
        if t.typ == "DURATION":
            # Prometheus 2.55+ reads a bare duration as a number of seconds
            self.next()
            n = A.NumberLiteral(parse_duration(t.val) / 1000.0)
            n.start = t.pos
            return n
        if t.typ == "STRING":
            self.next()
            try:
                s = A.StringLiteral(unquote(t.val))
            except (ValueError, IndexError):
                self.err(t.pos, "invalid syntax")
            s.start = t.pos
            return s
        if t.typ == "LEFT_PAREN":
            self.next()
            inner = self.parse_expr(0)
            self.expect("RIGHT_PAREN", "paren expression", '")"')
            p = A.ParenExpr(inner)
            p.start = t.pos
            return p
        if t.typ == "LEFT_BRACE":
            return self.parse_selector(None, t.pos)
        if t.typ == "AGGREGATOR":
            return self.parse_aggregate()
        if t.typ in ("IDENTIFIER", "METRIC_IDENTIFIER") or (t.typ in LABEL_TOKENS and t.typ not in (
                "LAND", "LOR", "LUNLESS", "ATAN2", "BOOL", "OFFSET")):
            self.next()
            if self.peek().typ == "LEFT_PAREN" and t.typ == "IDENTIFIER":
                return self.parse_call(t)
            if t.typ not in ("IDENTIFIER", "METRIC_IDENTIFIER"):
                self.unexpected(t)
            return self.parse_selector(t.val, t.pos)
        if t.typ == "EOF":
            self.unexpected(t)
        self.unexpected(t)

    def parse_call(self, name_tok: Token) -> A.Node:
        self.next()  # (
        args = []
        if self.peek().typ != "RIGHT_PAREN":
            while True:
                args.append(self.parse_expr(0))
                t = self.peek()
                if t.typ == "COMMA":
                    self.next()
                    continue
                if t.typ == "RIGHT_PAREN":
                    break
                self.unexpected(t, "function call")
        self.next()
        # like the grammar's action, which runs once the whole call is parsed
        fn = lookup(name_tok.val)
        if fn is None:
            self.err(name_tok.pos, f'unknown function with name "{name_tok.val}"')
        c = A.Call(fn, args)
        c.start = name_tok.pos
        return c

    def parse_label_list(self, context: str) -> list:
        self.expect("LEFT_PAREN", context, '"("')
        labels = []
        while True:
            t = self.peek()
            if t.typ == "RIGHT_PAREN":
                self.next()
                return labels
            if t.typ not in LABEL_TOKENS:
                self.unexpected(t, context, "label")
            labels.append(self.next().val)
            t = self.peek()
            if t.typ == "COMMA":
                self.next()
            elif t.typ != "RIGHT_PAREN":
                self.unexpected(t, context, '"," or ")"')

    def parse_aggregate(self) -> A.Node:
        op_tok = self.next()
        op = op_tok.val.lower()
        grouping, without, have_mod = [], False, False
        if self.peek().typ in ("BY", "WITHOUT"):
            without = self.next().typ == "WITHOUT"
            grouping = self.parse_label_list("grouping opts")
            have_mod = True
        t = self.peek()
        if t.typ != "LEFT_PAREN":
            self.unexpected(t, "aggregation", '"("')
        self.next()
        args = []
        if self.peek().typ != "RIGHT_PAREN":
            while True:
                args.append(self.parse_expr(0))
                t = self.peek()
                if t.typ == "COMMA":
                    self.next()
                    continue
                if t.typ == "RIGHT_PAREN":
                    break
                self.unexpected(t, "aggregation")
        self.next()
        if self.peek().typ in ("BY", "WITHOUT"):
            if have_mod:
                self.unexpected(self.peek())
            without = self.next().typ == "WITHOUT"
            grouping = self.parse_label_list("grouping opts")
        if not args:
            self.err(op_tok.pos, "no arguments for aggregate expression provided")
        desired = 2 if op in ("topk", "bottomk", "quantile", "count_values") else 1
        if len(args) != desired:
            self.err(op_tok.pos, f"wrong number of arguments for aggregate expression provided, expected {desired}, got {len(args)}")
        param = args[0] if desired == 2 else None
        node = A.AggregateExpr(op, args[-1], param, grouping, without)
        node.start = op_tok.pos
        return node

    def parse_selector(self, name, pos, check: bool = True) -> A.Node:
        matchers = []
        if self.peek().typ == "LEFT_BRACE":
            self.next()
            while True:
                t = self.peek()
                if t.typ == "RIGHT_BRACE":
                    self.next()
                    break
                if t.typ not in LABEL_TOKENS:
                    self.unexpected(t, "label matching", 'identifier or "}"')
                self.next()
                op = self.peek()
                if op.typ not in ("EQL", "NEQ", "EQL_REGEX", "NEQ_REGEX"):
                    self.unexpected(op, "label matching", "label matching operator")
                self.next()
                val = self.peek()
                if val.typ != "STRING":
                    self.unexpected(val, "label matching", "string")
                self.next()
                try:
                    s = unquote(val.val)
                except (ValueError, IndexError):
                    self.err(val.pos, "invalid syntax")
                matchers.append(self.new_matcher(OPERATOR_TEXT[op.typ] if op.typ != "NEQ" else "!=", t.val, s, t.pos))
                t = self.peek()
                if t.typ == "COMMA":
                    self.next()
                elif t.typ != "RIGHT_BRACE":
                    self.unexpected(t, "label matching", '"," or "}"')
        if name is not None:
            for m in matchers:
                if m.name == "__name__" and check:
                    self.err(pos, f'metric name must not be set twice: "{name}" or "{m.value}"')
            matchers.append(self.new_matcher("=", "__name__", name, pos))
        elif check:
            if not any(not m.matches("") for m in matchers):
                self.err(pos, "vector selector must contain at least one non-empty matcher")
        vs = A.VectorSelector(name or "", matchers)
        vs.start = pos
        return vs

    def new_matcher(self, typ, name, value, pos):
        m = A.Matcher(typ, name, value)
        if typ in ("=~", "!~"):
            try:
                m.regex = compile_anchored(value)
            except RegexError as e:
                self.err(pos, str(e))
        return m

    # --- type checking (checkAST)
    def check(self, node: A.Node) -> str:
        def expect_type(n, want, context):
            got = self.check(n)
            if got != want:
                self.err(getattr(n, "start", 0), f"expected type {want} in {context}, got {got}")

        if isinstance(node, A.ParenExpr):
            return self.check(node.expr)
        if isinstance(node, A.UnaryExpr):
            t = self.check(node.expr)
            if t not in (A.SCALAR, A.VECTOR):
                self.err(getattr(node, "start", 0),
                         f'unary expression only allowed on expressions of type scalar or instant vector, got "{t}"')
            return t
        if isinstance(node, A.Call):
            fn = node.func
            nargs = len(fn.arg_types)
            pos = getattr(node, "start", 0)
            if fn.variadic == 0:
                if nargs != len(node.args):
                    self.err(pos, f'expected {nargs} argument(s) in call to "{fn.name}", got {len(node.args)}')
            else:
                na = nargs - 1
                if na > len(node.args):
                    self.err(pos, f'expected at least {na} argument(s) in call to "{fn.name}", got {len(node.args)}')
                elif fn.variadic > 0 and na + fn.variadic < len(node.args):
                    self.err(pos, f'expected at most {na + fn.variadic} argument(s) in call to "{fn.name}", got {len(node.args)}')
            for i, arg in enumerate(node.args):
                if i >= nargs:
                    if fn.variadic != -1:
                        break
                    i = nargs - 1
                expect_type(arg, fn.arg_types[i], f'call to function "{fn.name}"')
            return fn.return_type
        if isinstance(node, A.AggregateExpr):
            expect_type(node.expr, A.VECTOR, "aggregation expression")
            if node.op in ("topk", "bottomk", "quantile"):
                expect_type(node.param, A.SCALAR, "aggregation parameter")
            if node.op == "count_values":
                expect_type(node.param, A.STRING, "aggregation parameter")
            return A.VECTOR
        if isinstance(node, A.BinaryExpr):
            lt = self.check(node.lhs)
            rt = self.check(node.rhs)
            pos = getattr(node, "pos", 0)
            vm = node.matching
            if node.return_bool and node.op not in COMPARISON:
                self.err(pos, "bool modifier can only be used on comparison operators")
            if node.op in COMPARISON and not node.return_bool and lt == A.SCALAR and rt == A.SCALAR:
                self.err(pos, "comparisons between scalars must use BOOL modifier")
            if node.op in SET_OPS and vm.card == "one-to-one":
                vm.card = "many-to-many"
            for l1 in vm.matching_labels:
                for l2 in vm.include:
                    if l1 == l2 and vm.on:
                        self.err(pos, f'label "{l1}" must not occur in ON and GROUP clause at once')
            start = getattr(node, "start", 0)
            if lt not in (A.SCALAR, A.VECTOR):
                self.err(getattr(node.lhs, "start", 0), "binary expression must contain only scalar and instant vector types")
            if rt not in (A.SCALAR, A.VECTOR):
                self.err(getattr(node.rhs, "start", 0), "binary expression must contain only scalar and instant vector types")
            if lt != A.VECTOR or rt != A.VECTOR:
                if vm.matching_labels:
                    self.err(start, "vector matching only allowed between instant vectors")
                node.matching = None
            elif node.op in SET_OPS:
                if vm.card in ("one-to-many", "many-to-one"):
                    self.err(start, f'no grouping allowed for "{node.op}" operation')
                if vm.card != "many-to-many":
                    self.err(start, "set operations must always be many-to-many")
            if (lt == A.SCALAR or rt == A.SCALAR) and node.op in SET_OPS:
                self.err(start, f'set operator "{node.op}" not allowed in binary scalar expression')
            return node.type()
        if isinstance(node, A.SubqueryExpr):
            t = self.check(node.expr)
            if t != A.VECTOR:
                self.err(getattr(node, "start", 0), f"subquery is only allowed on instant vector, got {t} instead")
            return A.MATRIX
        if isinstance(node, A.MatrixSelector):
            return A.MATRIX
        return node.type()


def _go_round(x: float) -> float:
    """math.Round: half away from zero."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def _describe(tok: Token) -> str:
    if tok.typ == "EOF":
        return "end of input"
    if tok.typ == "AGGREGATOR":
        return "<aggr-op>"
    if tok.typ in ("ADD", "SUB", "MUL", "DIV", "MOD", "POW", "EQLC", "NEQ", "LTE", "LSS", "GTE", "GTR",
                   "LAND", "LOR", "LUNLESS", "ATAN2"):
        return "<op:" + OPERATOR_TEXT[tok.typ] + ">"
    return tok.desc()


def parse(query: str) -> A.Node:
    return Parser(query).parse()


def parse_metric_selector(text: str) -> list:
    """Prometheus's parser.ParseMetricSelector: the matchers of a series selector such as
    up{job="node"}; unlike a query, {} parses (the HTTP API then asks for a non-empty matcher)."""
    p = Parser(text)
    t = p.peek()
    if t.typ in ("IDENTIFIER", "METRIC_IDENTIFIER"):
        p.next()
        node = p.parse_selector(t.val, t.pos, check=False)
    elif t.typ == "LEFT_BRACE":
        node = p.parse_selector(None, t.pos, check=False)
    else:
        p.unexpected(t)
    end = p.peek()
    if end.typ != "EOF":
        p.unexpected(end)
    return node.matchers
