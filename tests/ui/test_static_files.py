"""The UI's files as HTTP resources: pages at their routes, ETag revalidation, cache lifetimes,
nothing served from outside the static folder. The connector's WSGI app, no browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from pyconnector import Config, create_app
from pyconnector.ui.static_files import STATIC_DIR


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Client:
    # the routes tested here never open a database session
    config = Config(db_uri="postgresql://nobody@127.0.0.1:1/none", telemetry_dir=str(tmp_path_factory.mktemp("t")))
    return Client(create_app(config))


@pytest.mark.parametrize("path, page", [("/", "graph.html"), ("/graph", "graph.html"), ("/query", "graph.html"),
                                        ("/traces", "traces.html"), ("/status", "status.html")])
def test_pages_are_served_at_their_routes(client, path, page):
    response = client.get(path)
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert response.data == (STATIC_DIR / page).read_bytes()
    assert response.headers["Cache-Control"] == "no-cache"


def test_a_file_is_revalidated_by_its_etag(client):
    first = client.get("/ui/static/js/graph_page.js")
    assert first.status_code == 200 and first.content_type == "text/javascript; charset=utf-8"
    etag = first.headers["ETag"]
    again = client.get("/ui/static/js/graph_page.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/ui/static/js/graph_page.js", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == first.data


def test_vendored_libraries_are_cached_for_a_day(client):
    response = client.get("/ui/static/vendor/uplot-1.6.32/uPlot.esm.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.data.startswith(b"/**") and b"uPlot" in response.data[:400]


def test_head_answers_the_length_without_a_body(client):
    response = client.head("/ui/static/css/ui.css")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == (STATIC_DIR / "css" / "ui.css").stat().st_size
    assert response.data == b""


@pytest.mark.parametrize("path", ["/ui/static/nothing.js", "/ui/static/../static_files.py",
                                  "/ui/static/%2e%2e/static_files.py", "/ui/static/js"])
def test_no_file_outside_the_static_folder_or_missing(client, path):
    assert client.get(path).status_code == 404


def test_every_module_a_page_imports_exists():
    """Relative imports between the JavaScript modules resolve to files (a typo is a blank page)."""
    import re
    for script in (STATIC_DIR / "js").glob("*.js"):
        for target in re.findall(r'^import .* from "(\.[^"]+)";$', script.read_text(), re.M):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports missing {target}"
    for page in STATIC_DIR.glob("*.html"):
        for target in re.findall(r'(?:src|href)="(ui/static/[^"]+)"', page.read_text()):
            assert (STATIC_DIR / Path(target).relative_to("ui/static")).is_file(), f"{page.name}: {target}"
