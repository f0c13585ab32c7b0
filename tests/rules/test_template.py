"""The Go text/template subset of rule templates (extension/promscale/rules/template.py), with
the outputs Go and Prometheus 2.42's template functions give (the differential test checks
more of them against a real Prometheus)."""

from __future__ import annotations

import pytest

from promscale.rules.spec import RuleError, compile_template, parse_group_text
from promscale.rules.template import TemplateError

DATA = {"Labels": {"job": "api", "instance": "h:9"}, "ExternalLabels": {"cluster": "c1"},
        "ExternalURL": "http://prom:9090", "Value": 1234567.0}


def expand(text: str, data: dict = DATA, query=None) -> str:
    return compile_template(text, "A", query).execute(data)


@pytest.mark.parametrize("text, expected", [
    ("{{ $labels.job }} {{ $value }}", "api 1.234567e+06"),
    ("{{ .Labels.instance }}/{{ $externalLabels.cluster }}/{{ $externalURL }}", "h:9/c1/http://prom:9090"),
    ("{{ $labels.missing }}|", "|"),  # missingkey=zero
    ("{{ $value | humanize }} {{ humanize1024 $value }} {{ humanize 0.0 }} {{ humanize 0.00123 }}",
     "1.235M 1.177Mi 0 1.23m"),
    ("{{ humanizeDuration 3725.5 }} {{ humanizeDuration 59.5 }} {{ humanizeDuration 0.0123 }}",
     "1h 2m 5s 59.5s 12.3ms"),
    ("{{ humanizePercentage 0.1234 }} {{ humanizeTimestamp 1.5 }}", "12.34% 1970-01-01 00:00:01.5 +0000 UTC"),
    ('{{ printf "%.2f|%d|%s|%q|%5.1f" $value 3 "x" "y" 2.25 }}', '1234567.00|3|x|"y"|  2.2'),
    ('{{ printf "%d" $value }}', "%!d(float64=1.234567e+06)"),
    ("{{ if gt $value 10.0 }}big{{ else if eq $value 1.0 }}one{{ else }}small{{ end }}", "big"),
    ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}", "instance=h:9,job=api,"),
    ("{{ range $labels }}{{ . }};{{ else }}none{{ end }}", "h:9;api;"),
    ("{{ with $labels.nope }}x{{ else }}empty{{ end }}", "empty"),
    ('{{- " a " -}}  b  {{- "c" }}', " a bc"),
    ("{{/* a comment */}}ok", "ok"),
    ("{{ $x := 3 }}{{ $x }}{{ $x = 4 }}{{ $x }}", "34"),
    ('{{ reReplaceAll "(h):(\\\\d+)" "$2-${1}" $labels.instance }}', "9-h"),
    ('{{ title "hello wide world" }} {{ toUpper "a" }} {{ toLower "B" }} {{ match "^a" "abc" }}',
     "Hello Wide World A b true"),
    ('{{ len $labels }} {{ index $labels "job" }} {{ and 1 0 }} {{ or 0 "x" }} {{ not true }}', "2 api 0 x false"),
    ('{{ parseDuration "1m30s" }}', "90"),
    ('{{ "a" | printf "%s-%s" "b" }}', "b-a"),
    ("{{ (index $labels \"job\") | toUpper }}", "API"),
])
def test_templates_expand_as_in_go(text, expected):
    assert expand(text) == expected


def test_query_first_value_and_label():
    def query(expr: str) -> list:
        assert expr == "up"
        return [{"Labels": {"job": "b"}, "Value": 2.0}, {"Labels": {"job": "a"}, "Value": 1.0}]

    assert expand('{{ with query "up" }}{{ . | first | value }}{{ end }}', query=query) == "2"
    assert expand('{{ range query "up" | sortByLabel "job" }}{{ label "job" . }}{{ end }}', query=query) == "ab"


@pytest.mark.parametrize("text, message", [
    ("{{ $labels.job | nope }}", 'template: __alert_A:1: function "nope" not defined'),
    ("{{ $undefined }}", 'template: __alert_A:1: undefined variable "$undefined"'),
    ("{{ if true }}x", "template: __alert_A:1: unexpected EOF in if"),
    ("{{ end }}", "template: __alert_A:1: unexpected {{end}}"),
    ("{{ define \"x\" }}{{ end }}", "{{define}} is not supported in rule templates"),
    ("{{ \"unterminated }}", "unterminated quoted string"),
])
def test_bad_templates_are_refused_at_load(text, message):
    with pytest.raises(TemplateError) as err:
        compile_template(text, "A")
    assert message in str(err.value)


def test_execution_errors_are_reported():
    with pytest.raises(TemplateError, match="error calling first: first\\(\\) called on vector with no elements"):
        expand('{{ query "x" | first }}', query=lambda e: [])


def test_group_validation_messages_are_promtools():
    with pytest.raises(RuleError) as err:
        parse_group_text("rules:\n- record: r\n  expr: up\n  for: 1m\n  annotations: {a: b}\n"
                         "- alert: A\n  record: B\n  expr: up\n  labels: {__name__: x, 'bad-name': y}\n"
                         "- alert: C\n", "g")
    assert err.value.errors == [
        'group "g", rule 1, "r": invalid field \'annotations\' in recording rule',
        'group "g", rule 1, "r": invalid field \'for\' in recording rule',
        'group "g", rule 2, "A": only one of \'record\' and \'alert\' must be set',
        'group "g", rule 2, "A": invalid label name: __name__',
        'group "g", rule 2, "A": invalid label name: bad-name',
        'group "g", rule 3, "C": field \'expr\' must be set in rule',
    ]


def test_group_fields():
    group = parse_group_text("interval: 30s\nlimit: 5\nrules:\n- alert: A\n  expr: up == 0\n  for: 5m\n"
                             "  keep_firing_for: 1m\n", "g")
    assert group == {"name": "g", "interval_ms": 30000, "limit": 5, "rules": [
        {"expr": "up == 0", "labels": {}, "alert": "A", "for_ms": 300000, "keep_firing_for_ms": 60000,
         "annotations": {}}]}
    with pytest.raises(RuleError, match='the YAML names group "other", not "g"'):
        parse_group_text("name: other\nrules: []\n", "g")


def test_rules_api_json_is_gos():
    from promscale.rules.api import go_json, rfc3339
    assert go_json({"a": [1.0, 0.5, 1.23e-05, 1e-07, 3e21, 2, True, None, "<&>"], "b": {}}) == \
        '{"a":[1,0.5,0.0000123,1e-7,3e+21,2,true,null,"\\u003c\\u0026\\u003e"],"b":{}}'
    assert rfc3339(1700000000120) == "2023-11-14T22:13:20.12Z" and rfc3339(None) == "0001-01-01T00:00:00Z"
