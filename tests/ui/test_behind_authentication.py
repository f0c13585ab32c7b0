"""The pages behind HTTP basic authentication (a reverse proxy's or a WSGI middleware's): opened
as http://user:password@host/..., every API call the pages make carries the credentials."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator

import pytest
import requests
from selenium.webdriver.common.by import By
from werkzeug.serving import make_server

from pyconnector import Config, create_app
from ui_data import now_ms, wait_for, wait_query_done, write_demo_metrics

USER, PASSWORD = "viewer", "s3cret"


def basic_auth(app):
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def guarded(environ, start_response):
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="promscale"'),
                                                ("Content-Type", "text/plain")])
            return [b"authentication required\n"]
        return app(environ, start_response)
    return guarded


@pytest.fixture(scope="module")
def guarded_url(pg_cluster, module_db_uri, tmp_path_factory) -> Iterator[str]:
    db = module_db_uri.rsplit("/", 1)[1]
    app = create_app(Config(db_uri=pg_cluster.uri(db, "promscale_writer"),
                            telemetry_dir=str(tmp_path_factory.mktemp("telemetry"))))
    server = make_server("127.0.0.1", 0, basic_auth(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_the_query_page_works_with_basic_authentication(browser, guarded_url):
    plain = f"http://{guarded_url}"
    assert requests.get(plain + "/graph", timeout=10).status_code == 401
    with requests.Session() as session:
        session.auth = (USER, PASSWORD)
        end_ms = (now_ms() // 60_000) * 60_000
        write_demo_metrics(plain, end_ms, minutes=10, session=session)
        answer = session.get(plain + "/api/v1/query", params={"query": "ui_requests_total"}, timeout=10).json()
    assert len(answer["data"]["result"]) == 3
    browser.get(f"http://{USER}:{PASSWORD}@{guarded_url}/graph?g0.expr=ui_requests_total&g0.tab=1")
    assert wait_query_done(browser, 0) == "done"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#table tbody tr")) == 3
    # and the label APIs behind the completions
    editor = browser.find_element(By.ID, "expr")
    editor.clear()
    editor.send_keys("ui_cp")
    wait_for(browser, lambda d: any(li.text.endswith("ui_cpu_ratio") for li in
                                    d.find_elements(By.CSS_SELECTOR, "#editor .completions li")), "metric names")
