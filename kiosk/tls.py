"""A self-signed certificate for `kiosk serve --https`: tablet cameras work only over HTTPS.

Made on first use in the instance folder and reused afterwards, so a tablet that trusted it once
keeps trusting it. It is its own issuer and is marked as a CA, because Android and iOS install a
certificate as trusted only when it is one; path length 0 and name constraints limited to its own
names mean that, installed on a tablet, it cannot vouch for any other site even if its key leaked."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERTIFICATE_FILE = "kiosk-cert.pem"
KEY_FILE = "kiosk-key.pem"
# Apple refuses server certificates valid for longer than 825 days even when a person trusts them;
# a year also stays within what any browser accepts.
VALID_DAYS = 397
# A certificate this close to its end is replaced before a drive rather than during one.
RENEW_DAYS_BEFORE = 30


@dataclass(frozen=True)
class ServerCertificate:
    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256 of the certificate, AA:BB:..., as browsers show it
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_after: dt.datetime
    created: bool  # made now rather than reused


def machine_names(hostname: str, lan_addresses: list[str]) -> tuple[list[str], list[str]]:
    """The names a tablet may use for this machine: (DNS names, IP addresses)."""
    dns = ["localhost"]
    for name in (hostname, f"{hostname}.local" if hostname and "." not in hostname else ""):
        if name and name not in dns:
            dns.append(name)
    addresses = ["127.0.0.1"] + [a for a in lan_addresses if a != "127.0.0.1"]
    return dns, list(dict.fromkeys(addresses))


def ensure_certificate(folder: Path, dns_names: list[str], ip_addresses: list[str],
                       now: dt.datetime | None = None) -> ServerCertificate:
    """The certificate in `folder` when it still covers every name and is not near its end;
    otherwise a new one (key and certificate files created 0600)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    cert_path, key_path = folder / CERTIFICATE_FILE, folder / KEY_FILE
    wanted_dns, wanted_ips = set(dns_names), {ipaddress.ip_address(a) for a in ip_addresses}
    existing = _load(cert_path, key_path)
    if existing is not None:
        dns, ips = _names(existing)
        fresh = existing.not_valid_after_utc - now > dt.timedelta(days=RENEW_DAYS_BEFORE)
        if fresh and existing.not_valid_before_utc <= now and wanted_dns <= set(dns) and wanted_ips <= set(ips):
            return _describe(existing, cert_path, key_path, created=False)
        # A new address (another venue's Wi-Fi) or the end of its validity: one that covers all
        # names, old and new, so tablets using an old name are not cut off by the change.
        if fresh:
            wanted_dns |= set(dns)
            wanted_ips |= set(ips)
    certificate, key = _issue(sorted(wanted_dns, key=_dns_order), sorted(wanted_ips, key=_ip_order), now)
    folder.mkdir(parents=True, exist_ok=True)
    _write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    _write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return _describe(certificate, cert_path, key_path, created=True)


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _dns_order(name: str) -> tuple[bool, str]:
    return (name != "localhost", name)


def _ip_order(address) -> tuple[int, bool, str]:
    return (address.version, not address.is_loopback, str(address))


def _issue(dns_names: list[str], ip_addresses: list, now: dt.datetime):
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = next((n for n in dns_names if n != "localhost"), "localhost")
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kiosk hiến máu"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(a) for a in ip_addresses]
    permitted: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    permitted += [x509.IPAddress(ipaddress.ip_network(f"{a}/{a.max_prefixlen}")) for a in ip_addresses]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))  # a tablet whose clock runs a little slow
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _load(cert_path: Path, key_path: Path) -> x509.Certificate | None:
    """The stored certificate, when both files are there and the key is the certificate's."""
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if key.public_key() != certificate.public_key():
        return None
    return certificate


def _names(certificate: x509.Certificate) -> tuple[list[str], list]:
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return sans.get_values_for_type(x509.DNSName), sans.get_values_for_type(x509.IPAddress)


def _describe(certificate: x509.Certificate, cert_path: Path, key_path: Path, created: bool) -> ServerCertificate:
    dns, ips = _names(certificate)
    return ServerCertificate(cert_path=cert_path, key_path=key_path, fingerprint=fingerprint(certificate),
                             dns_names=tuple(dns), ip_addresses=tuple(str(a) for a in ips),
                             not_after=certificate.not_valid_after_utc, created=created)


def _write_private(path: Path, data: bytes) -> None:
    """Written whole under a temporary name, then renamed: created 0600, never half-written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)
    os.chmod(temporary, 0o600)  # whatever the umask or an earlier file's mode
    os.replace(temporary, path)
