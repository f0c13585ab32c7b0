"""Data the web UI tests write through the connector's own endpoints, and page helpers."""

from __future__ import annotations

import time

import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

from support.remote_write import HEADERS, encode, write_request

STEP_MS = 15_000
INSTANCES = ("db-1:9100", "db-2:9100", "web-1:9100")
PAGE_TIMEOUT = 60


def write_demo_metrics(url: str, end_ms: int, minutes: int = 60, session: requests.Session | None = None) -> None:
    """A counter per instance and a gauge per instance and mode, one sample per 15 s up to end_ms."""
    times = range(end_ms - minutes * 60_000, end_ms + 1, STEP_MS)
    series = []
    for i, instance in enumerate(INSTANCES):
        series.append(({"__name__": "ui_requests_total", "job": "node", "instance": instance},
                       [(t, float((t // STEP_MS) % 10_000 * (i + 1))) for t in times]))
        for mode in ("idle", "user"):
            series.append(({"__name__": "ui_cpu_ratio", "job": "node", "instance": instance, "mode": mode},
                           [(t, round(0.1 * (i + 1) + (0.5 if mode == "idle" else 0.05) + (t // STEP_MS % 7) / 100, 3))
                            for t in times]))
    response = (session or requests).post(url + "/api/v1/write", data=encode(write_request(series)),
                                          headers=HEADERS, timeout=30)
    assert response.status_code == 204, response.text


def api(url: str, path: str, **params: object) -> dict:
    response = requests.get(url + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def wait_for(driver, condition, what: str):
    """The value of condition(driver) once truthy; fails naming what was awaited. An element the page
    replaced while the condition read it (stale) means: look again."""
    wait = WebDriverWait(driver, PAGE_TIMEOUT, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException])
    return wait.until(condition, message=f"waiting for {what}")


def wait_query_done(driver, runs_before: int) -> str:
    """Waits until the query page finished a run after runs_before; returns its status (done or error)."""
    def finished(d):
        stats = d.find_element("id", "stats")
        runs = int(stats.get_attribute("data-runs") or 0)
        status = stats.get_attribute("data-status")
        return status if runs > runs_before and status in ("done", "error") else None
    return wait_for(driver, finished, "the query to finish")


def runs(driver) -> int:
    return int(driver.find_element("id", "stats").get_attribute("data-runs") or 0)


def now_ms() -> int:
    return int(time.time() * 1000)
