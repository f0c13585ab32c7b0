"""The query page (/ and /graph) in a real browser: what it shows equals what the API answers."""

from __future__ import annotations

import datetime
import json
import re
from urllib.parse import parse_qs, quote, urlsplit

import psycopg
import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from ui_data import api, now_ms, runs, wait_for, wait_query_done, write_demo_metrics

END_MS = (now_ms() // 60_000) * 60_000 - 60_000  # a whole minute, in the past: the page and the API agree


def end_input(ms: int) -> str:
    """Prometheus's end_input and moment_input form: YYYY-MM-DD HH:mm:ss, UTC."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def series_name(metric: dict) -> str:
    labels = ", ".join(f"{k}={json.dumps(metric[k])}" for k in sorted(metric) if k != "__name__")
    name = metric.get("__name__", "")
    return name if name and not labels else f"{name}{{{labels}}}"


@pytest.fixture(scope="module")
def ui(ui_url) -> str:
    write_demo_metrics(ui_url, END_MS)
    return ui_url


def open_graph(browser, url: str, **params: str) -> None:
    query = "&".join(f"g0.{k}={quote(v)}" for k, v in params.items())
    browser.get(f"{url}/graph?{query}")


def legend_labels(browser) -> list[str]:
    rows = browser.find_elements(By.CSS_SELECTOR, "#chart .u-legend .u-series .u-label")
    return [r.text for r in rows][1:]  # the first row is the time axis


def test_a_prometheus_link_opens_the_chart_with_every_series(browser, ui, module_db_uri):
    expr = "rate(ui_requests_total[5m])"
    open_graph(browser, ui, expr=expr, tab="0", range_input="30m", end_input=end_input(END_MS), step_input="60")
    assert wait_query_done(browser, 0) == "done"
    end = END_MS // 1000
    start = end - 1800
    answer = api(ui, "/api/v1/query_range", query=expr, start=start, end=end, step=60)
    assert browser.find_element(By.ID, "expr").get_attribute("value") == expr
    assert browser.find_element(By.ID, "chart").get_attribute("data-series-count") == str(len(answer["result"]))
    assert sorted(legend_labels(browser)) == sorted(series_name(s["metric"]) for s in answer["result"])
    samples = sum(len(s["values"]) for s in answer["result"])
    stats = browser.find_element(By.ID, "stats").text
    assert f"Result series: {len(answer['result'])}" in stats and f"Samples: {samples}" in stats
    assert "Resolution: 60s" in stats
    # the chart is drawn: uPlot's canvas has the container's width
    canvas = browser.find_element(By.CSS_SELECTOR, "#chart canvas")
    assert canvas.size["width"] > 300
    # the SQL equivalent, pasted into psql, gives the same series and samples
    sql = browser.find_element(By.ID, "sql-text").get_attribute("textContent")
    assert sql.startswith("SELECT * FROM prom_api.query_range('rate(ui_requests_total[5m])', ")
    with psycopg.connect(module_db_uri) as conn:
        rows = conn.execute(sql).fetchall()
    assert len(rows) == samples
    assert {series_name(labels) for labels, _, _ in rows} == {series_name(s["metric"]) for s in answer["result"]}
    assert sorted((series_name(labels), t.timestamp(), v) for labels, t, v in rows) == sorted(
        (series_name(s["metric"]), float(t), float(v)) for s in answer["result"] for t, v in s["values"])


def test_typing_a_query_shows_the_apis_values_in_the_table(browser, ui, module_db_uri):
    browser.get(f"{ui}/graph")
    browser.find_element(By.ID, "tab-table").click()
    end = browser.find_element(By.ID, "end")
    end.clear()
    end.send_keys(end_input(END_MS))
    editor = browser.find_element(By.ID, "expr")
    before = runs(browser)
    editor.send_keys('sum by (instance, mode) (ui_cpu_ratio{job="node"})')
    editor.send_keys(Keys.ESCAPE, Keys.ENTER)
    assert wait_query_done(browser, before) == "done"
    answer = api(ui, "/api/v1/query", query='sum by (instance, mode) (ui_cpu_ratio{job="node"})', time=END_MS / 1000)
    expected = {series_name(s["metric"]): s["value"][1] for s in answer["result"]}
    assert len(expected) == 6
    shown = {row.find_element(By.CSS_SELECTOR, ".series").text: row.find_element(By.CSS_SELECTOR, ".value").text
             for row in browser.find_elements(By.CSS_SELECTOR, "#table tbody tr")}
    assert shown == expected
    sql = browser.find_element(By.ID, "sql-text").get_attribute("textContent")
    with psycopg.connect(module_db_uri) as conn:
        rows = conn.execute(sql).fetchall()
    assert {series_name(labels): float(v) for labels, _, v in rows} == {k: float(v) for k, v in expected.items()}
    # the URL holds the whole state in Prometheus's format, and opening it restores the page
    state = parse_qs(urlsplit(browser.current_url).query)
    assert state["g0.expr"] == ['sum by (instance, mode) (ui_cpu_ratio{job="node"})']
    assert state["g0.tab"] == ["1"]
    assert state["g0.moment_input"] == [end_input(END_MS)]
    link = browser.current_url
    browser.get("about:blank")
    browser.get(link)
    assert wait_query_done(browser, 0) == "done"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#table tbody tr")) == 6
    assert browser.find_element(By.ID, "tab-table").get_attribute("class") == "active"


def test_a_parse_error_is_shown_at_its_position(browser, ui):
    expr = "sum(rate(ui_requests_total[5m])"
    open_graph(browser, ui, expr=expr, tab="1")
    assert wait_query_done(browser, 0) == "error"
    message = browser.find_element(By.ID, "error").text
    response = api_error(ui, expr)
    assert message == response
    # the parser's line:column, as an offset into the expression, is where the editor marks it
    line, column = map(int, re.search(r"(\d+):(\d+): parse error", message).groups())
    assert line == 1
    assert browser.find_element(By.ID, "editor").get_attribute("data-error-at") == str(column - 1)
    marked = browser.find_elements(By.CSS_SELECTOR, "#editor .tok-error")
    assert len(marked) == 1
    # typing clears the mark
    browser.find_element(By.ID, "expr").send_keys(")")
    assert not browser.find_elements(By.CSS_SELECTOR, "#editor .tok-error")


def api_error(url: str, expr: str) -> str:
    body = requests.get(url + "/api/v1/query", params={"query": expr}, timeout=30).json()
    assert body["status"] == "error"
    return body["error"]


def first_completion(driver) -> str:
    """The selected (first) entry of the completion list; empty while the list is closed.
    Waiting on it, not on any entry, waits for the list of the last key typed."""
    items = driver.find_elements(By.CSS_SELECTOR, "#editor .completions li.selected")
    return items[0].text if items and items[0].is_displayed() else ""


def test_autocomplete_offers_metric_names_functions_and_labels(browser, ui):
    browser.get(f"{ui}/graph")
    editor = browser.find_element(By.ID, "expr")
    editor.send_keys("ui_req")
    wait_for(browser, lambda d: first_completion(d).endswith("ui_requests_total"), "metric names")
    editor.send_keys(Keys.TAB)
    assert editor.get_attribute("value") == "ui_requests_total"
    editor.send_keys("{ins")
    wait_for(browser, lambda d: first_completion(d).endswith("instance"), "label names")
    editor.send_keys(Keys.TAB, '="web')
    wait_for(browser, lambda d: first_completion(d).endswith("web-1:9100"), "label values")
    editor.send_keys(Keys.TAB)
    assert editor.get_attribute("value") == 'ui_requests_total{instance="web-1:9100'
    editor.clear()
    editor.send_keys("histogram_q")
    wait_for(browser, lambda d: first_completion(d).endswith("histogram_quantile"), "functions")
    # the highlighter colours what it knows
    editor.send_keys(Keys.TAB)
    assert browser.find_elements(By.CSS_SELECTOR, "#editor .highlight .tok-function")


def test_dragging_across_the_chart_zooms_in_and_stacked_keeps_the_series(browser, ui):
    open_graph(browser, ui, expr="ui_cpu_ratio", tab="0", range_input="1h", end_input=end_input(END_MS),
               stacked="1")
    assert wait_query_done(browser, 0) == "done"
    assert browser.find_element(By.ID, "stacked").is_selected()
    assert browser.find_element(By.ID, "chart").get_attribute("data-series-count") == "6"
    over = browser.find_element(By.CSS_SELECTOR, "#chart .u-over")
    before = runs(browser)
    width = over.size["width"]
    ActionChains(browser).move_to_element_with_offset(over, -width // 4, 0).click_and_hold() \
        .move_by_offset(width // 2, 0).release().perform()
    assert wait_query_done(browser, before) == "done"
    state = parse_qs(urlsplit(browser.current_url).query)
    # half the width of a one-hour chart: about 30 minutes, ending earlier than before
    assert state["g0.range_input"][0] in {"29m", "30m", "31m"} or state["g0.range_input"][0].startswith(("29m", "30m"))
    assert state["g0.stacked"] == ["1"]
    assert browser.find_element(By.ID, "chart").get_attribute("data-series-count") == "6"
