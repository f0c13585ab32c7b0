"""`promscale-connector`: serve the connector under gunicorn with threaded workers."""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import sys
import tempfile
from dataclasses import replace
from typing import Any

from gunicorn.app.base import BaseApplication

from . import config as config_module
from . import tls
from .app import create_app
from .auth import AuthConfigError, Authenticator
from .config import Config
from .config import parse_labels
from .maintenance import MaintenanceScheduler
from .rules import RuleEvaluator
from .rules.alertmanager import AlertmanagerClient
from .rules.loader import RuleFileError


class ConnectorServer(BaseApplication):
    """gunicorn running ``create_app(config)`` in each worker (nothing is preloaded,
    so every worker opens its own database connections after the fork)."""

    def __init__(self, config: Config):
        self.config = config
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": self.config.listen,
            "workers": self.config.workers,
            "threads": self.config.threads,
            "worker_class": "gthread",
            # a remote_write request waits for its commit; keep slow databases from killing workers
            "timeout": 120,
            "graceful_timeout": 30,
            "keepalive": 75,
            "loglevel": self.config.log_level,
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "promscale-connector",
        }
        tls_files = tls.load(self.config)
        if tls_files is not None:
            settings.update(tls_files.gunicorn_settings())
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        app = create_app(self.config)
        # before the worker accepts requests: a session's first request would load the
        # extension's PL/Python modules (~150 ms); pay that here, once per thread
        app.db.open_warm_connections(self.config.threads)
        if self.config.maintenance_interval > 0:
            # one thread per worker; an advisory lock lets only one of them run at a time
            MaintenanceScheduler(self.config.db_uri, self.config.maintenance_interval,
                                 self.config.db_connect_timeout).start()
        start_rules(app, self.config)
        return app


def start_rules(app: Any, config: Config) -> RuleEvaluator:
    """Loads the rule files (every worker at its start: SIGHUP restarts the workers, so it
    reloads them) and starts the worker's rule evaluator (one connector evaluates: a lease)."""
    if app.rule_files.configured:
        try:
            app.rule_files.load()
        except RuleFileError as exc:
            logging.getLogger("pyconnector").error("rule files not loaded: %s", exc)
    evaluator = RuleEvaluator(
        config.db_uri, AlertmanagerClient([u for u in config.alertmanager_url.split(",") if u], telemetry=app.telemetry),
        config.alert_resend_delay, parse_labels(config.external_labels), config.external_url.rstrip("/"),
        config.db_connect_timeout, telemetry=app.telemetry)
    evaluator.start()
    return evaluator


def main(argv: list[str] | None = None) -> int:
    config = config_module.load(argv)
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        # checked here, before anything forks: every worker and the gRPC process read them again
        Authenticator.from_config(config)
        tls.load(config)
    except (AuthConfigError, tls.TlsConfigError) as exc:
        print(f"promscale-connector: {exc}", file=sys.stderr)
        return 2
    own_telemetry_dir = not config.telemetry_dir
    if own_telemetry_dir:
        config = replace(config, telemetry_dir=tempfile.mkdtemp(prefix="promscale-telemetry-"))
    grpc_process = None
    if config.otlp_grpc_listen:
        # its own process, started before gunicorn forks anything (gRPC threads and fork do not mix)
        from .otlp.grpc_server import serve

        grpc_process = multiprocessing.get_context("spawn").Process(
            target=serve, args=(config,), name="promscale-otlp-grpc", daemon=True)
        grpc_process.start()
    try:
        ConnectorServer(config).run()
    finally:
        if grpc_process is not None:
            grpc_process.terminate()
            grpc_process.join(10)
        if own_telemetry_dir:
            shutil.rmtree(config.telemetry_dir, ignore_errors=True)
    return 0
