"""Lexer, parser, printer and error messages of the PromQL engine, outside the database."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from promscale.promql.gofmt import format_duration, format_float_f, go_sprint_float
from promscale.promql.parser import ParseError, parse
from promscale.promql.printer import prettify
from promscale.promql.regex import RegexError, compile_anchored

# (query, Prometheus 2.42's String() of it)
ROUND_TRIP = [
    ("foo", "foo"),
    ('foo{a="b", c!~"d.*"}', 'foo{a="b",c!~"d.*"}'),
    ('{__name__="foo"}', '{__name__="foo"}'),
    ('{__name__=~"foo|bar"}', '{__name__=~"foo|bar"}'),
    ("sum(rate(x[5m])) by (job)", "sum by (job) (rate(x[5m]))"),
    ("sum without (a, b) (x)", "sum without (a, b) (x)"),
    ("sum by () (x)", "sum(x)"),
    ("topk(3, x)", "topk(3, x)"),
    ('count_values("v", x)', 'count_values("v", x)'),
    ("x offset 5m", "x offset 5m"),
    ("x offset -1h30m", "x offset -1h30m"),
    ("x @ 100", "x @ 100.000"),
    ("x offset 5m @ 1.5", "x @ 1.500 offset 5m"),
    ("x[5m] offset 1w", "x[1w] offset 1w".replace("[1w]", "[5m]")),
    ("rate(x[5m] @ end())", "rate(x[5m] @ end())"),
    ("x[1h:5m] @ start()", "x[1h:5m] @ start()"),
    ("max_over_time(rate(x[1m])[10m:])", "max_over_time(rate(x[1m])[10m:])"),
    ("a + on(b) group_left(c) d", "a + on (b) group_left (c) d"),
    ("a * ignoring(b) group_right d", "a * ignoring (b) group_right () d"),
    ("a > bool 1", "a > bool 1"),
    ("a and on() b", "a and on () b"),
    ("-x", "-x"),
    ("-1", "-1"),
    ("- -1", "1"),
    ("2 ^ 3 ^ 2", "2 ^ 3 ^ 2"),
    ("(1 + 2) * 3", "(1 + 2) * 3"),
    ("1e6", "1e+06"),
    ("0x10", "16"),
    ("Inf", "+Inf"),
    ("-Inf", "-Inf"),
    ("NaN", "NaN"),
    ('"a\\nb"', '"a\\nb"'),
    ("'single'", '"single"'),
    ("`raw\\n`", '"raw\\\\n"'),
    ('label_replace(x, "a", "$1", "b", "(.*)")', 'label_replace(x, "a", "$1", "b", "(.*)")'),
    ("x[90s]", "x[1m30s]"),
    ("x[86400s]", "x[1d]"),
    ("x[7d]", "x[1w]"),
    ("time()", "time()"),
]


@pytest.mark.parametrize("query,printed", ROUND_TRIP)
def test_printer_matches_prometheus_and_round_trips(query, printed):
    node = parse(query)
    assert str(node) == printed
    assert str(parse(str(node))) == printed


# (query, Prometheus 2.42's error message)
ERRORS = [
    ("sum(", "1:5: parse error: unclosed left parenthesis"),
    ("", "1:1: parse error: no expression found in input"),
    ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
    ('{a=""}', "1:1: parse error: vector selector must contain at least one non-empty matcher"),
    ("foo{__name__=\"bar\"}", '1:1: parse error: metric name must not be set twice: "foo" or "bar"'),
    ("rate(x)", '1:6: parse error: expected type range vector in call to function "rate", got instant vector'),
    ("abs(x[5m])", '1:5: parse error: expected type instant vector in call to function "abs", got range vector'),
    ("nosuchfn(x)", '1:1: parse error: unknown function with name "nosuchfn"'),
    ("round()", '1:1: parse error: expected at least 1 argument(s) in call to "round", got 0'),
    ("round(x, 1, 2)", '1:1: parse error: expected at most 2 argument(s) in call to "round", got 3'),
    ("time(1)", '1:1: parse error: expected 0 argument(s) in call to "time", got 1'),
    ("1 > 2", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
    ("x + bool 1", "1:3: parse error: bool modifier can only be used on comparison operators"),
    ("1 and x", '1:1: parse error: set operator "and" not allowed in binary scalar expression'),
    ("x and on(a) group_left b", '1:1: parse error: no grouping allowed for "and" operation'),
    ("sum(x[5m])", "1:5: parse error: expected type instant vector in aggregation expression, got range vector"),
    ("topk(x, y)", "1:6: parse error: expected type scalar in aggregation parameter, got instant vector"),
    ("(x)[5m]", "1:4: parse error: ranges only allowed for vector selectors"),
    ("x offset 5m offset 5m", "1:1: parse error: offset may not be set multiple times"),
    ("x @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"),
    ("sum(x) offset 5m", "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
    ("x[0s]", "1:3: parse error: duration must be greater than 0"),
    ('x{a=~"("}', "1:3: parse error: error parsing regexp: missing closing ): `^(?:()$`"),
    ("-x[5m]", '1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "range vector"'),
]


@pytest.mark.parametrize("query,message", ERRORS)
def test_parse_errors_carry_prometheus_messages(query, message):
    with pytest.raises(ParseError) as err:
        parse(query)
    assert str(err.value) == message


@pytest.mark.parametrize("value,f,v", [
    (1.0, "1", "1"), (0.1, "0.1", "0.1"), (1e6, "1000000", "1e+06"), (123456.0, "123456", "123456"),
    (1e-5, "0.00001", "1e-05"), (-2.5, "-2.5", "-2.5"), (float("inf"), "+Inf", "+Inf"),
    (float("-inf"), "-Inf", "-Inf"), (float("nan"), "NaN", "NaN"), (1e21, "1000000000000000000000", "1e+21"),
])
def test_go_float_formatting(value, f, v):
    assert format_float_f(value) == f
    assert go_sprint_float(value) == v


@pytest.mark.parametrize("ms,text", [(0, "0s"), (1500, "1s500ms"), (5400000, "1h30m"), (604800000, "1w"),
                                     (31536000000, "1y"), (8 * 86400000, "8d")])
def test_duration_formatting(ms, text):
    assert format_duration(ms) == text


@pytest.mark.parametrize("pattern,text,matches", [
    ("foo|bar", "bar", True), ("fo", "foo", False), ("(?i)FOO", "foo", True), ("a(?i)b", "aB", True),
    ("(a(?i)b)c", "aBC", False), (".*", "a\nb", False), (r"\d+", "١٢", False), ("[[:digit:]]+", "42", True),
    ("x$", "x\n", False), (r"\Qa.b\E", "a.b", True), (r"\Qa.b\E", "axb", False),
])
def test_regexes_follow_re2_and_are_anchored(pattern, text, matches):
    assert (compile_anchored(pattern).fullmatch(text) is not None) == matches


@pytest.mark.parametrize("pattern", ["(?=a)", "(?!a)", "(?<=a)b", r"(a)\1", "(", "a**"])
def test_regexes_re2_rejects_are_rejected(pattern):
    with pytest.raises(RegexError):
        compile_anchored(pattern)


# Regexes as Prometheus 2.42 parses them, asked of Debian's promtool (`check rules` parses each
# rule's expression with Prometheus's own parser): Unicode classes, and errors around them.
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
UNICODE_CLASS_PATTERNS = [r"\pL+", r"\p{Greek}\PL", r"\p{^Greek}", r"[\pL\d]+", r"\p{Any}", r"\pN\p{Han}",
                          r"\p{Foo}", r"\pX", r"\p{Gre", r"[\p{Nope}]", r"\P{^Latin}", r"a\p", r"\P"]


def promtool_verdict(query: str, tmp_path) -> str:
    """'accepted', or promtool's message for the expression."""
    path = tmp_path / "rules.yml"
    path.write_text("groups:\n- name: g\n  rules:\n  - record: r\n    expr: '" + query.replace("'", "''") + "'\n")
    run = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    if run.returncode == 0:
        return "accepted"
    return (run.stdout + run.stderr).split("could not parse expression: ", 1)[1].strip()


@pytest.mark.parametrize("pattern", UNICODE_CLASS_PATTERNS)
def test_unicode_classes_parse_as_in_prometheus(pattern, tmp_path):
    query = 'up{v=~"' + pattern.replace("\\", "\\\\") + '"}'
    try:
        parse(query)
        ours = "accepted"
    except ParseError as exc:
        ours = str(exc)
    assert ours == promtool_verdict(query, tmp_path)


@pytest.mark.parametrize("pattern,text,matches", [
    (r"\pL+", "Éa", True), (r"\pL+", "a1", False), (r"\p{Greek}+", "αβ", True), (r"\PL", "1", True),
    (r"\p{^Greek}", "a", True), (r"\p{^Greek}", "α", False), (r"[\pL\d]+", "a1É", True),
])
def test_unicode_classes_match_as_in_re2(pattern, text, matches):
    assert (compile_anchored(pattern).fullmatch(text) is not None) == matches
