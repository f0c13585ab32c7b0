"""The trace page (/traces) in a real browser: a search finds the trace, the waterfall shows every
span, the details show a span's attributes, events and links, and the critical path is drawn."""

from __future__ import annotations

import time

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from support.traces import PB_HEADERS, S, request_of
from ui_data import wait_for

TRACE = 0xABC
SPANS = [
    S(TRACE, 1, None, "GET /checkout", "frontend", 0, 100, kind=2, attributes={"http.status_code": 200}),
    S(TRACE, 2, 1, "POST /price", "frontend", 5, 50, kind=3),
    S(TRACE, 3, 2, "price", "backend", 10, 40, kind=2, attributes={"customer": "vip"},
      events=[("cache miss", {"key": "price:42"})]),
    S(TRACE, 4, 3, "SELECT prices", "db", 15, 20, kind=3, status=2),
    S(TRACE, 5, 1, "render", "frontend", 60, 35, links=[(0xDEF, 9)]),
]
OTHER = [S(0xDEF, 9, None, "nightly job", "batch", 0, 5)]


@pytest.fixture(scope="module")
def traces_ui(ui_url) -> str:
    base_ns = (time.time_ns() // 1_000_000_000 - 600) * 1_000_000_000  # ten minutes ago
    for spans in (SPANS, OTHER):
        response = requests.post(ui_url + "/v1/traces", data=request_of(spans, base_ns).SerializeToString(),
                                 headers=PB_HEADERS, timeout=30)
        assert response.status_code == 200, response.text
    return ui_url


def test_a_search_opens_a_trace_whose_waterfall_shows_every_span(browser, traces_ui):
    browser.get(f"{traces_ui}/traces")
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1", "services")
    Select(browser.find_element(By.ID, "service")).select_by_visible_text("backend")
    wait_for(browser, lambda d: "price" in [o.text for o in d.find_elements(By.CSS_SELECTOR, "#operation option")],
             "the backend's operations")
    browser.find_element(By.ID, "tags").send_keys("customer=vip")
    browser.find_element(By.ID, "find").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "results").get_attribute("data-status") == "done", "results")
    found = browser.find_elements(By.CSS_SELECTOR, "#results .trace")
    assert [f.get_attribute("data-trace-id") for f in found] == [f"{TRACE:016x}"]
    assert "frontend: GET /checkout" in found[0].text and "5 spans" in found[0].text and "1 error" in found[0].text
    found[0].click()
    wait_for(browser, lambda d: d.find_element(By.ID, "trace").get_attribute("data-status") == "done", "the trace")

    trace = requests.get(f"{traces_ui}/api/traces/{TRACE:016x}", timeout=30).json()["data"][0]
    rows = browser.find_elements(By.CSS_SELECTOR, "#trace .waterfall .row")
    assert sorted(r.get_attribute("data-span-id") for r in rows) == sorted(s["spanID"] for s in trace["spans"])
    # tree order: each child under its parent
    assert [r.get_attribute("data-span-id") for r in rows] == [f"{n:016x}" for n in (1, 2, 3, 4, 5)]
    # critical path: the root waits on POST /price (and under it price, SELECT prices) and on render
    on_path = {r.get_attribute("data-span-id") for r in rows if r.get_attribute("data-critical") == "1"}
    assert on_path == {f"{n:016x}" for n in (1, 2, 3, 4, 5)}
    assert browser.find_elements(By.CSS_SELECTOR, "#trace .critical")
    assert "trace=" in browser.current_url


def test_span_details_show_attributes_events_and_links(browser, traces_ui):
    browser.get(f"{traces_ui}/traces?trace={TRACE:016x}")
    wait_for(browser, lambda d: d.find_element(By.ID, "trace").get_attribute("data-status") == "done", "the trace")
    browser.find_element(By.CSS_SELECTOR, f'#trace .row[data-span-id="{3:016x}"]').click()
    details = browser.find_element(By.CSS_SELECTOR, f'#trace .span-details[data-span-id="{3:016x}"]')
    attributes = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
                  for r in details.find_elements(By.CSS_SELECTOR, "table.attributes tr")}
    assert attributes["customer"] == "vip" and attributes["span.kind"] == "server"
    event = details.find_element(By.CSS_SELECTOR, ".event").text
    assert "cache miss" in event and "price:42" in event
    browser.find_element(By.CSS_SELECTOR, f'#trace .row[data-span-id="{5:016x}"]').click()
    link = browser.find_element(By.CSS_SELECTOR, f'#trace .span-details[data-span-id="{5:016x}"] table.links a')
    assert link.text == f"trace {0xDEF:016x}"
    link.click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#trace .row[data-span-id="{9:016x}"]'),
             "the linked trace")


def test_an_unknown_trace_is_an_error_on_the_page(browser, traces_ui):
    browser.get(f"{traces_ui}/traces?trace={0x123456:016x}")
    wait_for(browser, lambda d: d.find_element(By.ID, "error").is_displayed(), "the error")
    assert "trace not found" in browser.find_element(By.ID, "error").text


def test_duration_and_time_bounds_narrow_the_search(browser, traces_ui):
    def search(**fields: str) -> list[str]:
        query = "&".join(f"{k}={requests.utils.quote(v)}" for k, v in {"service": "frontend", **fields}.items())
        browser.get(f"{traces_ui}/traces?{query}")
        wait_for(browser, lambda d: d.find_element(By.ID, "results").get_attribute("data-status") == "done",
                 "results")
        return [t.get_attribute("data-trace-id") for t in browser.find_elements(By.CSS_SELECTOR, "#results .trace")]

    assert search() == [f"{TRACE:016x}"]
    assert search(minDuration="90ms") == [f"{TRACE:016x}"]  # the root span lasts 100 ms
    assert search(minDuration="101ms") == []
    assert browser.find_element(By.ID, "results").text == "No trace matches."
    assert search(operation="render", maxDuration="40ms") == [f"{TRACE:016x}"]
    assert search(operation="render", maxDuration="30ms") == []
    assert search(lookback="custom", start="2020-01-01 00:00:00", end="2020-01-02 00:00:00") == []
    # the form shows what the URL asked for
    assert browser.find_element(By.ID, "start").get_attribute("value") == "2020-01-01 00:00:00"
    assert browser.find_element(By.ID, "start").is_displayed()
