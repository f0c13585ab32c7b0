"""Who may call what: the credentials the connector accepts, the role each one has, and the
one check every HTTP request (app.py) and every OTLP/gRPC call (otlp/grpc_server.py) passes.

Roles (docs: README "Securing the connector"):

- ``read``: the query API, series/labels/metadata, remote_read, the Jaeger API, /metrics;
- ``write``: remote_write and OTLP (HTTP and gRPC);
- ``admin``: everything, including the admin API (delete_series).

Every route declares the role it needs (routing.py); ``public`` routes (/healthz) need none
unless --auth-protect-healthz. A route or gRPC method that declares nothing needs ``admin``:
what someone forgets to declare is closed, not open.

Credentials: the basic-auth user (--auth-username, --auth-password-file) is ``admin``; each
line of --auth-token-file is a bearer token with an optional role (default ``admin``) and an
optional tenant. Every comparison is constant-time (hmac.compare_digest over SHA-256 digests,
so neither a credential's content nor its length shows in the timing), and all tokens are
compared on every request. No credential is ever part of a message, a log line or a metric:
identities are named by user name or by the token file's line number.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from .config import Config

PUBLIC = "public"
READ = "read"
WRITE = "write"
ADMIN = "admin"
ROLES = (READ, WRITE, ADMIN)
# any valid credential, whatever its role (a path no route serves: 404 only for those who may know)
ANY = "any"
# what a route or gRPC method may declare
ROUTE_ROLES = (PUBLIC, *ROLES)
REALM = "promscale"
# the WSGI environ key under which app.py puts the request's Identity
ENVIRON_KEY = "promscale.identity"


class AuthConfigError(Exception):
    """The credential files or flags are unusable; the connector does not start."""


@dataclass(frozen=True)
class Identity:
    """Who made a request. ``name`` is safe to log (never the credential); ``tenant`` is the
    tenant of its token line, "*" when it may choose one with X-Scope-OrgID (tenancy.py)."""

    name: str
    role: str
    tenant: str | None = None


# the identity of the request or gRPC call being served by this thread (None: auth is off,
# or a public route)
_current: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("promscale_identity", default=None)


def current_identity() -> Identity | None:
    return _current.get()


def set_current_identity(identity: Identity | None) -> contextvars.Token:
    return _current.set(identity)


def reset_current_identity(token: contextvars.Token) -> None:
    _current.reset(token)


class Denied(Exception):
    """A request without the right credential: ``status`` 401 (none, or a wrong one) or 403
    (a valid one whose role may not do this). The message names neither the credential nor
    whether a user name exists."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def role_allows(held: str, needed: str) -> bool:
    """Whether a credential of role ``held`` may call a route declaring ``needed``."""
    if needed == PUBLIC:
        return True
    return held == ADMIN or held == needed


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def _read_secret_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthConfigError(f"cannot read {what} {path}: {exc.__class__.__name__}: "
                              f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from None


def parse_token_file(text: str, path: str = "token file") -> list[tuple[bytes, Identity]]:
    """(SHA-256 of the token, identity) of each line ``TOKEN [ROLE [TENANT]]``; blank lines and
    lines starting with # are skipped. Errors name the line, never its token."""
    tokens: list[tuple[bytes, Identity]] = []
    seen: set[bytes] = set()
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) > 3:
            raise AuthConfigError(f"{path} line {number}: expected TOKEN [ROLE [TENANT]], found {len(fields)} fields")
        token = fields[0]
        role = fields[1] if len(fields) > 1 else ADMIN
        tenant = fields[2] if len(fields) > 2 else None
        if role not in ROLES:
            raise AuthConfigError(f"{path} line {number}: role {role!r} is not one of {', '.join(ROLES)}")
        if tenant is not None and tenant != "*":
            from .tenancy import check_tenant_name  # tenancy.py builds on this module

            problem = check_tenant_name(tenant)
            if problem:
                raise AuthConfigError(f"{path} line {number}: {problem} (or * to let X-Scope-OrgID choose)")
        if len(token) < 16:
            raise AuthConfigError(f"{path} line {number}: the token is shorter than 16 characters")
        digest = _digest(token)
        if digest in seen:
            raise AuthConfigError(f"{path} line {number}: the same token is on an earlier line")
        seen.add(digest)
        tokens.append((digest, Identity(f"token at line {number}", role, tenant)))
    if not tokens:
        raise AuthConfigError(f"{path} holds no token (one a line: TOKEN [ROLE [TENANT]])")
    return tokens


class Authenticator:
    """The credentials of one connector and the check of a request's Authorization header."""

    def __init__(self, username: str = "", password: str | None = None,
                 tokens: list[tuple[bytes, Identity]] | None = None, protect_public: bool = False):
        self._user = (_digest(username), _digest(password)) if username and password is not None else None
        self._username = username
        self._tokens = tokens or []
        self.protect_public = protect_public

    @classmethod
    def from_config(cls, config: Config) -> Authenticator | None:
        """The authenticator of the --auth-* options; None when none is set (auth off).
        Raises AuthConfigError for an unusable combination or file."""
        username, password_file, token_file = config.auth_username, config.auth_password_file, config.auth_token_file
        if bool(username) != bool(password_file):
            raise AuthConfigError("--auth-username and --auth-password-file go together: set both or neither")
        if ":" in username:
            raise AuthConfigError("--auth-username may not contain ':' (basic auth separates user and password by it)")
        password = None
        if password_file:
            # a file's final newline is not part of the password (echo secret > file)
            password = _read_secret_file(password_file, "--auth-password-file").rstrip("\r\n")
            if not password:
                raise AuthConfigError(f"--auth-password-file {password_file} is empty")
        tokens = None
        if token_file:
            tokens = parse_token_file(_read_secret_file(token_file, "--auth-token-file"), token_file)
        if password is None and tokens is None:
            if config.auth_protect_healthz:
                raise AuthConfigError("--auth-protect-healthz needs credentials (--auth-username or --auth-token-file)")
            return None
        return cls(username, password, tokens, protect_public=config.auth_protect_healthz)

    def challenges(self) -> list[str]:
        """The WWW-Authenticate values of a 401: one per accepted scheme."""
        found = []
        if self._user is not None:
            found.append(f'Basic realm="{REALM}", charset="UTF-8"')
        if self._tokens:
            found.append(f'Bearer realm="{REALM}"')
        return found

    def identify(self, authorization: str | None) -> Identity | None:
        """The identity of an Authorization header value; None for a missing, malformed or
        wrong credential (the caller answers all three alike)."""
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        scheme = scheme.lower()
        if scheme == "basic" and self._user is not None:
            return self._basic(value)
        if scheme == "bearer" and self._tokens:
            return self._bearer(value)
        return None

    def _basic(self, value: str) -> Identity | None:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        user, sep, password = decoded.partition(":")
        if not sep or self._user is None:
            return None
        # both compared, always: no early exit that would time whether the user name was right
        user_ok = hmac.compare_digest(_digest(user), self._user[0])
        password_ok = hmac.compare_digest(_digest(password), self._user[1])
        # the basic-auth user may choose a tenant with X-Scope-OrgID (tenancy.py: "*")
        return Identity(self._username, ADMIN, "*") if user_ok & password_ok else None

    def _bearer(self, value: str) -> Identity | None:
        given = _digest(value)
        found = None
        for digest, identity in self._tokens:  # every token, always: the time does not tell which matched
            if hmac.compare_digest(given, digest):
                found = identity
        return found

    def authorize(self, authorization: str | None, needed: str, what: str) -> Identity | None:
        """The identity allowed to call ``what`` (a path or gRPC method) needing role ``needed``;
        None for a public route. Raises Denied (401: no valid credential, 403: the role may not)."""
        if needed == PUBLIC and not self.protect_public:
            return None
        identity = self.identify(authorization)
        if identity is None:
            reason = "missing" if not authorization else "invalid"
            raise Denied(401, f"unauthorized: {reason} credentials (basic auth or a bearer token)")
        if needed not in (PUBLIC, ANY) and not role_allows(identity.role, needed):
            raise Denied(403, f"forbidden: the {identity.role} role may not call {what} (it needs {needed})")
        return identity
