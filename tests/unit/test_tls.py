"""tls.py and the CLI's start-up checks: unusable TLS or auth options stop the connector with a
message naming the option, before gunicorn starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pyconnector import Config, tls
from support.certs import make_certificates


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def test_tls_off_without_files():
    assert tls.load(Config()) is None


def test_gunicorn_settings_with_client_certificates(certs):
    import ssl

    files = tls.load(Config(tls_cert_file=str(certs.server_cert), tls_key_file=str(certs.server_key),
                            tls_client_ca_file=str(certs.ca)))
    assert files.gunicorn_settings() == {"certfile": str(certs.server_cert), "keyfile": str(certs.server_key),
                                         "ca_certs": str(certs.ca), "cert_reqs": ssl.CERT_REQUIRED}
    without = tls.load(Config(tls_cert_file=str(certs.server_cert), tls_key_file=str(certs.server_key)))
    assert without.gunicorn_settings() == {"certfile": str(certs.server_cert), "keyfile": str(certs.server_key)}


@pytest.mark.parametrize("options, message", [
    ({"tls_cert_file": "CERT"}, "--tls-cert-file and --tls-key-file go together"),
    ({"tls_client_ca_file": "CA"}, "--tls-client-ca-file needs --tls-cert-file"),
    ({"tls_cert_file": "/nonexistent.pem", "tls_key_file": "KEY"}, "cannot read TLS certificate or key"),
    ({"tls_cert_file": "CERT", "tls_key_file": "CLIENT_KEY"}, "are not a matching PEM certificate and key"),
    ({"tls_cert_file": "CERT", "tls_key_file": "KEY", "tls_client_ca_file": "KEY"}, "holds no PEM CA certificate"),
])
def test_unusable_tls_options_are_refused(certs, options, message):
    files = {"CERT": str(certs.server_cert), "KEY": str(certs.server_key), "CA": str(certs.ca),
             "CLIENT_KEY": str(certs.client_key)}
    with pytest.raises(tls.TlsConfigError, match=message):
        tls.load(Config(**{k: files.get(v, v) for k, v in options.items()}))


@pytest.mark.parametrize("args, message", [
    (["--auth-username", "prom"], "--auth-username and --auth-password-file go together"),
    (["--tls-key-file", "/x.pem"], "--tls-cert-file and --tls-key-file go together"),
    (["--auth-token-file", "/nonexistent/tokens"], "cannot read --auth-token-file /nonexistent/tokens"),
])
def test_the_command_refuses_to_start(args, message):
    result = subprocess.run([sys.executable, "-m", "pyconnector", "--otlp-grpc-listen", "", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("promscale-connector: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_boolean_flags_take_no_value_or_one():
    from pyconnector import config

    assert config.load(["--web-enable-admin-api"], environ={}).web_enable_admin_api is True
    assert config.load(["--web-enable-admin-api", "false"], environ={}).web_enable_admin_api is False
    assert config.load([], environ={"PROMSCALE_WEB_ENABLE_ADMIN_API": "true"}).web_enable_admin_api is True
    assert config.load([], environ={}).auth_protect_healthz is False
    with pytest.raises(SystemExit, match="PROMSCALE_AUTH_PROTECT_HEALTHZ"):
        config.load([], environ={"PROMSCALE_AUTH_PROTECT_HEALTHZ": "maybe"})
