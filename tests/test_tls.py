"""The self-signed certificate of `kiosk serve --https`: its names, validity, reuse and file modes."""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from kiosk.tls import RENEW_DAYS_BEFORE, VALID_DAYS, ensure_certificate, machine_names
from tests.support.server import free_port

LAN = ["192.168.1.20", "10.0.0.7"]


def _load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(certificate: x509.Certificate):
    sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(sans.get_values_for_type(x509.DNSName)), {str(a) for a in sans.get_values_for_type(x509.IPAddress)}


@pytest.fixture
def names():
    return machine_names("laptop-hien-mau", LAN)


def test_machine_names_cover_localhost_the_hostname_and_every_lan_address():
    dns, addresses = machine_names("laptop-hien-mau", LAN)
    assert dns == ["localhost", "laptop-hien-mau", "laptop-hien-mau.local"]
    assert addresses == ["127.0.0.1", "192.168.1.20", "10.0.0.7"]
    assert machine_names("kiosk.example.vn", [])[0] == ["localhost", "kiosk.example.vn"]


def test_the_certificate_names_every_address_of_the_machine(tmp_path, names):
    made = ensure_certificate(tmp_path / "tls", *names)
    certificate = _load(made.cert_path)
    dns, addresses = _sans(certificate)
    assert dns == {"localhost", "laptop-hien-mau", "laptop-hien-mau.local"}
    assert addresses == {"127.0.0.1", "192.168.1.20", "10.0.0.7"}
    assert made.created
    assert made.fingerprint == certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert len(made.fingerprint.split(":")) == 32
    # For a server, and installable as trusted on a tablet, but unable to vouch for any other site.
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usage
    basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0
    constraints = certificate.extensions.get_extension_for_class(x509.NameConstraints).value
    assert {n.value for n in constraints.permitted_subtrees} == (
        {"localhost", "laptop-hien-mau", "laptop-hien-mau.local"}
        | {ipaddress.ip_network(f"{a}/32") for a in addresses})
    assert certificate.issuer == certificate.subject


def test_python_trusting_the_certificate_accepts_it_for_each_name(tmp_path, names):
    """What a tablet that installed the file does: verify the server by the certificate alone."""
    made = ensure_certificate(tmp_path / "tls", *names)
    context = ssl.create_default_context(cafile=str(made.cert_path))
    context.load_cert_chain(made.cert_path, made.key_path)  # the key is the certificate's
    assert context.get_ca_certs()[0]["subjectAltName"][:2] == (("DNS", "localhost"), ("DNS", "laptop-hien-mau"))


def test_valid_for_about_a_year_from_now(tmp_path, names):
    now = dt.datetime.now(dt.timezone.utc)
    certificate = _load(ensure_certificate(tmp_path / "tls", *names).cert_path)
    assert certificate.not_valid_before_utc <= now
    assert now - certificate.not_valid_before_utc < dt.timedelta(hours=2)  # a slow tablet clock still accepts it
    length = certificate.not_valid_after_utc - now
    assert dt.timedelta(days=VALID_DAYS - 1) < length <= dt.timedelta(days=VALID_DAYS)
    assert length < dt.timedelta(days=398)  # within what Apple and every browser accept


def test_files_are_created_0600(tmp_path, names):
    previous = os.umask(0o022)  # the usual umask would leave other files readable by all
    try:
        made = ensure_certificate(tmp_path / "tls", *names)
    finally:
        os.umask(previous)
    for path in (made.cert_path, made.key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in made.cert_path.parent.iterdir()) == ["kiosk-cert.pem", "kiosk-key.pem"]


def test_reused_on_the_next_start(tmp_path, names):
    first = ensure_certificate(tmp_path / "tls", *names)
    content = first.cert_path.read_bytes(), first.key_path.read_bytes()
    again = ensure_certificate(tmp_path / "tls", *names)
    assert not again.created and again.fingerprint == first.fingerprint
    assert (again.cert_path.read_bytes(), again.key_path.read_bytes()) == content
    # Fewer names than it holds (a network card unplugged) still reuses it.
    assert ensure_certificate(tmp_path / "tls", ["localhost"], ["127.0.0.1"]).fingerprint == first.fingerprint


def test_a_new_address_gives_a_certificate_for_old_and_new(tmp_path, names):
    first = ensure_certificate(tmp_path / "tls", *names)
    dns, addresses = names
    moved = ensure_certificate(tmp_path / "tls", dns, ["127.0.0.1", "172.16.5.9"])
    assert moved.created and moved.fingerprint != first.fingerprint
    assert set(moved.ip_addresses) == {"127.0.0.1", "192.168.1.20", "10.0.0.7", "172.16.5.9"}


def test_renewed_before_it_runs_out(tmp_path, names):
    first = ensure_certificate(tmp_path / "tls", *names)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=VALID_DAYS - RENEW_DAYS_BEFORE + 1)
    renewed = ensure_certificate(tmp_path / "tls", *names, now=later)
    assert renewed.created and renewed.fingerprint != first.fingerprint
    assert renewed.not_after > first.not_after


def test_a_key_that_does_not_match_is_replaced(tmp_path, names):
    first = ensure_certificate(tmp_path / "tls", *names)
    other = ensure_certificate(tmp_path / "other", *names)
    first.key_path.write_bytes(other.key_path.read_bytes())
    replaced = ensure_certificate(tmp_path / "tls", *names)
    assert replaced.created and replaced.fingerprint not in (first.fingerprint, other.fingerprint)


def test_serve_https_makes_the_certificate_and_gives_it_to_gunicorn(app, runner, monkeypatch):
    executed = {}
    monkeypatch.setattr("kiosk.cli.lan_addresses", lambda: ["192.168.1.20"])
    monkeypatch.setattr("kiosk.cli.socket.gethostname", lambda: "laptop-hien-mau")
    monkeypatch.setattr("kiosk.cli.os.execvpe", lambda file, args, env: executed.update(args=args, env=env))
    port = free_port()  # serve refuses a port something listens on
    result = runner.invoke(args=["serve", "--https", "--port", str(port)])
    assert result.exit_code == 0, result.output
    folder = f"{app.instance_path}/tls"
    arguments = executed["args"]
    assert arguments[arguments.index("--certfile") + 1] == f"{folder}/kiosk-cert.pem"
    assert arguments[arguments.index("--keyfile") + 1] == f"{folder}/kiosk-key.pem"
    assert executed["env"]["KIOSK_BASE_URL"] == f"https://192.168.1.20:{port}"
    assert executed["env"]["KIOSK_SESSION_COOKIE_SECURE"] == "true"
    fingerprint = _load(Path(folder) / "kiosk-cert.pem").fingerprint(hashes.SHA256()).hex(":").upper()
    assert f"SHA-256: {fingerprint}" in result.output
    assert f"{folder}/kiosk-cert.pem" in result.output  # where the file to install on a tablet is
    assert "Proceed" in result.output and "192.168.1.20" in result.output
    # The next start reuses it: a tablet that trusted it once keeps trusting it.
    again = runner.invoke(args=["serve", "--https", "--port", str(port)])
    assert f"SHA-256: {fingerprint}" in again.output and "new certificate" not in again.output


def test_serve_refuses_https_with_a_certificate_of_its_own(runner, tmp_path):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    result = runner.invoke(args=["serve", "--https", "--certfile", str(cert), "--keyfile", str(cert)])
    assert result.exit_code != 0 and "not both" in result.output
    result = runner.invoke(args=["serve", "--certfile", str(cert)])
    assert result.exit_code != 0 and "go together" in result.output
