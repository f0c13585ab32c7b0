"""Connector settings: one table of options, read from flags and PROMSCALE_* variables.

Every option is a command-line flag and an environment variable (``--db-uri`` is
``PROMSCALE_DB_URI``); a flag wins over the variable, the variable over the default.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable


# The embedded cluster that `make run` starts (tools/pgcluster.py).
EMBEDDED_DB_URI = "postgresql://promscale@127.0.0.1:54320/promscale"


def _size(text: str) -> int:
    """Bytes from '1048576', '512KiB', '32MiB' or '1GiB'."""
    units = {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "b": 1}
    lowered = text.strip().lower()
    for suffix, factor in units.items():
        if lowered.endswith(suffix):
            return int(float(lowered[: -len(suffix)]) * factor)
    return int(lowered)


_FLAG_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_FLAG_DURATION_NS = tuple(ms * 1_000_000 for ms in (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000,
                                                    60_000, 1000, 1))


def _duration_ns(text: str) -> int:
    """Nanoseconds from float seconds or a duration in Prometheus's units ('2m', '1h30m').
    The connector's only reading of that syntax: flags are read before any database is there
    to ask (the HTTP API's parameters are the extension's, promscale/httpapi/params.py)."""
    try:
        value = int(float(text) * 1e9)
    except (ValueError, OverflowError):
        match = _FLAG_DURATION.fullmatch(text)
        if not text or match is None or not any(match.groups()):
            raise argparse.ArgumentTypeError(f"cannot parse {text!r} to a valid duration") from None
        value = sum(int(count) * unit for count, unit in zip(match.groups(), _FLAG_DURATION_NS) if count)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return value


def _duration(text: str) -> float:
    """Seconds from a Prometheus duration ('30m', '1h') or float seconds; 0 means off."""
    return 0.0 if text.strip() in ("0", "0s") else _duration_ns(text) / 1e9


def _uri_list(text: str) -> tuple[str, ...]:
    """PostgreSQL URIs separated by commas. A comma splits only before a new ``postgres://`` or
    ``postgresql://``, so a libpq multi-host URI (``postgresql://h1:5432,h2:5432/db``) stays whole."""
    uris = tuple(u.strip() for u in re.split(r",\s*(?=postgres(?:ql)?://)", text) if u.strip())
    for uri in uris:
        if not re.match(r"postgres(?:ql)?://", uri):
            raise argparse.ArgumentTypeError(f"expected postgresql:// URIs, got {uri!r}")
    return uris


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return text


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _labels_text(text: str) -> str:
    """'a=1,b=2' checked: label names valid, each name once."""
    labels = parse_labels(text)
    return ",".join(f"{k}={v}" for k, v in labels.items())


def parse_labels(text: str) -> dict[str, str]:
    import re
    labels: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name) or name in labels:
            raise argparse.ArgumentTypeError(f"expected name=value pairs with valid, distinct names, got {part!r}")
        labels[name] = value.strip()
    return labels


def _tenant_list(text: str) -> str:
    """'allow-all' or comma-separated valid tenant names (tenancy.TENANT_NAME)."""
    from .tenancy import ALLOW_ALL, check_tenant_name

    if text.strip() == ALLOW_ALL:
        return ALLOW_ALL
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected {ALLOW_ALL} or comma-separated tenants, got {text!r}")
    for name in names:
        problem = check_tenant_name(name)
        if problem:
            raise argparse.ArgumentTypeError(problem)
    return ",".join(names)


@dataclass(frozen=True)
class Option:
    help: str
    parse: Callable[[str], Any] = str
    # a flag given more than once adds to the list (parse returns a tuple; the values are joined)
    repeatable: bool = False
    # the flag's name when it is not the field's (Promscale's dotted names: --multi-tenancy.valid-tenants)
    flag: str = ""


@dataclass(frozen=True)
class Config:
    db_uri: str = field(default=EMBEDDED_DB_URI, metadata={"option": Option(
        "PostgreSQL connection URI (default: the embedded cluster of `make run`)")})
    db_read_uri: tuple[str, ...] = field(default=(), metadata={"option": Option(
        "PostgreSQL streaming replica URI for queries (repeat the flag, or separate URIs by commas); "
        "queries try each in order, then --db-uri; writes always go to --db-uri",
        _uri_list, repeatable=True)})
    listen: str = field(default="127.0.0.1:9201", metadata={"option": Option(
        "HOST:PORT for the HTTP API (remote_write, health, metrics)", _host_port)})
    otlp_grpc_listen: str = field(default="127.0.0.1:4317", metadata={"option": Option(
        "HOST:PORT for OTLP/gRPC trace ingest (4317 is the OTLP default port); empty: off. "
        "OTLP/HTTP is always served on --listen at /v1/traces", lambda t: _host_port(t) if t else "")})
    workers: int = field(default=2, metadata={"option": Option(
        "gunicorn worker processes (each holds its own series cache)", int)})
    threads: int = field(default=8, metadata={"option": Option(
        "threads per worker; each thread holds one database connection", int)})
    query_max_concurrency: int = field(default=0, metadata={"option": Option(
        "queries (and series, labels, remote_read, Jaeger reads) one worker runs at a time; more answer 503 "
        "with Retry-After at once, so threads stay free for ingest and /healthz (as Prometheus's "
        "--query.max-concurrency, which queues instead); 0: --threads minus 2, at least 1", _non_negative_int)})
    max_body_bytes: int = field(default=16 << 20, metadata={"option": Option(
        "largest accepted compressed request body (e.g. 16MiB); larger answers 413", _size)})
    max_decoded_bytes: int = field(default=64 << 20, metadata={"option": Option(
        "largest accepted decompressed remote_write body; larger answers 413", _size)})
    series_cache_size: int = field(default=1_000_000, metadata={"option": Option(
        "series ids cached per worker (keyed on raw label bytes)", int)})
    db_connect_timeout: int = field(default=10, metadata={"option": Option(
        "seconds to wait for a database connection", int)})
    maintenance_interval: float = field(default=60.0, metadata={"option": Option(
        "run prom_api.execute_maintenance() (flushes, compaction, retention) this often, e.g. 1m; 0 = never "
        "(when pg_cron schedules it)", _duration)})
    log_level: str = field(default="info", metadata={"option": Option(
        "debug, info, warning or error")})
    query_timeout: int = field(default=120_000_000_000, metadata={"option": Option(
        "longest a PromQL query (or other API call) may run, e.g. 2m; a request's timeout= can only lower it",
        _duration_ns)})
    read_sample_limit: int = field(default=50_000_000, metadata={"option": Option(
        "most samples one remote_read query may return (0 = no limit); more answers 400", int)})
    read_max_bytes_in_frame: int = field(default=1 << 20, metadata={"option": Option(
        "chunk bytes per frame in streamed remote_read responses (e.g. 1MiB)", _size)})
    telemetry_dir: str = field(default="", metadata={"option": Option(
        "directory where workers share their /metrics counters (default: a temporary one)")})
    body_timeout: float = field(default=30.0, metadata={"option": Option(
        "longest a client may take to send a request body (e.g. 30s), from its headers on; slower ones "
        "get 408 and their connection is closed, so stalled clients cannot hold the worker threads",
        lambda t: _duration(t) or 30.0)})
    promql_default_subquery_step: float = field(default=0.0, metadata={"option": Option(
        "step of PromQL subqueries that name none (x[5m:]), e.g. 15s as a Prometheus running its shipped "
        "prometheus.yml (evaluation_interval); 0: the database's prom_api.get_promql_default_subquery_step() "
        "(1m unless set)", _duration)})
    cors_origins: str = field(default="", metadata={"option": Option(
        "comma-separated origins (https://grafana.example.com) whose web pages may call the HTTP API "
        "from a browser, or * for any; empty: no CORS headers, browsers refuse cross-origin reads",
        lambda t: ",".join(o.strip() for o in t.split(",") if o.strip()))})
    web_enable_admin_api: bool = field(default=False, metadata={"option": Option(
        "serve the admin API (POST /api/v1/admin/tsdb/delete_series), as Prometheus's --web.enable-admin-api; "
        "callers need the admin role when auth is on, and the database login role prom_admin", _bool)})
    # --- securing the listeners (README "Securing the connector"; auth.py, tls.py) ---
    auth_username: str = field(default="", metadata={"option": Option(
        "user name of HTTP basic auth (with --auth-password-file); this user has the admin role")})
    auth_password_file: str = field(default="", metadata={"option": Option(
        "file holding the basic-auth password (its final newline is not part of it)")})
    auth_token_file: str = field(default="", metadata={"option": Option(
        "file of bearer tokens, one a line: TOKEN [ROLE [TENANT]], ROLE read, write or admin (default admin); "
        "# starts a comment")})
    auth_protect_healthz: bool = field(default=False, metadata={"option": Option(
        "ask /healthz for a credential too (any role); by default it stays open when auth is on", _bool)})
    tls_cert_file: str = field(default="", metadata={"option": Option(
        "PEM certificate (chain) of the HTTP and OTLP/gRPC listeners; with --tls-key-file both serve TLS only")})
    tls_key_file: str = field(default="", metadata={"option": Option(
        "PEM private key of --tls-cert-file")})
    tls_client_ca_file: str = field(default="", metadata={"option": Option(
        "PEM CA certificates: clients must present a certificate signed by one of them (mutual TLS)")})
    high_availability: bool = field(default=False, metadata={"option": Option(
        "Prometheus HA pairs: of series labelled cluster and __replica__, store only the samples of each "
        "cluster's leader (a lease in the database; timeout and refresh are database settings, "
        "prom_api.set_ha_lease_timeout/refresh) and drop __replica__; the flag alone means true", _bool)})

    # recording and alerting rules (docs/rules.md)
    rules_file: str = field(default="", metadata={"option": Option(
        "comma-separated rule files or globs in Prometheus's format, loaded into the database at start, on SIGHUP "
        "and on POST /-/reload; empty: the rule groups already in the database (prom_api.put_rule_group) only")})
    alertmanager_url: str = field(default="", metadata={"option": Option(
        "comma-separated Alertmanager base URLs (http://alertmanager:9093) that firing and resolved alerts are "
        "sent to (v2 API); empty: alerts are evaluated but not sent",
        lambda t: ",".join(u.strip() for u in t.split(",") if u.strip()))})
    alert_resend_delay: float = field(default=60.0, metadata={"option": Option(
        "resend firing alerts to Alertmanager this often, e.g. 1m (Prometheus's --rules.alert.resend-delay)",
        _duration)})
    external_url: str = field(default="", metadata={"option": Option(
        "URL under which users reach this API (alerts' generatorURL, templates' $externalURL)")})
    external_labels: str = field(default="", metadata={"option": Option(
        "comma-separated name=value labels added to alerts sent to Alertmanager (templates' $externalLabels)",
        _labels_text)})

    # multitenancy (README "Multitenancy", docs/operations.md "Two teams on one installation"; tenancy.py)
    multi_tenancy: bool = field(default=False, metadata={"option": Option(
        "every request has a tenant (its token's, or the X-Scope-OrgID header where the token allows it): "
        "writes label their series (and spans' resources) __tenant__=<tenant>, reads see only that tenant's "
        "series and spans; the flag alone means true", _bool)})
    multi_tenancy_valid_tenants: str = field(default="allow-all", metadata={"option": Option(
        "with --multi-tenancy: comma-separated tenants this connector serves, or allow-all; others get 403",
        _tenant_list, flag="--multi-tenancy.valid-tenants")})
    multi_tenancy_allow_non_tenants: bool = field(default=False, metadata={"option": Option(
        "with --multi-tenancy: serve requests without a tenant too (their series have no __tenant__ label; "
        "their reads see only such series); otherwise they get 401 naming the X-Scope-OrgID header",
        _bool, flag="--multi-tenancy.allow-non-tenants")})

    @classmethod
    def options(cls) -> list[tuple[str, Option, Any]]:
        return [(f.name, f.metadata["option"], f.default) for f in fields(cls)]


def env_name(name: str) -> str:
    return "PROMSCALE_" + name.upper()


def flag_name(name: str) -> str:
    option = next((o for n, o, _ in Config.options() if n == name), None)
    return (option.flag if option is not None and option.flag else None) or "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promscale-connector",
        description="Serve Prometheus remote_write into the promscale PostgreSQL extension.",
        epilog="Every flag can also be set as an environment variable: --db-uri is PROMSCALE_DB_URI, and so on.",
    )
    for name, option, default in Config.options():
        # a yes/no option is also a bare flag: --web-enable-admin-api means true
        bare = {"nargs": "?", "const": True} if isinstance(default, bool) else {}
        parser.add_argument(
            flag_name(name),
            dest=name,
            type=option.parse,
            action="append" if option.repeatable else "store",
            default=None,
            metavar=name.upper(),
            help=f"{option.help} [env {env_name(name)}; default {default!r}]",
            **bare,
        )
    return parser


def load(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Config from flags, then PROMSCALE_* variables, then defaults."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    for name, option, _default in Config.options():
        flag_value = getattr(args, name)
        if flag_value is not None:
            values[name] = tuple(v for given in flag_value for v in given) if option.repeatable else flag_value
        elif env_name(name) in environ:
            raw = environ[env_name(name)]
            try:
                values[name] = option.parse(raw)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                raise SystemExit(f"invalid {env_name(name)}={raw!r}: {exc}") from exc
    return Config(**values)
