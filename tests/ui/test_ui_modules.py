"""The pages' pure JavaScript functions, run in the browser as the pages import them: URL state in
Prometheus's format, durations and times, PromQL completion contexts, tags, the critical path."""

from __future__ import annotations

import json

import pytest

SCRIPT = """
const done = arguments[arguments.length - 1];
Promise.all([import("/ui/static/js/url_state.js"), import("/ui/static/js/critical_path.js"),
             import("/ui/static/js/promql_lexer.js"), import("/ui/static/js/tags.js"),
             import("/ui/static/js/editor.js")])
  .then(([url, cp, lexer, tags, editor]) => done(JSON.parse(JSON.stringify(%s))))
  .catch((e) => done({__failed__: String(e)}));
"""


@pytest.fixture
def js(browser, ui_url):
    browser.get(f"{ui_url}/status")  # any page of the connector: same origin for the imports

    def run(expression: str):
        result = browser.execute_async_script(SCRIPT % expression)
        assert not (isinstance(result, dict) and "__failed__" in result), result
        return result
    return run


def test_prometheus_url_state_round_trips(js):
    state = js('url.readState("?g0.expr=rate(x%5B5m%5D)&g0.tab=0&g0.stacked=1&g0.range_input=1h30m'
               '&g0.end_input=2024-02-03%2004%3A05%3A06&g0.step_input=15")')
    assert state == {"expr": "rate(x[5m])", "tab": 0, "stacked": True, "range": 5400,
                     "end": 1706933106000, "step": 15}
    written = js('url.writeState(url.readState("?g0.expr=up&g0.tab=1&g0.range_input=2d&g0.moment_input='
                 '2024-02-03%2004%3A05%3A06"))')
    assert written == ("?g0.expr=up&g0.tab=1&g0.stacked=0&g0.show_exemplars=0&g0.range_input=2d"
                       "&g0.end_input=2024-02-03+04%3A05%3A06&g0.moment_input=2024-02-03+04%3A05%3A06")
    # Prometheus 3's form
    assert js('url.readState("?g0.expr=up&g0.tab=table&g0.display_mode=stacked&g0.range_input=6h'
              '&g0.res_type=fixed&g0.res_step=30")') == {"expr": "up", "tab": 1, "stacked": True, "range": 21600,
                                                         "end": None, "step": 30}
    assert js('url.readState("?g0.expr=up&g0.tab=graph&g0.res_type=auto&g0.res_step=30")')["step"] is None
    # no end: now; defaults for what a link leaves out
    assert js('url.readState("?g0.expr=up")') == {"expr": "up", "tab": 0, "stacked": False, "range": 3600,
                                                   "end": None, "step": None}


def test_durations_and_times(js):
    assert js('["1h", "90m", "1d2h", "15", "2.5", "1w", "", "1x", "h"].map(url.parseDuration)') == \
        [3600, 5400, 93600, 15, 2.5, 604800, None, None, None]
    assert js('[5400, 86400 + 3600, 0.5, 31536000].map(url.formatDuration)') == ["1h30m", "1d1h", "500ms", "1y"]
    assert js('["2024-02-03 04:05", "2024-02-03T04:05:06Z", "1706933106", "03/02/2024"].map(url.parseTime)') == \
        [1706933100000, 1706933106000, 1706933106000, None]
    assert js("[url.autoStep(3600), url.autoStep(60), url.autoStep(86400)]") == [14, 1, 345]


def test_completion_contexts(js):
    contexts = js("""[
        lexer.completionContext("rat", 3),
        lexer.completionContext('up{job="no', 10),
        lexer.completionContext("up{jo", 5),
        lexer.completionContext("sum by (ins", 11),
        lexer.completionContext("rate(x[5", 8),
        lexer.completionContext("up ", 3),
    ]""")
    assert contexts == [
        {"kind": "metric", "prefix": "rat", "from": 0},
        {"kind": "value", "prefix": "no", "from": 8, "label": "job", "metric": "up"},
        {"kind": "label", "prefix": "jo", "from": 3, "metric": "up"},
        {"kind": "label", "prefix": "ins", "from": 8, "metric": None},
        None,
        None,
    ]
    messages = ["1:5: parse error: x", 'invalid parameter "query": 2:10: parse error: y', "no position"]
    assert js(f"{json.dumps(messages)}.map(editor.errorPosition)") == [[1, 5], [2, 10], None]


def test_tags_of_the_trace_search(js):
    assert js("""tags.parseTags('http.status_code=500 error=true  note="a b" q="x\\\\"y"')""") == \
        {"http.status_code": "500", "error": "true", "note": "a b", "q": 'x"y'}
    assert js("tags.parseTags('')") == {}
    message = js("(() => { try { tags.parseTags('oops'); } catch (e) { return e.message; } })()")
    assert "write key=value pairs" in message


def test_critical_path_follows_the_last_finishing_children(js):
    # root 0-100: children a 10-40 and b 20-90 overlap; b finishes last and a had not finished when
    # b started, so only b held the root up: the root's own time is 0-20 and 90-100
    segments = js("""cp.criticalPath({spanID: "r", start: 0, end: 100, children: [
        {spanID: "a", start: 10, end: 40, children: []},
        {spanID: "b", start: 20, end: 90, children: [{spanID: "c", start: 30, end: 120, children: []}]}]})""")
    assert segments == [
        {"spanID": "r", "start": 0, "end": 20},
        {"spanID": "b", "start": 20, "end": 30},
        {"spanID": "c", "start": 30, "end": 90},  # a child outliving its parent is cut at the parent's end
        {"spanID": "r", "start": 90, "end": 100},
    ]
    sequential = js("""cp.criticalPath({spanID: "r", start: 0, end: 50, children: [
        {spanID: "a", start: 5, end: 20, children: []}, {spanID: "b", start: 25, end: 45, children: []}]})""")
    assert [(s["spanID"], s["start"], s["end"]) for s in sequential] == \
        [("r", 0, 5), ("a", 5, 20), ("r", 20, 25), ("b", 25, 45), ("r", 45, 50)]
