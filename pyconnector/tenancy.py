"""Multitenancy (--multi-tenancy): the tenant of each request, and the one place the database
learns it.

A request's tenant comes from its credential or from the ``X-Scope-OrgID`` header (the
Cortex/Mimir convention), as the credential allows:

- a token whose line names a tenant (``TOKEN ROLE TENANT``) is that tenant's; a header naming
  another tenant is refused (403);
- a token whose tenant field is ``*``, and the basic-auth user (admin), choose with the header;
- a token without a tenant field may not choose: a header is refused (403), the request has no
  tenant;
- without authentication (no --auth-* option) the header is trusted: a proxy in front of the
  connector must then set it (README "Multitenancy").

A request without a tenant is served only with --multi-tenancy.allow-non-tenants (it writes
series without ``__tenant__`` and reads only those), else refused (401, naming the header). A
tenant outside --multi-tenancy.valid-tenants is refused (403); an invalid name (TENANT_NAME) 400.

The resolved tenant is current while the request runs (``current_tenant()``); db.py hands it to
the database with every statement (prom_api.set_request_tenant), which enforces it: writes must
carry it, reads see only it (sql/idempotent/012-tenancy.sql, _prom_catalog.visible_tenants).
"""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass

from .auth import Identity
from .config import Config

HEADER = "X-Scope-OrgID"
ALLOW_ALL = "allow-all"
# a token file's tenant field that lets the request choose with the header
ANY_TENANT = "*"
TENANT_LABEL = "__tenant__"
# as the database's _prom_catalog.is_valid_tenant_name: Cortex's tenant ids without '*'
TENANT_NAME = re.compile(r"[A-Za-z0-9!._'()-]{1,150}")

# Endpoints whose answers are installation-wide (the status page's data from prom_info, the rules
# and the alerts, which rules evaluated over every tenant's series): refused to a tenant's requests.
INSTALLATION_WIDE_ENDPOINTS = frozenset({"ui.status_data", "ui.metric_storage", "prometheus.rules",
                                         "prometheus.alerts"})

# Endpoints that show no stored data (the connector's own counters, the web UI's pages and files):
# served without a tenant, as without --multi-tenancy. (The UI's pages call the API, which needs one.)
TENANT_FREE_ENDPOINTS = frozenset({"connector.healthz", "connector.metrics", "ui.graph", "ui.traces", "ui.status",
                                   "ui.static"})

# None: no tenant context (multitenancy off, or the connector's own work); "": a request
# without tenant; else the request's tenant
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("promscale_tenant", default=None)


def current_tenant() -> str | None:
    return _current.get()


def set_current_tenant(tenant: str | None) -> contextvars.Token:
    return _current.set(tenant)


def reset_current_tenant(token: contextvars.Token) -> None:
    _current.reset(token)


def check_tenant_name(name: str) -> str | None:
    """What is wrong with a tenant name, None when it is valid."""
    if TENANT_NAME.fullmatch(name) and name not in (".", ".."):
        return None
    shown = name if len(name) <= 160 and name.isprintable() else repr(name[:160])
    return (f"invalid tenant {shown!r}: a tenant is 1 to 150 of the characters A-Z a-z 0-9 ! - _ . ' ( ), "
            "and not '.' or '..'")


class TenantRefused(Exception):
    """A request whose tenant may not be served: ``status`` 400 (invalid name), 401 (none), 403."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status

    @property
    def error_kind(self) -> str:
        """The /metrics error kind of the refusal (telemetry.py), on every listener alike."""
        return {401: "unauthorized", 403: "forbidden"}.get(self.status, "bad_request")


@dataclass(frozen=True)
class Tenancy:
    """The --multi-tenancy options of one connector."""

    allow_non_tenants: bool
    valid: frozenset[str] | None  # None: every tenant

    @classmethod
    def from_config(cls, config: Config) -> Tenancy | None:
        """None when --multi-tenancy is off."""
        if not config.multi_tenancy:
            return None
        valid = config.multi_tenancy_valid_tenants
        return cls(config.multi_tenancy_allow_non_tenants,
                   None if valid == ALLOW_ALL else frozenset(t for t in valid.split(",") if t))

    def resolve(self, identity: Identity | None, header: str | None, authenticated: bool) -> str:
        """The tenant of a request ('' for none, when allowed) with credential ``identity`` (None
        when ``authenticated`` is false: auth is off) and header value ``header``; raises
        TenantRefused."""
        header = (header or "").strip() or None
        if not authenticated:
            tenant = header  # no authentication: the header is trusted (a proxy sets it)
        elif identity is None:
            raise TenantRefused(401, "unauthorized: multitenancy needs a credential")
        elif identity.tenant == ANY_TENANT:
            tenant = header
        elif identity.tenant is not None:
            if header is not None and header != identity.tenant:
                raise TenantRefused(403, f"forbidden: the credential belongs to a tenant; {HEADER} may not name "
                                         "another one")
            tenant = identity.tenant
        elif header is not None:
            raise TenantRefused(403, f"forbidden: this credential may not choose a tenant with {HEADER} "
                                     f"(give its token line the tenant field {ANY_TENANT})")
        else:
            tenant = None
        if tenant is None:
            if self.allow_non_tenants:
                return ""
            raise TenantRefused(401, f"no tenant: send the {HEADER} header or use a token of a tenant "
                                     "(this connector serves tenants only: --multi-tenancy)")
        problem = check_tenant_name(tenant)
        if problem:
            raise TenantRefused(400, problem)
        if self.valid is not None and tenant not in self.valid:
            raise TenantRefused(403, f"forbidden: tenant {tenant!r} is not served here (--multi-tenancy.valid-tenants)")
        return tenant

    @staticmethod
    def check_endpoint(tenant: str, endpoint: str) -> None:
        """Refuses (403) an installation-wide endpoint to a tenant's request."""
        if tenant and endpoint in INSTALLATION_WIDE_ENDPOINTS:
            raise TenantRefused(403, "forbidden: this endpoint shows every tenant's data; it answers only requests "
                                     "without a tenant (--multi-tenancy.allow-non-tenants)")
