"""Multitenancy through the connector (--multi-tenancy; pyconnector/tenancy.py, enforced by the
database: sql/idempotent/012-tenancy.sql): which tenant a request gets, and that two tenants
with identical metric names and label sets never see each other's data on any endpoint."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from pyconnector import Config, create_app
from support.remote_write import HEADERS, encode, write_request

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
    return [({"__name__": "http_requests_total", "job": "api", "instance": "i1"}, [(T0, value), (T0 + 15_000, value + 1)]),
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
