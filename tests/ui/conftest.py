"""Fixtures for the web UI tests: the connector as a real gunicorn process on a test database,
and Debian's chromium driven headless through chromium-driver (Selenium). A failed test leaves a
screenshot and the browser's console log in test-artifacts/ui/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from support.connector import ConnectorProcess

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def ui_url(pg_cluster, module_db_uri) -> Iterator[str]:
    """Base URL of a connector serving the module's database as the writer role."""
    db = module_db_uri.rsplit("/", 1)[1].split("?")[0]
    with ConnectorProcess(pg_cluster.uri(db, "promscale_writer"), workers=1, threads=4) as connector:
        yield connector.url


@pytest.fixture(scope="module")
def chromium() -> Iterator[webdriver.Chrome]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            raise RuntimeError(f"{path} is missing: `make deps` installs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium, request) -> Iterator[webdriver.Chrome]:
    """The module's browser; a failed test saves its screenshot and console log."""
    yield chromium
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        chromium.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        console = "\n".join(f"{e['level']} {e['message']}" for e in chromium.get_log("browser"))
        (ARTIFACTS / f"{name}.console.txt").write_text(console + "\n" + chromium.current_url + "\n")
