"""Screenshots of the web UI for the README (`make ui-screenshots` writes docs/img/ui-*.png).

A throwaway cluster and connector, a few hours of demo metrics and a few traces, and the same
headless chromium the browser tests drive.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import psycopg
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "tools")]

from support.connector import ConnectorProcess  # noqa: E402
from support.postgres import remove_cluster, start_cluster  # noqa: E402
from support.remote_write import HEADERS, encode, write_request  # noqa: E402
from support.traces import PB_HEADERS, S, request_of  # noqa: E402

STEP_MS = 15_000


def demo_series(end_ms: int, hours: int = 3) -> list:
    times = range(end_ms - hours * 3_600_000, end_ms + 1, STEP_MS)
    series = []
    for i, handler in enumerate(("/api/orders", "/api/prices", "/api/users", "/healthz")):
        for code in ("200", "500"):
            rate = (40 - 8 * i) * (1 if code == "200" else 0.04)
            total, samples = 0.0, []
            for t in times:
                phase = t / 3_600_000 * 2 * math.pi / 1.5 + i
                total += rate * (1.2 + math.sin(phase)) * STEP_MS / 1000
                samples.append((t, round(total)))
            series.append(({"__name__": "http_requests_total", "job": "shop", "handler": handler, "code": code},
                           samples))
    return series


def demo_spans() -> list:
    trace = 0x5EED
    return [
        S(trace, 1, None, "GET /checkout", "frontend", 0, 180, kind=2, attributes={"http.status_code": 200}),
        S(trace, 2, 1, "GET /cart", "frontend", 4, 30, kind=3),
        S(trace, 3, 2, "cart.load", "cart", 8, 22, kind=2, attributes={"user": "u-1041"}),
        S(trace, 4, 3, "HGETALL cart:u-1041", "redis", 10, 6, kind=3),
        S(trace, 5, 1, "POST /price", "frontend", 36, 90, kind=3),
        S(trace, 6, 5, "price", "pricing", 40, 82, kind=2, attributes={"customer": "vip"},
          events=[("cache miss", {"key": "price:42"})]),
        S(trace, 7, 6, "SELECT prices", "postgres", 44, 35, kind=3),
        S(trace, 8, 6, "SELECT discounts", "postgres", 82, 36, kind=3, status=2),
        S(trace, 9, 1, "render", "frontend", 130, 45),
    ]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cluster = start_cluster()
    try:
        with psycopg.connect(cluster.uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE promscale_demo")
        with psycopg.connect(cluster.uri("promscale_demo"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION promscale CASCADE")
            conn.execute("CREATE ROLE promscale_writer LOGIN IN ROLE prom_writer")
        with ConnectorProcess(cluster.uri("promscale_demo", "promscale_writer"), workers=1, threads=4) as connector:
            end_ms = int(time.time() * 1000) // STEP_MS * STEP_MS
            response = requests.post(connector.url + "/api/v1/write", data=encode(write_request(demo_series(end_ms))),
                                     headers=HEADERS, timeout=60)
            response.raise_for_status()
            base_ns = (time.time_ns() // 1_000_000_000 - 300) * 1_000_000_000
            requests.post(connector.url + "/v1/traces", data=request_of(demo_spans(), base_ns).SerializeToString(),
                          headers=PB_HEADERS, timeout=30).raise_for_status()
            shoot(connector.url, out)
    finally:
        remove_cluster(cluster)


def shoot(url: str, out: Path) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    wait = WebDriverWait(driver, 60)
    try:
        expr = "sum by (handler) (rate(http_requests_total[5m]))"
        driver.get(f"{url}/graph?g0.expr={requests.utils.quote(expr)}&g0.tab=0&g0.range_input=3h")
        wait.until(lambda d: d.find_element(By.ID, "stats").get_attribute("data-status") == "done")
        driver.find_element(By.ID, "sql").click()
        driver.save_screenshot(str(out / "ui-graph.png"))
        driver.get(f"{url}/traces?trace={0x5EED:016x}")
        wait.until(lambda d: d.find_element(By.ID, "trace").get_attribute("data-status") == "done")
        driver.find_element(By.CSS_SELECTOR, f'#trace .row[data-span-id="{6:016x}"]').click()
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(out / "ui-traces.png"))
        driver.get(f"{url}/status")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "status")
        driver.save_screenshot(str(out / "ui-status.png"))
    finally:
        driver.quit()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
