"""A local certificate authority and a localhost certificate for the embedded run.

Outlook, MSAL and browsers insist on https; on a developer's machine a CA made once
under ``instance/tls`` signs a certificate for localhost and 127.0.0.1, and clients
that talk to the local servers trust that CA explicitly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: What every certificate made here covers.
_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class LocalTLS:
    ca_path: Path
    cert_path: Path
    key_path: Path


def ensure_local_tls(folder: Path, hostnames: tuple[str, ...] = ()) -> LocalTLS:
    """Make the CA and the server certificate once; later calls reuse them.

    The certificate covers localhost and its loopback addresses, and ``hostnames``
    besides (the demo stack's simulator is reached by a name of its own). One made
    earlier without all of them is replaced, CA included, since the CA's key is not
    kept.
    """
    tls = LocalTLS(
        folder / "ca.pem", folder / "localhost.pem", folder / "localhost.key"
    )
    hostnames = tuple(name for name in hostnames if name not in _LOCAL_NAMES)
    if (
        tls.ca_path.exists()
        and tls.key_path.exists()
        and tls.cert_path.exists()
        and set(hostnames) <= _names_covered(tls.cert_path)
    ):
        return tls

    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Interactions local CA")]
    )
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    alt_names = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            *(x509.DNSName(name) for name in hostnames),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    server_cert = (
        _builder(server_name, ca_name, server_key.public_key())
        .add_extension(alt_names, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    tls.key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tls.key_path.chmod(0o600)
    tls.cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    tls.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))

    return tls


def _names_covered(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)

    return set(names.value.get_values_for_type(x509.DNSName))


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=825))
    )
