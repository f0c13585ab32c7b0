"""Two teams on one installation with the real clients: the real `promscale-connector` with
--multi-tenancy, one Prometheus 2.42 scraping the same target and remote-writing it for both
tenants (identical series), and a Prometheus per tenant reading through remote_read with its
tenant's token: each sees its own tenant's series only. (Prometheus 2.42 did not send a
`headers:` entry of remote_read here, so X-Scope-OrgID is exercised with direct requests.)"""

from __future__ import annotations

import time

import pytest
import requests

from support.connector import ConnectorProcess
from support.prometheus import NodeExporter, Prometheus

pytestmark = pytest.mark.slow

TOKENS = {"team-a": "team-a-write-token-0123456789", "team-b": "team-b-write-token-0123456789"}
READ_A = "team-a-read-token-0123456789"
READ_B = "team-b-read-token-0123456789"
OPERATOR = "operator-token-0123456789abc"


def wait_for(check, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def tenants_with_samples(db) -> set[str]:
    return {row[0] for row in db.execute(
        "SELECT DISTINCT prom_api.labels(s.id)->>'__tenant__' FROM _prom_catalog.series s "
        "JOIN _prom_catalog.metric m ON m.id = s.metric_id WHERE m.metric_name = 'up' "
        "AND EXISTS (SELECT 1 FROM prom_data.sample x WHERE x.series_id = s.id)").fetchall()}


def test_prometheus_writes_and_reads_per_tenant(pg_cluster, db_name, db, tmp_path):
    (tmp_path / "tokens").write_text(f"{TOKENS['team-a']} write team-a\n{TOKENS['team-b']} write team-b\n"
                                     f"{READ_A} read team-a\n{READ_B} read team-b\n{OPERATOR} read *\n")
    for tenant, token in TOKENS.items():
        (tmp_path / tenant).write_text(token)
    (tmp_path / "read-a").write_text(READ_A)
    (tmp_path / "read-b").write_text(READ_B)
    (tmp_path / "operator").write_text(OPERATOR)
    node = NodeExporter()
    node.start()
    try:
        args = ["--auth-token-file", str(tmp_path / "tokens"), "--multi-tenancy"]
        with ConnectorProcess(pg_cluster.uri(db_name, "promscale_writer"), workers=1, threads=4,
                              extra_args=args) as connector:
            queue = ("    queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n"
                     "      max_backoff: 1s\n")
            writer = Prometheus(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: shared
    static_configs:
      - targets: ["127.0.0.1:{node.port}"]
remote_write:
  - url: {connector.url}/api/v1/write
    name: team-a
    authorization: {{type: Bearer, credentials_file: {tmp_path / "team-a"}}}
{queue}  - url: {connector.url}/api/v1/write
    name: team-b
    authorization: {{type: Bearer, credentials_file: {tmp_path / "team-b"}}}
{queue}""")
            writer.start()
            try:
                wait_for(lambda: tenants_with_samples(db) == {"team-a", "team-b"}, "both tenants' samples")
            finally:
                writer.remove()
            readers = {
                "team-a": f"    authorization: {{type: Bearer, credentials_file: {tmp_path / 'read-a'}}}\n",
                "team-b": f"    authorization: {{type: Bearer, credentials_file: {tmp_path / 'read-b'}}}\n",
            }
            for tenant, credentials in readers.items():
                reader = Prometheus(f"global:\n  scrape_interval: 1h\nremote_read:\n"
                                    f"  - url: {connector.url}/api/v1/read\n    read_recent: true\n{credentials}")
                reader.start()
                try:
                    result = reader.api("query", query='up{job="shared"}[10m]', time=f"{time.time():.3f}")["result"]
                    assert result and {s["metric"].get("__tenant__") for s in result} == {tenant}
                    count = reader.api("query", query='count(count by (__tenant__) (up{job="shared"}))',
                                       time=f"{time.time():.3f}")["result"]
                    assert count[0]["value"][1] == "1"
                finally:
                    reader.remove()
            # the connector itself, asked directly: the same, also with the operator's token choosing
            for tenant, headers in (("team-a", {"Authorization": "Bearer " + READ_A}),
                                    ("team-b", {"Authorization": "Bearer " + OPERATOR, "X-Scope-OrgID": "team-b"})):
                response = requests.get(connector.url + "/api/v1/label/__tenant__/values", timeout=30, headers=headers)
                assert response.json()["data"] == [tenant]
    finally:
        node.remove()
