"""Authentication through the WSGI application: every route of routing.ROUTES (so also the ones
added later) answers 401 with WWW-Authenticate to a missing or wrong credential, except
/healthz; 403 to a role that may not call it; credentials appear in no response, log line or
metric; the tenant of a token is carried in the request."""

from __future__ import annotations

import base64
import logging
import re

import pytest
from werkzeug.test import Client, EnvironBuilder

from pyconnector import Config, create_app
from pyconnector.auth import ADMIN, ENVIRON_KEY, PUBLIC, READ, WRITE, role_allows
from pyconnector.routing import ROUTES

TOKENS = {READ: "read-token-0123456789", WRITE: "write-token-0123456789", ADMIN: "admin-token-0123456789"}
TENANT_TOKEN = "tenant-token-0123456789"
PASSWORD = "basic-password-0123456789"
SECRETS = (*TOKENS.values(), TENANT_TOKEN, PASSWORD)
CHALLENGES = ['Basic realm="promscale", charset="UTF-8"', 'Bearer realm="promscale"']


def bearer(token: str) -> dict:
    return {"Authorization": "Bearer " + token}


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def auth_config(pg_cluster, module_db, tmp_path, **options) -> Config:
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "tokens").write_text("".join(f"{token} {role}\n" for role, token in TOKENS.items())
                                     + f"{TENANT_TOKEN} write team-a\n")
    return Config(db_uri=pg_cluster.uri(module_db, "promscale_writer"), telemetry_dir=str(tmp_path / "telemetry"),
                  auth_username="prom", auth_password_file=str(tmp_path / "password"),
                  auth_token_file=str(tmp_path / "tokens"), **options)


@pytest.fixture(scope="module")
def app(pg_cluster, module_db, tmp_path_factory):
    return create_app(auth_config(pg_cluster, module_db, tmp_path_factory.mktemp("auth")))


@pytest.fixture(scope="module")
def client(app) -> Client:
    return Client(app)


def calls() -> list:
    """(rule, method, path) of every route and method; arguments filled in."""
    found = []
    for rule in ROUTES.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD"}):
            found.append(pytest.param(rule, method, path, id=f"{method} {rule.rule}"))
    assert len(found) > 30  # the walk sees the table
    return found


@pytest.mark.parametrize("rule, method, path", calls())
def test_every_route_needs_a_credential(client, rule, method, path):
    for headers in ({}, bearer(TOKENS[READ] + "x"), basic("prom", "wrong"), basic("nobody", PASSWORD),
                    {"Authorization": "Token " + TOKENS[ADMIN]}):
        response = client.open(path, method=method, headers=headers)
        if rule.role == PUBLIC:
            assert response.status_code == 200, (headers, response.text)
            continue
        assert response.status_code == 401, (headers, response.text)
        assert response.headers.getlist("WWW-Authenticate") == CHALLENGES
        assert "unauthorized" in response.text
        assert not any(secret in response.text for secret in SECRETS)


@pytest.mark.parametrize("rule, method, path", calls())
def test_every_route_checks_the_role(client, rule, method, path):
    for role, token in TOKENS.items():
        response = client.open(path, method=method, headers=bearer(token))
        if role_allows(role, rule.role):
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.text == (f"forbidden: the {role} role may not call {path} (it needs {rule.role})\n")
    # the basic-auth user is an admin
    response = client.open(path, method=method, headers=basic("prom", PASSWORD))
    assert response.status_code not in (401, 403), response.text


def test_unknown_paths_and_methods_are_401_before_404_and_405(client):
    assert client.get("/no/such/path").status_code == 401
    assert client.get("/write").status_code == 401
    assert client.get("/no/such/path", headers=bearer(TOKENS[WRITE])).status_code == 404
    assert client.get("/write", headers=bearer(TOKENS[WRITE])).status_code == 405
    assert client.get("/write", headers=bearer(TOKENS[READ])).status_code == 405


def test_an_authorized_request_is_answered(client):
    response = client.get("/api/v1/query", query_string={"query": "vector(1)", "time": "1"},
                          headers=bearer(TOKENS[READ]))
    assert response.status_code == 200 and response.json["data"]["result"] == [
        {"metric": {}, "value": [1, "1"]}]


def test_the_tenant_is_carried_in_the_request(app):
    for token, expected in ((TENANT_TOKEN, ("token at line 4", WRITE, "team-a")),
                            (TOKENS[READ], ("token at line 1", READ, None))):
        environ = EnvironBuilder(path="/api/v1/write" if expected[1] == WRITE else "/api/v1/labels",
                                 method="POST", headers=bearer(token)).get_environ()
        app(environ, lambda status, headers: None)
        identity = environ[ENVIRON_KEY]
        assert (identity.name, identity.role, identity.tenant) == expected


def test_no_credential_in_logs_or_metrics(client, caplog):
    with caplog.at_level(logging.DEBUG):
        client.get("/api/v1/labels", headers=bearer(TOKENS[READ] + "-guess"))
        client.post("/api/v1/write", headers=bearer(TOKENS[READ]))
        client.get("/api/v1/labels", headers=basic("prom", PASSWORD + "-guess"))
        client.post("/api/v1/admin/tsdb/delete_series", headers=basic("prom", PASSWORD))
    metrics = client.get("/metrics", headers=bearer(TOKENS[READ])).text
    logged = caplog.text
    assert "401" in logged and "403" in logged
    assert not any(secret in logged or secret in metrics for secret in SECRETS)
    counted = dict(re.findall(r'promscale_errors_total\{kind="(unauthorized|forbidden)"\} (\S+)', metrics))
    assert float(counted["unauthorized"]) >= 2 and float(counted["forbidden"]) >= 1


def test_healthz_can_be_closed(pg_cluster, module_db, tmp_path):
    client = Client(create_app(auth_config(pg_cluster, module_db, tmp_path, auth_protect_healthz=True)))
    response = client.get("/healthz")
    assert response.status_code == 401 and response.headers.getlist("WWW-Authenticate") == CHALLENGES
    assert client.get("/healthz", headers=bearer(TOKENS[WRITE])).status_code == 200


def test_cors_preflight_passes_only_when_cors_is_on(client, pg_cluster, module_db, tmp_path):
    preflight = {"Origin": "https://grafana.example", "Access-Control-Request-Method": "POST"}
    assert client.options("/api/v1/query", headers=preflight).status_code == 401
    with_cors = Client(create_app(auth_config(pg_cluster, module_db, tmp_path, cors_origins="*")))
    response = with_cors.options("/api/v1/query", headers=preflight)
    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "*"
    # a request that is not a preflight still needs its credential
    assert with_cors.options("/api/v1/query").status_code == 401
    assert with_cors.post("/api/v1/query", headers={"Origin": "https://grafana.example"}).status_code == 401


def test_without_credentials_every_route_stays_open(api):
    """No --auth-* flag: the connector behaves as before."""
    assert api.get("/api/v1/labels").status_code == 200
    assert api.get("/metrics").status_code == 200
