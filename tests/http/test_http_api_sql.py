"""prom_api.http_api / http_admin_api, the one SQL entry of the HTTP API: parameters as received,
answered with the HTTP status and the whole body; and the statement timeout of a request's
`timeout` parameter, parsed by the extension."""

from __future__ import annotations

import json

import pytest

from support.http_api import push

T0 = 1_700_000_000_000


@pytest.fixture(scope="module", autouse=True)
def data(api):
    push(api, [({"__name__": "up", "job": "node"}, [(T0 + 15_000 * i, 1) for i in range(5)])])


def http_api(conn, endpoint, form, settings=None):
    return conn.execute("SELECT status, body FROM prom_api.http_api(%s, %s::jsonb, %s::jsonb)",
                        (endpoint, json.dumps(form), json.dumps(settings or {}))).fetchone()


def test_a_request_is_answered_with_status_and_body(module_conn):
    status, body = http_api(module_conn, "query_range", {"query": ["up"], "start": ["1700000000"],
                                                         "end": ["1700000015"], "step": ["15"]})
    assert status == 200
    assert body == ('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up",'
                    '"job":"node"},"values":[[1700000000,"1"],[1700000015,"1"]]}]}}')


def test_repeated_parameters_and_the_first_value(module_conn):
    status, body = http_api(module_conn, "series", {"match[]": ["nothing", "up"], "end": ["1700000100", "1"]})
    assert (status, json.loads(body)["data"]) == (200, [{"__name__": "up", "job": "node"}])


def test_errors_carry_their_status(module_conn):
    assert http_api(module_conn, "query", {"query": ["1+"], "time": ["1"]}) == (
        400, '{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": '
             '1:3: parse error: unexpected end of input"}')
    status, body = http_api(module_conn, "query_range", {"query": ["1"], "start": ["1"], "end": ["2"],
                                                         "step": ["0.0001"]})
    assert (status, json.loads(body)["errorType"]) == (422, "execution")


def test_no_content_is_null(module_conn):
    assert http_api(module_conn, "query_exemplars", {"query": ["1"]}) == (204, None)


def test_label_values_take_the_name_from_the_path(module_conn):
    status, body = http_api(module_conn, "label/job/values", {})
    assert (status, body) == (200, '{"status":"success","data":["node"]}')
    status, body = http_api(module_conn, "label/1a/values", {})
    assert (status, json.loads(body)["error"]) == (400, 'invalid label name: "1a"')


@pytest.mark.parametrize("endpoint", ["nothing", "admin/tsdb/delete_series", "label/job"])
def test_unknown_endpoints_are_not_found(module_conn, endpoint):
    status, body = http_api(module_conn, endpoint, {"match[]": ["up"]})
    assert status == 404 and json.loads(body)["errorType"] == "not_found"


def test_the_admin_api_answers_only_admin_endpoints(module_conn):
    status, body = module_conn.execute("SELECT status, body FROM prom_api.http_admin_api('query', '{}')").fetchone()
    assert status == 404 and json.loads(body)["errorType"] == "not_found"
    status, body = module_conn.execute(
        "SELECT status, body FROM prom_api.http_admin_api('admin/tsdb/delete_series', %s::jsonb)",
        (json.dumps({"match[]": ["up", "{"]}),)).fetchone()
    assert status == 400 and json.loads(body)["error"].startswith('invalid parameter "match[]": ')
    assert module_conn.execute("SELECT count(*) FROM prom_api.query_range('up', to_timestamp(1700000000), "
                               "to_timestamp(1700000060), '15 seconds')").fetchone()[0] == 5  # nothing deleted


@pytest.mark.parametrize("timeout, expected", [
    (None, 120000), ("", 120000), ("30s", 30000), ("5m", 120000), ("0.0001", 1), ("-1", 1), ("x", 120000),
    ("1e300", 120000), ("1.5", 1500),
])
def test_statement_timeout_of_a_request(module_conn, timeout, expected):
    assert module_conn.execute("SELECT _prom_catalog.http_statement_timeout(%s, 120000)",
                               (timeout,)).fetchone()[0] == str(expected)


def test_the_statement_timeout_is_set_for_the_transaction(module_conn):
    # what the connector pipelines before a request with a `timeout` parameter
    module_conn.execute("BEGIN")
    try:
        module_conn.execute("SELECT pg_catalog.set_config('statement_timeout', "
                            "_prom_catalog.http_statement_timeout('0.05', 120000), true)")
        assert module_conn.execute("SHOW statement_timeout").fetchone()[0] == "50ms"
    finally:
        module_conn.execute("ROLLBACK")
