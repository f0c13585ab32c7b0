"""The status page (/status) in a real browser: versions, storage, maintenance, series and ingest
figures equal what the database and the connector's /metrics say."""

from __future__ import annotations

import psycopg
import pytest
import requests
from selenium.webdriver.common.by import By

from ui_data import now_ms, wait_for, write_demo_metrics


@pytest.fixture(scope="module")
def status_ui(ui_url, module_db_uri) -> str:
    write_demo_metrics(ui_url, (now_ms() // 60_000) * 60_000, minutes=20)
    with psycopg.connect(module_db_uri, autocommit=True) as conn:
        conn.execute("SELECT prom_api.set_metric_retention_period('ui_cpu_ratio', '400 days')")
    return ui_url


def cell_texts(browser, table_id: str, key: str) -> list[str]:
    return [td.text for td in browser.find_elements(By.CSS_SELECTOR, f"#{table_id} td[data-key='{key}']")]


def test_the_status_page_shows_versions_storage_maintenance_and_series(browser, status_ui, module_db_uri):
    browser.get(f"{status_ui}/status")
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "status", "status")
    health = requests.get(status_ui + "/healthz", timeout=10).json()
    build = browser.find_element(By.ID, "build").text
    assert f"connector {health['connector_version']}" in build and f"extension {health['extension_version']}" in build
    with psycopg.connect(module_db_uri) as conn:
        tiers = conn.execute("SELECT tier, samples FROM prom_info.storage").fetchall()
        tasks = conn.execute("SELECT task FROM prom_info.maintenance").fetchall()
        metrics = conn.execute("SELECT metric_name, series_count FROM prom_info.metric ORDER BY 1").fetchall()
    assert cell_texts(browser, "storage", "tier") == [t for t, _ in tiers]
    assert cell_texts(browser, "storage", "samples") == [f"{n:,}" for _, n in tiers]
    assert sum(n for _, n in tiers) > 0
    assert cell_texts(browser, "maintenance", "task") == [t for (t,) in tasks]
    shown = dict(zip(cell_texts(browser, "metrics", "metric"), cell_texts(browser, "metrics", "series")))
    assert shown == {m: f"{n:,}" for m, n in metrics}
    total = sum(n for _, n in metrics)
    assert browser.find_element(By.ID, "series-total").text.startswith(f"{total:,} series in 2 metrics")
    assert "default retention 90 days" in browser.find_element(By.ID, "settings").text
    overrides = browser.find_element(By.ID, "retention-overrides").text
    assert "ui_cpu_ratio" in overrides and "400 days" in overrides


def test_storage_per_metric_is_computed_on_request(browser, status_ui, module_db_uri):
    browser.get(f"{status_ui}/status")
    wait_for(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "status", "status")
    browser.find_element(By.ID, "load-metric-storage").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "metric-storage").get_attribute("data-loaded") == "1",
             "storage per metric")
    with psycopg.connect(module_db_uri) as conn:
        rows = conn.execute("SELECT metric_name, head_samples + compressed_samples "
                            "FROM prom_info.metric_storage").fetchall()
    assert all(n > 0 for _, n in rows)
    head = dict(zip(cell_texts(browser, "metric-storage", "metric"),
                    cell_texts(browser, "metric-storage", "head_samples")))
    compressed = dict(zip(cell_texts(browser, "metric-storage", "metric"),
                          cell_texts(browser, "metric-storage", "compressed_samples")))
    assert {m: int(head[m].replace(",", "")) + int(compressed[m].replace(",", "")) for m in head} == dict(rows)


def test_ingest_totals_come_from_the_connectors_metrics(browser, status_ui):
    browser.get(f"{status_ui}/status")
    wait_for(browser, lambda d: "samples" in d.find_element(By.ID, "ingest").text, "ingest figures")
    exposition = requests.get(status_ui + "/metrics", timeout=10).text
    total = next(float(line.split()[1]) for line in exposition.splitlines()
                 if line.startswith("promscale_ingest_samples_total"))
    assert total > 0
    assert f"samples {int(total):,} total" in browser.find_element(By.ID, "ingest").text
    # a second reading five seconds later adds the rate
    wait_for(browser, lambda d: "/s" in d.find_element(By.ID, "ingest").text, "ingest rates")
