"""TLS of the connector's listeners: the same certificate, key and client CA for gunicorn
(HTTP: the Prometheus API, remote_write/read, OTLP/HTTP, Jaeger) and for the OTLP/gRPC server.

Files are checked once at start (``load``), so a wrong path or a key that does not match its
certificate stops the connector with a message instead of failing every handshake.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from .config import Config


class TlsConfigError(Exception):
    """The TLS flags or files are unusable; the connector does not start."""


@dataclass(frozen=True)
class TlsFiles:
    cert_file: str
    key_file: str
    client_ca_file: str = ""

    def gunicorn_settings(self) -> dict[str, object]:
        settings: dict[str, object] = {"certfile": self.cert_file, "keyfile": self.key_file}
        if self.client_ca_file:
            settings["ca_certs"] = self.client_ca_file
            settings["cert_reqs"] = ssl.CERT_REQUIRED
        return settings

    def grpc_credentials(self) -> object:
        import grpc  # only the gRPC process needs it

        client_ca = Path(self.client_ca_file).read_bytes() if self.client_ca_file else None
        return grpc.ssl_server_credentials(
            [(Path(self.key_file).read_bytes(), Path(self.cert_file).read_bytes())],
            root_certificates=client_ca, require_client_auth=client_ca is not None)


def load(config: Config) -> TlsFiles | None:
    """The TLS files of the --tls-* options, checked; None when TLS is off."""
    cert, key, client_ca = config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file
    if bool(cert) != bool(key):
        raise TlsConfigError("--tls-cert-file and --tls-key-file go together: set both or neither")
    if client_ca and not cert:
        raise TlsConfigError("--tls-client-ca-file needs --tls-cert-file and --tls-key-file (client certificates "
                             "are checked in the TLS handshake)")
    if not cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsConfigError(f"cannot read TLS certificate or key: {exc.filename}: {exc.strerror}") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f"--tls-cert-file {cert} and --tls-key-file {key} are not a matching PEM certificate "
                             f"and key: {exc}") from None
    if client_ca:
        try:
            context.load_verify_locations(cafile=client_ca)
        except FileNotFoundError as exc:
            raise TlsConfigError(f"cannot read --tls-client-ca-file: {exc.filename}: {exc.strerror}") from None
        except (ssl.SSLError, OSError) as exc:
            raise TlsConfigError(f"--tls-client-ca-file {client_ca} holds no PEM CA certificate: {exc}") from None
    return TlsFiles(cert, key, client_ca)
