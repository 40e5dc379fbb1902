"""HTTPS on this machine, for sandboxes whose official SDK only speaks https.

The Vonage SDK builds every URL as `https://{host}{path}`: its documented host options move
the host, not the scheme. `local_certificate()` makes a self-signed certificate for 127.0.0.1
and localhost (valid one day, written to a temporary directory); `serve_tls` serves a WSGI app
with it; a client trusts it through requests' documented `REQUESTS_CA_BUNDLE` (or `verify=`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from integrations.serving import RunningServer


@dataclass(frozen=True)
class LocalCertificate:
    cert_file: str   # also the CA bundle a client trusts
    key_file: str


@cache
def local_certificate() -> LocalCertificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made once per process."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Parlons local sandbox")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="parlons-tls-"))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return LocalCertificate(str(cert_file), str(key_file))


def serve_tls(app, port: int = 0) -> RunningServer:
    """Serve `app` over HTTPS on 127.0.0.1:`port` (0 = a free port) in a daemon thread."""
    certificate = local_certificate()
    server = make_server("127.0.0.1", port, app, threaded=True,
                         ssl_context=(certificate.cert_file, certificate.key_file))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"serve-tls:{server.server_port}", daemon=True)
    thread.start()
    return RunningServer(server=server, thread=thread)
