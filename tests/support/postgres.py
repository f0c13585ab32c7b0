"""A throwaway PostgreSQL cluster per test run, with the extension from this checkout.

The cluster runs from the PostgreSQL overlay that `make test` builds (see
tools/pgcluster.py), as the unprivileged postgres user. Databases come from a
template that already has the extension, so each test gets a fresh database in
a fraction of a second. There is no fallback: without the overlay the suite fails.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pgcluster

OVERLAY_HINT = "run the suite with `make test`, which builds the PostgreSQL overlay and installs the extension into it"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def overlay_bindir() -> Path:
    pgroot = Path(os.environ.get("PROMSCALE_TEST_PGROOT") or pgcluster.workdir(".build") / "pgroot")
    bindir = pgroot / Path(pgcluster.pg_config("--bindir")).relative_to("/")
    control = pgroot / Path(pgcluster.pg_config("--sharedir")).relative_to("/") / "extension" / "promscale.control"
    if not (bindir / "postgres").exists() or not control.exists():
        raise RuntimeError(f"no PostgreSQL overlay with the promscale extension at {pgroot}: {OVERLAY_HINT}")
    return bindir


def start_cluster(settings: dict[str, str] | None = None) -> pgcluster.Cluster:
    base = Path(tempfile.mkdtemp(prefix="promscale-test-pg-", dir="/tmp"))
    base.chmod(0o755)
    cluster = pgcluster.Cluster(overlay_bindir(), base / "data", free_port(), base / "run")
    cluster.init({"shared_buffers": "256MB", "fsync": "off", "synchronous_commit": "off",
                  "full_page_writes": "off", **(settings or {})})
    cluster.start()
    cluster.wait_ready()
    return cluster


def remove_cluster(cluster: pgcluster.Cluster) -> None:
    cluster.stop("immediate")
    base = cluster.datadir.parent
    if base.name.startswith("promscale-test-pg-"):
        import shutil

        shutil.rmtree(base, ignore_errors=True)
