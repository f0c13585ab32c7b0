"""Which tenant a request gets (pyconnector/tenancy.py), for every kind of credential."""

from __future__ import annotations

import pytest

from pyconnector import Config
from pyconnector.auth import ADMIN, READ, Identity
from pyconnector.tenancy import Tenancy, TenantRefused, check_tenant_name

TENANT_TOKEN = Identity("token at line 1", READ, "team-a")
ANY_TOKEN = Identity("token at line 2", READ, "*")
PLAIN_TOKEN = Identity("token at line 3", READ, None)
BASIC_USER = Identity("prom", ADMIN, "*")


def tenancy(**options) -> Tenancy:
    tenancy = Tenancy.from_config(Config(multi_tenancy=True, **options))
    assert tenancy is not None
    return tenancy


def test_off_without_the_flag():
    assert Tenancy.from_config(Config()) is None


@pytest.mark.parametrize("identity, header, authenticated, expected", [
    (TENANT_TOKEN, None, True, "team-a"),
    (TENANT_TOKEN, "team-a", True, "team-a"),
    (ANY_TOKEN, "team-b", True, "team-b"),
    (BASIC_USER, "team-b", True, "team-b"),
    (None, "team-c", False, "team-c"),  # no authentication: the proxy's header is trusted
    (ANY_TOKEN, " team-b ", True, "team-b"),
])
def test_the_tenant_of_a_request(identity, header, authenticated, expected):
    assert tenancy().resolve(identity, header, authenticated) == expected


@pytest.mark.parametrize("identity, header, authenticated, status", [
    (TENANT_TOKEN, "team-b", True, 403),
    (PLAIN_TOKEN, "team-b", True, 403),
    (PLAIN_TOKEN, None, True, 401),
    (ANY_TOKEN, None, True, 401),
    (ANY_TOKEN, "", True, 401),
    (None, None, False, 401),
    (None, None, True, 401),
    (ANY_TOKEN, "a/b", True, 400),
    (None, "..", False, 400),
    (None, "team\x01a", False, 400),
])
def test_refused_requests(identity, header, authenticated, status):
    with pytest.raises(TenantRefused) as exc:
        tenancy().resolve(identity, header, authenticated)
    assert exc.value.status == status
    assert "\n" not in str(exc.value)


def test_requests_without_tenant_when_allowed():
    allowing = tenancy(multi_tenancy_allow_non_tenants=True)
    assert allowing.resolve(PLAIN_TOKEN, None, True) == ""
    assert allowing.resolve(None, None, False) == ""
    with pytest.raises(TenantRefused):  # allowed without tenant does not mean a token may choose one
        allowing.resolve(PLAIN_TOKEN, "team-a", True)


def test_valid_tenants():
    limited = tenancy(multi_tenancy_valid_tenants="team-a,team-b")
    assert limited.resolve(ANY_TOKEN, "team-b", True) == "team-b"
    with pytest.raises(TenantRefused) as exc:
        limited.resolve(ANY_TOKEN, "team-c", True)
    assert exc.value.status == 403 and "team-c" in str(exc.value)


@pytest.mark.parametrize("name, valid", [("team-a", True), ("A.b_c!(x)'", True), ("x" * 150, True),
                                         ("x" * 151, False), ("", False), (".", False), ("..", False),
                                         ("a b", False), ("*", False), ("ä", False), ("a\x00", False)])
def test_tenant_names(name, valid):
    assert (check_tenant_name(name) is None) is valid


def test_flags_and_variables():
    from pyconnector import config

    loaded = config.load(["--multi-tenancy", "--multi-tenancy.valid-tenants", "team-a, team-b"],
                         environ={"PROMSCALE_MULTI_TENANCY_ALLOW_NON_TENANTS": "true"})
    assert (loaded.multi_tenancy, loaded.multi_tenancy_valid_tenants, loaded.multi_tenancy_allow_non_tenants) == (
        True, "team-a,team-b", True)
    with pytest.raises(SystemExit):
        config.load(["--multi-tenancy.valid-tenants", "bad tenant"])
