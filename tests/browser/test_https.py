"""Every role's POSTs over HTTPS, as browsers send them: `kiosk serve --https` (gunicorn with the
self-signed certificate it makes), and gunicorn behind nginx terminating TLS.

No test adds a header by hand: the Referer that Flask-WTF's strict check (WTF_CSRF_SSL_STRICT)
wants over HTTPS is whatever Chromium sends under the pages' own Referrer-Policy. Under the old
`no-referrer` it sent none, and every POST here was answered 400 "Trang đã hết hạn"."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk.cli import gunicorn_command
from kiosk.extensions import db
from kiosk.models import Screening, Site, Visit
from kiosk.tls import ensure_certificate, machine_names
from tests.browser.conftest import LAPTOP, TABLET
from tests.conftest import NURSE_PASSWORD, ORGANISER_PASSWORD
from tests.support.browser.kiosk import a_visit, answer_questionnaire
from tests.support.browser.nurse import fill_vitals, wait_for_suggestion
from tests.support.donors import check_in, pick_donor

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A server process started by the test, in its own process group, with its output in a file."""

    def __init__(self, name: str, command: list[str], env: dict, folder: Path):
        self.name = name
        self.log = folder / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_for(self, url: str, certificate: Path | None = None) -> None:
        """Until `url` answers; over HTTPS verified by `certificate` alone, as a tablet that installed
        it verifies (the file is written by `kiosk serve` before gunicorn starts)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                context = ssl.create_default_context(cafile=str(certificate)) if certificate else None
                urllib.request.urlopen(url, timeout=2, context=context).read()
                return
            except (OSError, ssl.SSLError):
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} did not start: " + self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def _server_env(app, instance: Path, base_url: str, **settings) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_")}
    env.update({"KIOSK_INSTANCE_PATH": str(instance), "KIOSK_SECRET_KEY": "https-test-secret",
                "KIOSK_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "KIOSK_BASE_URL": base_url,
                # Unpaired browsers, as the rest of the suite (tests/browser/test_device_pairing.py pairs one).
                "KIOSK_DEVICE_PAIRING": "off"})
    env.update({f"KIOSK_{name}": value for name, value in settings.items()})
    return env


@pytest.fixture
def https_server(app, demo, tmp_path):
    """`kiosk serve --https` itself: it makes the certificate, prints its fingerprint, runs gunicorn."""
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    instance = tmp_path / "served"
    instance.mkdir()
    server = Served("kiosk-serve", [sys.executable, "-m", "kiosk.cli", "serve", "--https", "--host", "127.0.0.1",
                                    "--port", str(port), "--workers", "2"], _server_env(app, instance, url), tmp_path)
    certificate = instance / "tls" / "kiosk-cert.pem"
    server.wait_for(url + "/healthz", certificate)
    _prints_the_certificate_it_serves(server.log, certificate, port)
    yield {"url": url, "certificate": certificate, "log": server.log}
    server.stop()


def _prints_the_certificate_it_serves(log: Path, certificate: Path, port: int) -> None:
    """What a person compares on a tablet's warning page: the SHA-256 printed is the one served."""
    served = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port)))
    printed = log.read_text(errors="replace")
    fingerprint = re.search(r"SHA-256: ([0-9A-F:]+)", printed)
    assert fingerprint, printed
    assert fingerprint.group(1).replace(":", "") == hashlib.sha256(served).hexdigest().upper()
    assert str(certificate) in printed  # where the file to install on a tablet is
    assert "/kiosk/XNC" in printed


class Refusals:
    """Every answer of 400 or more a browser context receives: with the Referer missing, each POST
    over HTTPS came back 400 ("Trang đã hết hạn")."""

    def __init__(self, context):
        self.items: list[str] = []
        context.on("response", self._seen)

    def _seen(self, response):
        if response.status >= 400:
            self.items.append(f"{response.status} {response.request.method} {response.url}")


def https_context(new_context, viewport):
    """A browser context over HTTPS past the self-signed certificate's warning, as a tablet whose
    person chose to proceed; nothing else changed (no extra header, no Referer of our own)."""
    context = new_context(viewport=viewport, ignore_https_errors=True)
    return context, Refusals(context)


def post_by(page, action):
    """Do `action` (a click, Enter) and return the POST it sends, failing at once on a refusal."""
    with page.expect_response(lambda response: response.request.method == "POST") as answered:
        action()
    response = answered.value
    if response.status >= 400:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text()))
        pytest.fail(f"{response.status} for POST {response.url} (Referer sent: "
                    f"{response.request.headers.get('referer')!r}): {text.strip()[:200]}")
    return response


def sign_in(page, url: str, username: str, password: str):
    page.goto(f"{url}/auth/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    assert post_by(page, lambda: page.click("#sign-in-submit")).status == 303
    page.wait_for_url(re.compile(r".*/(nurse|admin)(/.*)?$"))


@pytest.mark.both_databases
def test_kiosk_scan_questionnaire_walk_in_and_language_over_https(https_server, app, new_context):
    url = https_server["url"]
    context, refusals = https_context(new_context, TABLET)
    page = context.new_page()
    response = page.goto(f"{url}/kiosk/XNC")
    page.wait_for_selector("[data-step=start]")
    visit = a_visit(app)
    page.focus("#scan-code")
    page.keyboard.type(visit["token"], delay=2)
    post_by(page, lambda: page.keyboard.press("Enter"))  # the htmx scan
    page.wait_for_selector("[data-step=confirm]")
    post_by(page, lambda: page.click("text=Đúng, là tôi"))
    answer_questionnaire(page)  # a POST a screen
    page.wait_for_selector("[data-step=ticket]")
    assert page.locator("[data-queue-number]").inner_text() == "1"
    page.click("text=Xong")
    page.wait_for_selector("[data-step=start]")

    page.click("text=Đăng ký người hiến mới")
    page.wait_for_selector("[data-step=walk-in]")
    page.fill("#full_name", "Đinh Thị Mai")
    page.fill("#date_of_birth", "05/05/1995")
    page.click("label[for=sex-1]")
    page.fill("#id_number", "001195009999")
    page.fill("#phone", "0912 345 678")
    page.select_option("#department_id", label="Cục Quản lý xuất nhập cảnh")
    post_by(page, lambda: page.click("[data-step=walk-in] button[type=submit]"))
    page.wait_for_selector("[data-step=walk-in-check]")  # the details to check (issue 22)
    post_by(page, lambda: page.click("[data-step=walk-in-check] button.button-primary"))
    answer_questionnaire(page)
    page.wait_for_selector("[data-step=ticket]")
    assert page.locator("[data-queue-number]").inner_text() == "2"
    page.click("text=Xong")
    page.wait_for_selector("[data-step=start]")

    # The language toggle: a plain form, whose answer loads the kiosk page again. The old page has a
    # start screen too (in Vietnamese): wait for the new one to load.
    with page.expect_navigation():
        post_by(page, lambda: page.click("button.lang-button[value=en]"))
    page.wait_for_selector("[data-step=start]")
    assert "Scan the QR code on your pass" in page.locator(".scan-label").inner_text()
    assert refusals.items == []
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert response.headers["referrer-policy"] == "same-origin"
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["lang"]["secure"] and cookies["lang"]["value"] == "en"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)
                                 .where(Visit.checked_in_at.is_not(None))) == 2


def test_nurse_signs_in_and_decides_over_https(https_server, app, new_context):
    url = https_server["url"]
    number = check_in(app, pick_donor(app, "XNC"), "XNC")
    context, refusals = https_context(new_context, LAPTOP)
    page = context.new_page()
    sign_in(page, url, "yta", NURSE_PASSWORD)
    assert page.locator(".who").inner_text() == "Y tá Nguyễn Thị Hạnh"
    _open_donor(page, url, number)
    fill_vitals(page)
    wait_for_suggestion(page, "eligible")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-1]")
    with page.expect_navigation():
        post_by(page, lambda: page.click("#decision-submit"))
    page.wait_for_selector("#decision")
    assert "350 ml" in page.locator(".decision-summary").inner_text()
    assert refusals.items == []
    session = next(c for c in context.cookies() if c["name"] == "kiosk_session")
    assert session["secure"] and session["httpOnly"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 1


def _open_donor(page, url: str, number: int):
    page.goto(f"{url}/nurse/XNC")
    page.fill("#query", str(number))
    with page.expect_navigation():  # loaded, with the script that sends the vitals for a suggestion
        page.press("#query", "Enter")
    page.wait_for_selector(".donor-head")


def test_organiser_signs_in_and_adds_a_site_over_https(https_server, app, new_context):
    url = https_server["url"]
    context, refusals = https_context(new_context, LAPTOP)
    page = context.new_page()
    sign_in(page, url, "bantochuc", ORGANISER_PASSWORD)
    add_a_site(page)
    assert refusals.items == []
    with app.app_context():
        assert db.session.scalars(sa.select(Site).where(Site.code == "PC08")).one().name == "Hội trường Phòng PC08"


def add_a_site(page):
    with page.expect_navigation():
        page.click("nav.console-nav >> text=Điểm hiến máu")
    page.fill("#code", "PC08")
    page.fill("#name", "Hội trường Phòng PC08")
    page.fill("#address", "47 Phạm Văn Đồng, Hà Nội")
    # The POST's answer is a redirect: the page it leads to may not be there yet when post_by returns.
    with page.expect_navigation():
        post_by(page, lambda: page.click("#site-add-submit"))
    assert page.locator("td", has_text="Hội trường Phòng PC08").count() == 1


NGINX_CONF = """\
worker_processes 1;
{user}
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


@pytest.fixture
def behind_nginx(app, demo, tmp_path):
    """gunicorn on plain HTTP with KIOSK_PROXY_FIX, and Debian's nginx in front of it terminating
    TLS with the certificate `kiosk serve --https` makes; nginx runs in the foreground, from a
    config of the test's own, and is stopped with the test."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: tools/test.sh installs it (apt-get install nginx-light)")
    upstream, port = free_port(), free_port()
    url = f"https://127.0.0.1:{port}"
    instance = tmp_path / "served"
    instance.mkdir()
    app_server = Served("gunicorn", gunicorn_command("127.0.0.1", upstream, workers=2, threads=4),
                        _server_env(app, instance, url, PROXY_FIX="true"), tmp_path)
    app_server.wait_for(f"http://127.0.0.1:{upstream}/healthz")
    certificate = ensure_certificate(instance / "tls", *machine_names(socket.gethostname(), []))
    folder = tmp_path / "nginx"
    folder.mkdir()
    # As root, nginx's workers would become `nobody`, who cannot enter the test's private tmp_path.
    user = "user root;" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(NGINX_CONF.format(user=user, folder=folder, port=port, upstream=upstream,
                                                         certificate=certificate.cert_path,
                                                         key=certificate.key_path))
    proxy = Served("nginx", [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                             str(folder / "nginx-error.log"), "-g", "daemon off;"], dict(os.environ), tmp_path)
    proxy.wait_for(url + "/healthz", certificate.cert_path)
    yield {"url": url}
    proxy.stop()
    app_server.stop()


def test_through_nginx_terminating_tls_sign_in_posts_hsts_and_secure_cookies(behind_nginx, app, new_context):
    url = behind_nginx["url"]
    number = check_in(app, pick_donor(app, "XNC"), "XNC")
    context, refusals = https_context(new_context, LAPTOP)
    page = context.new_page()
    response = page.goto(f"{url}/auth/sign-in")
    # gunicorn saw plain HTTP; ProxyFix believed nginx's X-Forwarded-Proto.
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    sign_in(page, url, "yta", NURSE_PASSWORD)
    _open_donor(page, url, number)
    fill_vitals(page)
    wait_for_suggestion(page, "eligible")
    page.click("label[for=decision-0]")
    page.click("label[for=volume_ml-1]")
    with page.expect_navigation():
        post_by(page, lambda: page.click("#decision-submit"))
    page.wait_for_selector("#decision")
    # wait_for_load_state() once the POST is answered could still find the old page loaded (lang=vi).
    with page.expect_navigation():
        post_by(page, lambda: page.click("button.lang-button[value=en]"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert refusals.items == []
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["kiosk_session"]["secure"] and cookies["lang"]["secure"]
    assert all(c["secure"] for c in cookies.values()), cookies
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 1
