"""auth.py: the token file's format, basic and bearer credentials, roles, and the start-up
errors of unusable flags; no message ever holds a credential."""

from __future__ import annotations

import base64

import pytest

from pyconnector import Config
from pyconnector.auth import ADMIN, ANY, PUBLIC, READ, WRITE, AuthConfigError, Authenticator, Denied, parse_token_file

READ_TOKEN = "r" * 20
WRITE_TOKEN = "w-token-0123456789"
ADMIN_TOKEN = "a-token-0123456789"
TENANT_TOKEN = "t-token-0123456789"
PASSWORD = "correct horse battery staple"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def authenticator(tmp_path) -> Authenticator:
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "tokens").write_text(
        f"# comment\n\n{READ_TOKEN} read\n  {WRITE_TOKEN}   write  \n{ADMIN_TOKEN}\n{TENANT_TOKEN} write team-a\n")
    config = Config(auth_username="prom", auth_password_file=str(tmp_path / "password"),
                    auth_token_file=str(tmp_path / "tokens"))
    found = Authenticator.from_config(config)
    assert found is not None
    return found


def test_token_file_lines(authenticator):
    identities = {token: authenticator.identify("Bearer " + token)
                  for token in (READ_TOKEN, WRITE_TOKEN, ADMIN_TOKEN, TENANT_TOKEN)}
    assert {t: (i.role, i.tenant) for t, i in identities.items()} == {
        READ_TOKEN: (READ, None), WRITE_TOKEN: (WRITE, None), ADMIN_TOKEN: (ADMIN, None),
        TENANT_TOKEN: (WRITE, "team-a")}
    # identities are named by line, never by token
    assert identities[READ_TOKEN].name == "token at line 3"
    assert all(token not in repr(identity) for token, identity in identities.items())


def test_basic_auth_user_is_admin(authenticator):
    identity = authenticator.identify(basic("prom", PASSWORD))
    # "*": under --multi-tenancy it may choose a tenant with X-Scope-OrgID (tenancy.py)
    assert (identity.name, identity.role, identity.tenant) == ("prom", ADMIN, "*")


@pytest.mark.parametrize("tenant", ["bad/tenant", ".", "x" * 151])
def test_a_token_with_an_invalid_tenant_stops_the_connector(tenant):
    with pytest.raises(AuthConfigError, match="line 1: invalid tenant"):
        parse_token_file(f"{READ_TOKEN} read {tenant}\n")


@pytest.mark.parametrize("header", [
    None, "", "Basic", "Basic !!!notbase64", basic("prom", PASSWORD + "x"), basic("other", PASSWORD),
    basic("prom", ""), "Basic " + base64.b64encode(b"prom").decode(), basic("prom", PASSWORD)[:-2],
    "Bearer", "Bearer " + READ_TOKEN + "x", "Bearer " + READ_TOKEN[:-1], "Token " + READ_TOKEN,
    "Bearer " + PASSWORD, basic("prom", READ_TOKEN),
])
def test_wrong_or_missing_credentials_identify_nobody(authenticator, header):
    assert authenticator.identify(header) is None


def test_scheme_is_case_insensitive(authenticator):
    assert authenticator.identify("bearer " + READ_TOKEN).role == READ
    assert authenticator.identify("BASIC " + basic("prom", PASSWORD)[6:]).role == ADMIN


@pytest.mark.parametrize("held, needed, allowed", [
    (READ, READ, True), (READ, WRITE, False), (READ, ADMIN, False),
    (WRITE, WRITE, True), (WRITE, READ, False), (WRITE, ADMIN, False),
    (ADMIN, READ, True), (ADMIN, WRITE, True), (ADMIN, ADMIN, True),
    (READ, ANY, True), (WRITE, ANY, True),
])
def test_roles(authenticator, held, needed, allowed):
    token = {READ: READ_TOKEN, WRITE: WRITE_TOKEN, ADMIN: ADMIN_TOKEN}[held]
    if allowed:
        assert authenticator.authorize("Bearer " + token, needed, "/x").role == held
    else:
        with pytest.raises(Denied) as denied:
            authenticator.authorize("Bearer " + token, needed, "/x")
        assert denied.value.status == 403
        assert token not in str(denied.value) and f"needs {needed}" in str(denied.value)


def test_denials_are_401_without_the_credential(authenticator):
    for header, reason in ((None, "missing"), ("Bearer " + READ_TOKEN + "x", "invalid"),
                           (basic("prom", "guess-" + PASSWORD), "invalid")):
        with pytest.raises(Denied) as denied:
            authenticator.authorize(header, READ, "/api/v1/query")
        assert denied.value.status == 401 and reason in str(denied.value)
        assert PASSWORD not in str(denied.value) and READ_TOKEN not in str(denied.value)


def test_public_routes_are_open_unless_protected(authenticator):
    assert authenticator.authorize(None, PUBLIC, "/healthz") is None
    authenticator.protect_public = True
    with pytest.raises(Denied):
        authenticator.authorize(None, PUBLIC, "/healthz")
    assert authenticator.authorize("Bearer " + READ_TOKEN, PUBLIC, "/healthz").role == READ


def test_challenges_name_the_configured_schemes(authenticator, tmp_path):
    assert authenticator.challenges() == ['Basic realm="promscale", charset="UTF-8"', 'Bearer realm="promscale"']
    tokens_only = Authenticator.from_config(Config(auth_token_file=str(tmp_path / "tokens")))
    assert tokens_only.challenges() == ['Bearer realm="promscale"']
    assert tokens_only.identify(basic("prom", PASSWORD)) is None


def test_no_credentials_means_auth_off():
    assert Authenticator.from_config(Config()) is None


@pytest.mark.parametrize("text, message", [
    ("", "holds no token (one a line: TOKEN [ROLE [TENANT]])"),
    ("# only a comment\n", "holds no token (one a line: TOKEN [ROLE [TENANT]])"),
    (f"{READ_TOKEN} reader\n", "line 1: role 'reader' is not one of read, write, admin"),
    (f"{READ_TOKEN} read team extra\n", "line 1: expected TOKEN [ROLE [TENANT]], found 4 fields"),
    ("tiny read\n", "line 1: the token is shorter than 16 characters"),
    (f"{READ_TOKEN} read\n{READ_TOKEN} write\n", "line 2: the same token is on an earlier line"),
])
def test_bad_token_files_are_refused_by_line(text, message):
    with pytest.raises(AuthConfigError) as refused:
        parse_token_file(text, "tokens.txt")
    assert str(refused.value) == f"tokens.txt {message}"
    assert READ_TOKEN not in str(refused.value) and "tiny" not in str(refused.value)


@pytest.mark.parametrize("options, message", [
    ({"auth_username": "prom"}, "--auth-username and --auth-password-file go together"),
    ({"auth_password_file": "/nonexistent"}, "--auth-username and --auth-password-file go together"),
    ({"auth_username": "prom", "auth_password_file": "/nonexistent/pw"}, "cannot read --auth-password-file"),
    ({"auth_username": "a:b", "auth_password_file": "PW"}, "may not contain ':'"),
    ({"auth_username": "prom", "auth_password_file": "EMPTY"}, "is empty"),
    ({"auth_token_file": "/nonexistent/tokens"}, "cannot read --auth-token-file"),
    ({"auth_protect_healthz": True}, "--auth-protect-healthz needs credentials"),
])
def test_unusable_options_are_refused(tmp_path, options, message):
    (tmp_path / "pw").write_text("secret\n")
    (tmp_path / "empty").write_text("\n")
    options = {k: {"PW": str(tmp_path / "pw"), "EMPTY": str(tmp_path / "empty")}.get(v, v) if isinstance(v, str) else v
               for k, v in options.items()}
    with pytest.raises(AuthConfigError, match=message):
        Authenticator.from_config(Config(**options))


def test_password_file_keeps_inner_whitespace(tmp_path):
    (tmp_path / "pw").write_text(" spaced secret \r\n")
    found = Authenticator.from_config(Config(auth_username="u", auth_password_file=str(tmp_path / "pw")))
    assert found.identify(basic("u", " spaced secret ")) is not None
    assert found.identify(basic("u", "spaced secret")) is None
