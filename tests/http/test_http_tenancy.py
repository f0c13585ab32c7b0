"""Multitenancy through the connector (--multi-tenancy; pyconnector/tenancy.py, enforced by the
database: sql/idempotent/012-tenancy.sql): which tenant a request gets, and that two tenants
with identical metric names and label sets never see each other's data on any endpoint."""

from __future__ import annotations

import pytest
import snappy
from werkzeug.test import Client

from pyconnector import Config, create_app
from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb
from support.remote_write import HEADERS, encode, write_request

READ_HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                "Accept-Encoding": "snappy", "X-Prometheus-Remote-Read-Version": "0.1.0"}

A_TOKEN = "tenant-a-token-0123456789"
B_TOKEN = "tenant-b-token-0123456789"
ANY_TOKEN = "any-tenant-token-0123456789"
PLAIN_TOKEN = "no-tenant-token-0123456789"
T0 = 1_700_000_000_000  # ms


def bearer(token: str, **headers: str) -> dict:
    return {"Authorization": "Bearer " + token, **headers}


def tenancy_config(pg_cluster, module_db, tmp_path, **options) -> Config:
    (tmp_path / "tokens").write_text(f"{A_TOKEN} admin team-a\n{B_TOKEN} admin team-b\n"
                                     f"{ANY_TOKEN} admin *\n{PLAIN_TOKEN} admin\n")
    return Config(db_uri=pg_cluster.uri(module_db, "promscale_writer"), telemetry_dir=str(tmp_path / "telemetry"),
                  auth_token_file=str(tmp_path / "tokens"), multi_tenancy=True, web_enable_admin_api=True,
                  **options)


@pytest.fixture(scope="module")
def client(pg_cluster, module_db, tmp_path_factory) -> Client:
    return Client(create_app(tenancy_config(pg_cluster, module_db, tmp_path_factory.mktemp("tenancy"))))


def write(client: Client, headers: dict, series=(), metadata=(), exemplars=()):
    return client.post("/api/v1/write", data=encode(write_request(series, metadata, exemplars)),
                       headers={**HEADERS, **headers})


def same_series(value: float) -> list:
    """The series both tenants write: identical names and label sets."""
    return [({"__name__": "http_requests_total", "job": "api", "instance": "i1"},
             [(T0, value), (T0 + 15_000, value + 1)]),
            ({"__name__": "up", "job": "api", "instance": "i1"}, [(T0, value)])]


@pytest.mark.parametrize("headers, status, message", [
    (bearer(A_TOKEN, **{"X-Scope-OrgID": "team-b"}), 403, "may not name another"),
    (bearer(PLAIN_TOKEN, **{"X-Scope-OrgID": "team-a"}), 403, "may not choose a tenant"),
    (bearer(PLAIN_TOKEN), 401, "X-Scope-OrgID"),
    (bearer(ANY_TOKEN), 401, "X-Scope-OrgID"),
    (bearer(ANY_TOKEN, **{"X-Scope-OrgID": "bad tenant"}), 400, "invalid tenant"),
    (bearer(ANY_TOKEN, **{"X-Scope-OrgID": "x" * 151}), 400, "invalid tenant"),
])
def test_tenant_resolution_refusals(client, headers, status, message):
    response = client.get("/api/v1/labels", headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert message in response.get_data(as_text=True)


def test_valid_tenants_limit_what_is_served(pg_cluster, module_db, tmp_path):
    app = create_app(tenancy_config(pg_cluster, module_db, tmp_path, multi_tenancy_valid_tenants="team-a"))
    c = Client(app)
    assert c.get("/api/v1/labels", headers=bearer(A_TOKEN)).status_code == 200
    response = c.get("/api/v1/labels", headers=bearer(B_TOKEN))
    assert response.status_code == 403 and "not served here" in response.get_data(as_text=True)


def test_writes_carry_the_tenant_label(client, module_conn):
    assert write(client, bearer(A_TOKEN), same_series(1.0)).status_code == 204
    assert write(client, bearer(ANY_TOKEN, **{"X-Scope-OrgID": "team-b"}), same_series(100.0)).status_code == 204
    rows = module_conn.execute(
        "SELECT prom_api.labels(s.id)->>'__tenant__', count(*) FROM _prom_catalog.series s "
        "GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("team-a", 2), ("team-b", 2)]


def test_a_series_may_not_name_its_own_tenant(client):
    series = [({"__name__": "up", "__tenant__": "team-b", "job": "x"}, [(T0, 1.0)])]
    response = write(client, bearer(A_TOKEN), series)
    assert response.status_code == 400 and "__tenant__" in response.get_data(as_text=True)


# --- two tenants (and data without tenant) with identical names and label sets ---

T1 = T0 + 15_000
VIEWERS = {  # who reads → (headers, strings only another viewer's data holds)
    "team-a": (bearer(A_TOKEN), ["team-b", "b-secret", "b_only", "B help", "b-trace", "nobody", "1000", "101"]),
    "team-b": (bearer(ANY_TOKEN, **{"X-Scope-OrgID": "team-b"}),
               ["team-a", "a-secret", "a_only", "A help", "a-trace", "nobody", "1000"]),
    "": (bearer(PLAIN_TOKEN), ["team-a", "team-b", "a-secret", "b-secret", "a_only", "b_only", "A help", "B help",
                               "a-trace", "b-trace"]),
}
OWN = {  # strings each viewer's own data holds
    "team-a": ("a-secret", "A help", "a-trace"),
    "team-b": ("b-secret", "B help", "b-trace"),
    "": ("nobody-secret", "nobody's help", "nobody-trace"),
}
VALUE = {"team-a": 1.0, "team-b": 100.0, "": 1000.0}


def tenant_data(owner: str, prefix: str, value: float):
    series = [({"__name__": "http_requests_total", "job": "api", "instance": "i1"}, [(T0, value), (T1, value + 1)]),
              ({"__name__": "up", "job": "api", "instance": "i1"}, [(T0, value), (T1, value)]),
              ({"__name__": "only_here", "owner": owner, f"{prefix}_only": "x"}, [(T0, value), (T1, value)])]
    metadata = [("http_requests_total", 1, f"{'nobody' if prefix == 'none' else prefix.upper()}"
                 f"{''''s help''' if prefix == 'none' else ' help'}", "")]
    exemplars = [({"__name__": "http_requests_total", "job": "api", "instance": "i1"},
                  {"trace_id": f"{'nobody' if prefix == 'none' else prefix}-trace"}, value, T1)]
    return series, metadata, exemplars


@pytest.fixture(scope="module")
def non_tenant_client(pg_cluster, module_db, tmp_path_factory) -> Client:
    return Client(create_app(tenancy_config(pg_cluster, module_db, tmp_path_factory.mktemp("non-tenants"),
                                            multi_tenancy_allow_non_tenants=True)))


@pytest.fixture(scope="module")
def two_tenants(client, non_tenant_client):
    for viewer, owner, prefix in (("team-a", "a-secret", "a"), ("team-b", "b-secret", "b"),
                                  ("", "nobody-secret", "none")):
        series, metadata, exemplars = tenant_data(owner, prefix, VALUE[viewer])
        c = non_tenant_client if viewer == "" else client
        response = write(c, VIEWERS[viewer][0], series, metadata, exemplars)
        assert response.status_code == 204, response.get_data(as_text=True)
    return {"": non_tenant_client, "team-a": client, "team-b": client}


def read_paths():
    s0, s1 = T0 / 1000, T1 / 1000
    return [
        ("/api/v1/query", {"query": "http_requests_total", "time": s1}),
        ("/api/v1/query", {"query": "count(http_requests_total)", "time": s1}),
        ("/api/v1/query", {"query": "sum by (__tenant__) (up)", "time": s1}),
        ("/api/v1/query", {"query": 'absent(only_here{owner=~".+-secret"})', "time": s1}),
        ("/api/v1/query", {"query": "max_over_time(http_requests_total[1m:15s])", "time": s1}),
        ("/api/v1/query", {"query": '{__name__=~".+"}', "time": s1}),
        ("/api/v1/query_range", {"query": "http_requests_total", "start": s0, "end": s1, "step": 15}),
        ("/api/v1/series", {"match[]": "http_requests_total"}),
        ("/api/v1/series", {"match[]": '{__name__=~".+"}'}),
        ("/api/v1/labels", {}),
        ("/api/v1/labels", {"match[]": "only_here"}),
        ("/api/v1/labels", {"match[]": '{__name__=~"only.*"}'}),
        ("/api/v1/label/owner/values", {}),
        ("/api/v1/label/owner/values", {"match[]": "only_here"}),
        ("/api/v1/label/owner/values", {"match[]": '{__name__=~"only.*"}'}),
        ("/api/v1/label/__tenant__/values", {}),
        ("/api/v1/metadata", {}),
        ("/api/v1/metadata", {"metric": "http_requests_total"}),
        ("/api/v1/query_exemplars", {"query": "http_requests_total", "start": s0, "end": s1}),
    ]


@pytest.mark.parametrize("viewer", list(VIEWERS), ids=["team-a", "team-b", "no-tenant"])
@pytest.mark.parametrize("path, params", read_paths(), ids=lambda p: str(p))
def test_no_answer_for_one_tenant_holds_anything_of_another(two_tenants, viewer, path, params):
    headers, foreign = VIEWERS[viewer]
    response = two_tenants[viewer].get(path, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    for word in foreign:
        assert word not in text, f"{viewer or 'no tenant'} sees {word!r} in {path} {params}: {text}"


@pytest.mark.parametrize("viewer", list(VIEWERS), ids=["team-a", "team-b", "no-tenant"])
def test_each_viewer_sees_its_own_data(two_tenants, viewer):
    headers, _ = VIEWERS[viewer]
    c = two_tenants[viewer]

    def get(path, **params):
        response = c.get(path, query_string=params, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["data"]

    result = get("/api/v1/query", query="http_requests_total", time=T1 / 1000)
    tenant_label = {"__tenant__": viewer} if viewer else {}
    assert result["result"] == [{"metric": {"__name__": "http_requests_total", "instance": "i1", "job": "api",
                                            **tenant_label},
                                 "value": [T1 / 1000, f"{VALUE[viewer] + 1:g}"]}]
    assert get("/api/v1/query", query="count(up)", time=T1 / 1000)["result"][0]["value"][1] == "1"
    assert get("/api/v1/query", query="absent(nonexistent)", time=T1 / 1000)["result"][0]["value"][1] == "1"
    for other in (o for o in OWN if o != viewer):
        # another tenant's series is absent; the viewer's own is not
        absent = get("/api/v1/query", query=f'absent(only_here{{owner="{OWN[other][0]}"}})', time=T1 / 1000)
        assert absent["result"][0]["value"][1] == "1"
    assert get("/api/v1/query", query=f'absent(only_here{{owner="{OWN[viewer][0]}"}})', time=T1 / 1000)["result"] == []
    assert get("/api/v1/label/owner/values") == [OWN[viewer][0]]
    assert get("/api/v1/label/owner/values", **{"match[]": "only_here"}) == [OWN[viewer][0]]
    assert get("/api/v1/label/__tenant__/values") == ([viewer] if viewer else [])
    assert [m["help"] for m in get("/api/v1/metadata")["http_requests_total"]] == [OWN[viewer][1]]
    exemplars = get("/api/v1/query_exemplars", query="http_requests_total", start=T0 / 1000, end=T1 / 1000)
    assert [e["labels"]["trace_id"] for x in exemplars for e in x["exemplars"]] == [OWN[viewer][2]]
    assert len(get("/api/v1/series", **{"match[]": '{__name__=~".+"}'})) == 3


@pytest.mark.parametrize("viewer", list(VIEWERS), ids=["team-a", "team-b", "no-tenant"])
def test_remote_read_sees_only_the_viewers_series(two_tenants, viewer):
    req = pb.ReadRequest()
    q = req.queries.add(start_timestamp_ms=T0, end_timestamp_ms=T1)
    q.matchers.add(type=pb.LabelMatcher.RE, name="__name__", value=".+")
    response = two_tenants[viewer].post("/api/v1/read", data=snappy.compress(req.SerializeToString()),
                                        headers={**READ_HEADERS, **VIEWERS[viewer][0]})
    assert response.status_code == 200, response.get_data(as_text=True)
    result = pb.ReadResponse.FromString(snappy.uncompress(response.get_data()))
    series = {tuple(sorted((label.name, label.value) for label in ts.labels)): [s.value for s in ts.samples]
              for ts in result.results[0].timeseries}
    assert len(series) == 3
    for labels, values in series.items():
        assert dict(labels).get("__tenant__", "") == viewer
        assert values[0] == VALUE[viewer]
    assert ("owner", OWN[viewer][0]) in [pair for labels in series for pair in labels]


def test_delete_series_deletes_only_the_tenants_own(two_tenants, pg_cluster, module_db, module_conn, tmp_path):
    # the admin API needs prom_admin for the connector's login role
    module_conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'promscale_admin') THEN "
                        "CREATE ROLE promscale_admin LOGIN IN ROLE prom_writer, prom_admin; END IF; END $$")
    config = tenancy_config(pg_cluster, module_db, tmp_path)
    admin = Client(create_app(Config(**{**config.__dict__, "db_uri": pg_cluster.uri(module_db, "promscale_admin")})))
    a_headers = VIEWERS["team-a"][0]
    response = admin.post("/api/v1/admin/tsdb/delete_series",
                                          query_string={"match[]": '{__name__=~"only_here|up"}'}, headers=a_headers)
    assert response.status_code == 204, response.get_data(as_text=True)
    for viewer, (headers, _) in VIEWERS.items():
        response = two_tenants[viewer].get("/api/v1/query", query_string={"query": "count(only_here) or vector(0)",
                                                                          "time": T1 / 1000}, headers=headers)
        assert response.json["data"]["result"][0]["value"][1] == ("0" if viewer == "team-a" else "1")


@pytest.mark.parametrize("path", ["/api/v1/rules", "/api/v1/alerts", "/ui/api/status", "/ui/api/metric-storage"])
def test_installation_wide_endpoints_answer_only_requests_without_tenant(two_tenants, path):
    response = two_tenants["team-a"].get(path, headers=VIEWERS["team-a"][0])
    assert response.status_code == 403 and "every tenant" in response.get_data(as_text=True)
    assert two_tenants[""].get(path, headers=VIEWERS[""][0]).status_code == 200


@pytest.mark.parametrize("path", ["/metrics", "/graph", "/status"])
def test_endpoints_without_stored_data_need_no_tenant(client, path):
    assert client.get(path, headers=bearer(PLAIN_TOKEN)).status_code == 200


def test_ha_clusters_of_the_same_name_are_each_tenants_own(pg_cluster, module_db, module_conn, tmp_path):
    """Both tenants run an HA pair called "prom": each pair's leader is stored, neither takes the
    other's lease (--high-availability with --multi-tenancy)."""
    c = Client(create_app(tenancy_config(pg_cluster, module_db, tmp_path, high_availability=True)))
    for token, replica in ((A_TOKEN, "r1"), (B_TOKEN, "r2")):  # sharing a lease, r2 would be dropped
        series = [({"__name__": "ha_metric", "cluster": "prom", "__replica__": replica}, [(T0, 1.0)])]
        assert write(c, bearer(token), series).status_code == 204
    rows = module_conn.execute("SELECT labels->>'__tenant__', value FROM prom_metric.ha_metric ORDER BY 1").fetchall()
    assert rows == [("team-a", 1.0), ("team-b", 1.0)]
    leases = module_conn.execute("SELECT DISTINCT cluster_name FROM prom_info.ha_lease_history ORDER BY 1").fetchall()
    assert leases == [("team-a/prom",), ("team-b/prom",)]


@pytest.mark.parametrize("params, status, message", [
    ({"query": "sum(", "time": T1 / 1000}, 400, "parse error"),
    ({"query": "up", "time": T1 / 1000, "timeout": "30s"}, 200, '"status":"success"'),
])
def test_errors_and_timeouts_keep_their_answers_in_a_tenant_context(two_tenants, params, status, message):
    """The tenant's setting travels in one pipeline with the statement: a failing statement and
    one with a timeout of its own (its own transaction) answer as without multitenancy."""
    for _ in range(2):  # and the session serves the next request normally
        response = two_tenants["team-a"].get("/api/v1/query", query_string=params, headers=VIEWERS["team-a"][0])
        text = response.get_data(as_text=True)
        assert response.status_code == status and message in text, text
