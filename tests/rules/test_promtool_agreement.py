"""`promtool check rules` (Prometheus 2.42, Debian's) and our rule parser accept and refuse the
same rule files (docs/rules.md, "Validation")."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from promscale.rules.spec import RuleError, parse_rule_file

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def group(rules: str, extra: str = "") -> str:
    return f"groups:\n- name: g\n{extra}  rules:\n{rules}"


ALL_FUNCTIONS = " ".join(f"{{{{ {f} }}}}" for f in (
    "humanize 1", "humanize1024 1", "humanizeDuration 1", "humanizePercentage 1", "humanizeTimestamp 1",
    "toTime 1", 'parseDuration "1m"', 'title "a"', 'toUpper "a"', 'toLower "a"', 'match "a" "b"',
    'reReplaceAll "a" "b" "c"', 'graphLink "up"', 'tableLink "up"', 'safeHtml "a"', "externalURL", "pathPrefix",
    'args 1 2', 'printf "%s" "a"', 'len "ab"', 'index $labels "a"', "eq 1 1", "not true", 'urlquery "a b"',
    'with query "up" }}{{ . | first | value }}{{ end', 'range query "up" | sortByLabel "a" }}{{ label "a" . }}'
    '{{ strvalue . }}{{ end'))

CASES = {
    "recording": group("  - record: job:up:sum\n    expr: sum by (job) (up)\n    labels:\n      a: b\n"),
    "alerting": group("  - alert: Down\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n"
                      "    labels:\n      severity: '{{ $labels.job }}'\n    annotations:\n"
                      "      summary: '{{ $value | humanize }} {{ if gt $value 1.0 }}x{{ else if true }}y{{ end }}'\n"),
    "interval_and_limit": group("  - record: r\n    expr: up\n", "  interval: 30s\n  limit: 10\n"),
    "every_template_function": group(f"  - alert: A\n    expr: up\n    annotations:\n      s: '{ALL_FUNCTIONS}'\n"),
    "template_syntax": group("  - alert: A\n    expr: up\n    annotations:\n"
                             "      s: '{{/* c */}}{{- range $k, $v := $labels -}} {{ $k }} {{ end }}{{ $x := 1 }}"
                             "{{ $x = 2 }}{{ with $labels.a }}{{ . }}{{ end }}{{ (printf \"%d\" 1) }}'\n"),
    "empty_file": "",
    "no_groups": "groups: []\n",
    "empty_group": "groups:\n- name: g\n  rules: []\n",
    "unknown_rule_field": group("  - record: r\n    expr: up\n    bogus: 1\n"),
    "unknown_group_field": group("  - record: r\n    expr: up\n", "  bogus: 1\n"),
    "unknown_top_field": "bogus: 1\ngroups: []\n",
    "bad_record_name": group("  - record: 'a b'\n    expr: up\n"),
    "colon_record_name": group("  - record: 'a:b:c'\n    expr: up\n"),
    "record_and_alert": group("  - record: r\n    alert: A\n    expr: up\n"),
    "neither": group("  - expr: up\n"),
    "no_expr": group("  - record: r\n"),
    "bad_expr": group("  - record: r\n    expr: 'sum('\n"),
    "bad_function": group("  - record: r\n    expr: 'nofunc(up)'\n"),
    "for_on_record": group("  - record: r\n    expr: up\n    for: 1m\n"),
    "annotations_on_record": group("  - record: r\n    expr: up\n    annotations:\n      a: b\n"),
    "bad_label_name": group("  - record: r\n    expr: up\n    labels:\n      'a-b': c\n"),
    "name_label": group("  - record: r\n    expr: up\n    labels:\n      __name__: c\n"),
    "bad_annotation_name": group("  - alert: A\n    expr: up\n    annotations:\n      'a-b': c\n"),
    "unknown_template_function": group("  - alert: A\n    expr: up\n    annotations:\n      a: '{{ nope }}'\n"),
    "undefined_variable": group("  - alert: A\n    expr: up\n    labels:\n      a: '{{ $nope }}'\n"),
    "unclosed_if": group("  - alert: A\n    expr: up\n    annotations:\n      a: '{{ if true }}x'\n"),
    "bad_duration": group("  - alert: A\n    expr: up\n    for: 5x\n"),
    "bad_interval": group("  - record: r\n    expr: up\n", "  interval: soon\n"),
    "repeated_group": "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n",
    "empty_group_name": "groups:\n- name: ''\n  rules: []\n",
    "bad_yaml": "groups:\n- name: g\n  rules: [\n",
}

ACCEPTED = {"recording", "alerting", "interval_and_limit", "every_template_function", "template_syntax", "empty_file",
            "no_groups", "empty_group", "colon_record_name"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_promtool_and_we_agree(name, tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(CASES[name])
    promtool = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    try:
        parse_rule_file(CASES[name])
        ours = "accepted"
    except RuleError as exc:
        ours = f"refused: {exc}"
    theirs = "accepted" if promtool.returncode == 0 else f"refused: {promtool.stdout} {promtool.stderr}"
    assert ours.split(":")[0] == theirs.split(":")[0], f"ours {ours!r}, promtool {theirs!r}"
    assert (ours == "accepted") == (name in ACCEPTED), ours
