"""Self-signed certificates for certificate-auth tests, generated at test time (never commit a key).

    cert = make_certificate(passphrase="s3cret")
    anaplan_emulator.admin.register_certificate("demo@example.com", cert.certificate_pem)
    # connection extras: certificate=cert.certificate_pem, private_key=cert.private_key_pem,
    #                    private_key_passphrase="s3cret"
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TestCertificate:
    """A key pair and its self-signed certificate (PEM text)."""

    __test__ = False  # not a pytest test class

    key: rsa.RSAPrivateKey = field(repr=False)
    certificate_pem: str
    private_key_pem: str = field(repr=False)  # PKCS#8, encrypted when a passphrase was given

    @property
    def unencrypted_key_pem(self) -> str:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


def make_certificate(
    common_name: str = "demo@example.com",
    *,
    passphrase: str | None = None,
    key_size: int = 2048,
    days: float = 365,
    ip_address: str | None = None,
) -> TestCertificate:
    """A fresh RSA key and a self-signed certificate valid from yesterday for ``days`` days.

    :param ip_address: add it as a subject alternative name (for serving TLS on that address).
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    if ip_address:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip_address))]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    return TestCertificate(
        key=key,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ).decode(),
    )
