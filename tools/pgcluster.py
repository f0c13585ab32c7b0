#!/usr/bin/env python3
"""Run private PostgreSQL clusters: the embedded cluster of ``make run`` and the
throwaway clusters of the test suite.

PostgreSQL refuses to run as root, and machines here run as root, so when this
runs as root every server command runs as the unprivileged ``postgres`` user.

Tests use a *PostgreSQL overlay* (``pgroot``): a copy of the server binaries
whose share directory holds symlinks to the system's files plus this
checkout's build of the extension. PostgreSQL finds its share and lib
directories relative to its own binary, so an overlay cluster sees this
checkout's extension, not whatever ``make install`` last put in /usr/share.

Standard library only: this runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_USER = "postgres"
SERVER_BINARIES = ("postgres", "initdb", "pg_ctl")


def pg_config(flag: str) -> str:
    return subprocess.run(["pg_config", flag], check=True, capture_output=True, text=True).stdout.strip()


def running_as_root() -> bool:
    return os.geteuid() == 0


def as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *cmd] if running_as_root() else cmd


def accessible_to_server_user(path: Path) -> bool:
    """Can the server user reach (traverse into) ``path``?"""
    if not running_as_root():
        return True
    probe = path if path.exists() else path.parent
    return subprocess.run(as_server_user(["test", "-x", str(probe)]), capture_output=True).returncode == 0


def workdir(name: str) -> Path:
    """A directory for server-side files: in the checkout when the server user can
    reach it, otherwise (checkout under a private home) a per-checkout one in /var/tmp."""
    local = ROOT / name
    if accessible_to_server_user(ROOT):
        return local
    digest = hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]
    return Path("/var/tmp") / f"promscale-{digest}" / name.lstrip(".")


def give_to_server_user(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if running_as_root():
        shutil.chown(path, SERVER_USER, SERVER_USER)
        path.chmod(0o700)


def link_entries(source: Path, target: Path, skip: tuple[str, ...] = ()) -> None:
    """Symlink every entry of ``source`` into the directory ``target``, except ``skip`` and
    promscale's own files (the overlay holds this checkout's build instead)."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        link = target / entry.name
        if entry.name in skip or entry.name.startswith("promscale") or link.exists() or link.is_symlink():
            continue
        link.symlink_to(entry)


def make_overlay(pgroot: Path) -> Path:
    """Build (or refresh) a PostgreSQL overlay under ``pgroot``; returns its bindir.

    Layout mirrors the system paths below ``pgroot`` so that PGXS's
    ``make install DESTDIR=pgroot`` lands in the overlay's share directory.
    """
    bindir = Path(pg_config("--bindir"))
    sharedir = Path(pg_config("--sharedir"))
    pkglibdir = Path(pg_config("--pkglibdir"))
    o_bindir = pgroot / bindir.relative_to("/")
    o_sharedir = pgroot / sharedir.relative_to("/")
    o_pkglibdir = pgroot / pkglibdir.relative_to("/")
    o_bindir.mkdir(parents=True, exist_ok=True)
    for binary in SERVER_BINARIES:
        src, dst = bindir / binary, o_bindir / binary
        # a copy, not a symlink: PostgreSQL resolves symlinks to find its share directory
        if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime or dst.stat().st_size != src.stat().st_size:
            shutil.copy2(src, dst)
    # lib/ and share/extension/ are real directories of symlinks to the system's files, except
    # promscale's: `make install DESTDIR=pgroot` puts this checkout's build there, never
    # through a symlink into the system installation
    if o_pkglibdir.is_symlink():
        o_pkglibdir.unlink()  # overlays made before the planner library linked lib/ whole
    link_entries(pkglibdir, o_pkglibdir)
    link_entries(sharedir, o_sharedir, skip=("extension",))
    link_entries(sharedir / "extension", o_sharedir / "extension")
    for path in [pgroot, *pgroot.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o055 if path.is_dir() else path.stat().st_mode | 0o044)
    return o_bindir


class Cluster:
    """A PostgreSQL cluster in ``datadir``, listening on 127.0.0.1:``port`` and a
    unix socket in ``socket_dir``."""

    def __init__(self, bindir: Path, datadir: Path, port: int, socket_dir: Path | None = None):
        self.bindir = Path(bindir)
        self.datadir = Path(datadir)
        self.port = port
        self.socket_dir = Path(socket_dir) if socket_dir else self.datadir.parent / "run"
        self.logfile = self.datadir.parent / "postgresql.log"

    # connection parameters for clients (psql, psycopg)
    @property
    def host(self) -> str:
        return "127.0.0.1"

    def uri(self, dbname: str = "postgres", user: str = SERVER_USER) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def _server(self, binary: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            as_server_user([str(self.bindir / binary), *args]), check=check, capture_output=True, text=True
        )

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self, settings: dict[str, str] | None = None) -> None:
        give_to_server_user(self.datadir)
        give_to_server_user(self.socket_dir)
        self.socket_dir.chmod(0o755)
        result = self._server("initdb", "-D", str(self.datadir), "-A", "trust", "-U", SERVER_USER, "-E", "UTF8",
                              "--locale=C", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "on",
            "max_connections": "200",
            "shared_buffers": "512MB",
            "max_wal_size": "4GB",
            "checkpoint_timeout": "15min",
            "wal_compression": "on",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %d '",
            **(settings or {}),
        }
        text = "\n# promscale cluster settings\n" + "".join(f"{k} = {v}\n" for k, v in conf.items())
        # postgresql.conf belongs to the server user: append through it
        subprocess.run(as_server_user(["sh", "-c", f"cat >> '{self.datadir}/postgresql.conf'"]),
                       input=text, text=True, check=True)

    def running(self) -> bool:
        return self._server("pg_ctl", "-D", str(self.datadir), "status", check=False).returncode == 0

    def start(self) -> None:
        if self.logfile.parent.exists() and running_as_root():
            self.logfile.touch()
            shutil.chown(self.logfile, SERVER_USER, SERVER_USER)
        result = self._server("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start",
                              check=False)
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start:\n{result.stdout}\n{result.stderr}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        self._server("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def psql(self, sql: str, dbname: str = "postgres", user: str = SERVER_USER) -> str:
        result = subprocess.run(
            ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", "-t", "-A", "-h", self.host, "-p", str(self.port),
             "-U", user, "-d", dbname, "-c", sql],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {sql}\n{result.stderr}")
        return result.stdout.strip()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.psql("SELECT 1")
                return
            except RuntimeError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL on port {self.port} is not answering\n{self.log_tail()}")

    def create_promscale_database(self, dbname: str, login_role: str = "promscale") -> None:
        """Database with the extension, and a login role for the connector."""
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"):
            self.psql(f'CREATE DATABASE "{dbname}"')
        self.psql("CREATE EXTENSION IF NOT EXISTS promscale CASCADE", dbname=dbname)
        self.psql(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN "
            "CREATE ROLE %s LOGIN; END IF; END $$; GRANT prom_writer, prom_maintenance TO %s"
            % (login_role, login_role, login_role),
            dbname=dbname,
        )


# --- the embedded cluster of `make run` ----------------------------------------------------

EMBEDDED_PORT = int(os.environ.get("PROMSCALE_EMBEDDED_PORT", "54320"))
EMBEDDED_DB = "promscale"


def embedded_cluster() -> Cluster:
    data = workdir(".data")
    return Cluster(Path(pg_config("--bindir")), data / "pg", EMBEDDED_PORT, data / "run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Manage private PostgreSQL clusters for promscale")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("pgroot-dir", help="print where the test PostgreSQL overlay lives")
    overlay = sub.add_parser("overlay", help="build the test PostgreSQL overlay")
    overlay.add_argument("pgroot", type=Path)
    sub.add_parser("embedded-start", help="create (once) and start the embedded cluster with the promscale database")
    sub.add_parser("embedded-stop", help="stop the embedded cluster")
    sub.add_parser("embedded-uri", help="print the connector's database URI for the embedded cluster")
    args = parser.parse_args(argv)

    if args.command == "pgroot-dir":
        print(workdir(".build") / "pgroot")
    elif args.command == "overlay":
        print(make_overlay(args.pgroot))
    elif args.command == "embedded-start":
        cluster = embedded_cluster()
        if not cluster.initialized():
            print(f"creating the embedded PostgreSQL cluster in {cluster.datadir}")
            cluster.init()
        if not cluster.running():
            cluster.start()
        cluster.wait_ready()
        cluster.create_promscale_database(EMBEDDED_DB)
        cluster.psql("ALTER EXTENSION promscale UPDATE", dbname=EMBEDDED_DB)
        print(f"embedded PostgreSQL ready: {cluster.uri(EMBEDDED_DB, 'promscale')} (log: {cluster.logfile})")
    elif args.command == "embedded-stop":
        cluster = embedded_cluster()
        cluster.stop()
    elif args.command == "embedded-uri":
        print(embedded_cluster().uri(EMBEDDED_DB, "promscale"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
