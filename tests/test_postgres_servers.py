"""Several app servers on one database, as a campaign runs them behind a reverse proxy.

Two gunicorn servers (each with its own instance folder, as on two machines, and the same
secret key) serve the test's database: in the PostgreSQL pass a PostgreSQL database, in the
SQLite pass one SQLite file (two servers on one machine, which works too). Tablets send each
request to either server, as a round-robin proxy would; the queue numbers are distinct and
consecutive across both, a retry through the other server records nothing new, and both
servers' hall displays show the same figures. An organiser's roster upload is confirmed through
the other server, and a PDF built on one is followed and fetched on the other: no state is
kept on a server's disk, so the proxy needs no sticky routing."""
from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog, Department, Site, TallyCounter, Visit
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.tokens import new_nonce
from tests.conftest import ORGANISER_PASSWORD, SAMPLE_ROSTER
from tests.support.client import Client, expect
from tests.support.flows import sign_in
from tests.support.server import Server, environment

pytestmark = pytest.mark.slow  # two gunicorn servers

DONORS = 12


def start_server(database_url: str, instance: Path) -> Server:
    """`kiosk serve`'s gunicorn on a port of its own, with its own instance folder (not waited for)."""
    instance.mkdir()
    server = Server(instance / "server.log", workers=2, threads=4,
                    env=environment(KIOSK_INSTANCE_PATH=str(instance), KIOSK_SECRET_KEY="same-on-every-server",
                                    KIOSK_DATABASE_URL=database_url,
                                    # The same on every server, as deploying.md asks (pass links, a PDF's freshness).
                                    KIOSK_BASE_URL="https://hienmau.example.vn"))
    return server.start(wait=False)


@pytest.fixture
def servers(app, demo, tmp_path):
    """Two servers on the test's database (started together, then waited for)."""
    with ExitStack() as stack:
        pair = []
        for name in ("server-a", "server-b"):
            server = start_server(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / name)
            stack.callback(server.stop)
            pair.append(server)
        for server in pair:
            server.wait_until_ready()
        yield pair


class Tablet:
    """A kiosk tablet behind the proxy: its cookies and CSRF token, and a server for each request.

    Cookies are kept per host, not per port, so the session cookie the tablet got from one
    server goes to the other too, as it would through one proxy address."""

    def __init__(self, first_server: Server):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(first_server.url + "/kiosk/XNC", timeout=10).read().decode()
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def post(self, server: Server, path: str, data: dict) -> str:
        request = urllib.request.Request(server.url + path, data=urllib.parse.urlencode(data).encode(),
                                         headers={"HX-Request": "true", "X-CSRFToken": self.csrf})
        with self.opener.open(request, timeout=30) as response:
            assert response.status == 200
            return response.read().decode()


def display_data(server: Server, path: str = "/display/data", **query) -> tuple[int, dict | None]:
    url = server.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
        return response.status, json.loads(body) if body else None


def scanned_at_one_server(app, server_a: Server, server_b: Server) -> list[tuple[Tablet, Server, dict]]:
    """Each of DONORS donors scans at one server, alternately; returns their tablet, the other
    server (where they will finish the questionnaire) and the questionnaire's last form."""
    questionnaire = load_questionnaire()
    with app.app_context():
        visits = db.session.scalars(sa.select(Visit).join(Site).where(Site.code == "XNC")
                                    .order_by(Visit.id).limit(DONORS)).all()
        donors = [(visit.token, visit.donor.sex) for visit in visits]
    assert len(donors) == DONORS
    prepared = []
    for index, (token, sex) in enumerate(donors):
        scan_at, finish_at = (server_a, server_b) if index % 2 == 0 else (server_b, server_a)
        tablet = Tablet(scan_at)
        page = tablet.post(scan_at, "/kiosk/XNC/scan", {"pass_code": token, "nonce": new_nonce()})
        found = re.search(r'name="ks" value="([^"]+)"', page)
        assert found, page[:2000]
        answers = {item.id: "no" for item in questionnaire.items_for(sex)} | {"consent": "yes"}
        form = {"ks": found.group(1), "step": str(len(questionnaire.groups_for(sex)) - 1), "action": "next",
                "nonce": new_nonce(), **answers}
        prepared.append((tablet, finish_at, form))
    return prepared


def checked_in_at_once(prepared: list[tuple[Tablet, Server, dict]]) -> dict[int, int]:
    """Every prepared donor sends the last form at the same instant; returns index -> queue number."""
    start = threading.Barrier(len(prepared))
    numbers: dict[int, int] = {}
    errors: list[BaseException] = []

    def check_in(index: int) -> None:
        tablet, server, form = prepared[index]
        try:
            start.wait()
            page = tablet.post(server, "/kiosk/XNC/questionnaire", form)
            numbers[index] = int(re.search(r"data-queue-number>(\d+)<", page).group(1))
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=check_in, args=(index,)) for index in range(len(prepared))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    return numbers


def test_two_servers_on_one_database_give_one_queue_and_one_display(app, servers):
    server_a, server_b = servers
    # Each donor scans at one server and finishes the questionnaire at the other.
    prepared = scanned_at_one_server(app, server_a, server_b)
    # All check in at the same instant, half through each server.
    numbers = checked_in_at_once(prepared)
    assert sorted(numbers.values()) == list(range(1, DONORS + 1))
    by_server = {server.port: sorted(numbers[i] for i, (_t, s, _f) in enumerate(prepared) if s is server)
                 for server in servers}
    assert all(len(given) == DONORS // 2 for given in by_server.values())

    # A tablet that lost the answer retries through the other server: the same ticket, nothing new.
    tablet, server, form = prepared[0]
    other = server_b if server is server_a else server_a
    page = tablet.post(other, "/kiosk/XNC/questionnaire", form)
    assert int(re.search(r"data-queue-number>(\d+)<", page).group(1)) == numbers[0]

    # Both halls show the same figures, for the drive and for the site.
    for path in ("/display/data", "/display/XNC/data"):
        status_a, shown_a = display_data(server_a, path)
        status_b, shown_b = display_data(server_b, path)
        assert (status_a, status_b) == (200, 200)
        assert shown_a == shown_b
        assert shown_a["checked_in"] == DONORS
        # A display that has server A's revision is up to date on server B too (one revision, in the database).
        assert display_data(server_b, path, drive=shown_a["drive_id"], rev=shown_a["revision"])[0] == 204

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.sum(TallyCounter.checked_in))) == DONORS
        stored = db.session.scalars(sa.select(Visit.queue_number).where(Visit.queue_number.is_not(None))).all()
        assert sorted(stored) == list(range(1, DONORS + 1))
    # Both servers did their share of the work, and neither logged a URL.
    for server in servers:
        server.stop()  # gunicorn's access log is buffered: all of it is written once the server has stopped
        log = server.log()
        assert log.count('"POST"') >= DONORS
        assert "/kiosk/" not in log and "/p/" not in log


# ----- the organiser's console behind the same proxy ---------------------------------------------

@pytest.fixture
def organiser(servers):
    """One organiser's browser, signed in through server A; its cookies go to B as well (one proxy
    address, one cookie jar)."""
    through_a, through_b = Client(servers[0].url), Client(servers[1].url)
    sign_in(through_a, "bantochuc", ORGANISER_PASSWORD)
    through_b.cookies = through_a.cookies
    yield through_a, through_b
    through_a.close()
    through_b.close()


def multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "----kiosk-two-servers"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
             for key, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def visits_of(app, drive_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Visit.id)).where(Visit.drive_id == drive_id))


def test_a_roster_uploaded_through_one_server_is_confirmed_through_the_other(app, demo, organiser):
    through_a, through_b = organiser
    drive_id = demo["drive_id"]
    csrf = csrf_of(expect(through_a.get(f"/admin/drives/{drive_id}/roster"), 200, what="roster page").text)
    lines = SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines()[:12]  # the header and 11 donors
    body, headers = multipart({"csrf_token": csrf}, "roster", "danh-sach.csv", "\n".join(lines).encode("utf-8"))
    preview = expect(through_a.request("POST", f"/admin/drives/{drive_id}/roster", body=body, headers=headers),
                     200, what="upload").text
    good = int(re.search(r'id="roster-good">(\d+)<', preview).group(1))
    upload_id = re.search(r'name="upload_id" type="hidden" value="([^"]+)"', preview).group(1)
    before = visits_of(app, drive_id)

    confirmed = expect(through_b.post(f"/admin/drives/{drive_id}/roster/confirm",
                                      {"csrf_token": csrf, "upload_id": upload_id}), 303, what="confirm")
    assert confirmed.location.endswith(f"/admin/drives/{drive_id}/passes")  # not "the upload has expired"
    assert visits_of(app, drive_id) == before + good > before
    # Confirmed once: the upload is gone from both servers.
    again = expect(through_a.post(f"/admin/drives/{drive_id}/roster/confirm",
                                  {"csrf_token": csrf, "upload_id": upload_id}), 303, what="confirm again")
    assert again.location.endswith(f"/admin/drives/{drive_id}/roster")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))
                                 .where(AuditLog.action == "roster_imported")) == 1


def test_a_pdf_built_on_one_server_is_followed_and_fetched_on_the_other(app, demo, organiser):
    through_a, through_b = organiser
    drive_id = demo["drive_id"]
    with app.app_context():
        department_id = db.session.scalar(sa.select(Department.id).where(Department.name == "Cục Kỹ thuật nghiệp vụ"))
    csrf = csrf_of(expect(through_a.get(f"/admin/drives/{drive_id}/passes"), 200, what="passes page").text)
    htmx = {"HX-Request": "true"}
    expect(through_a.post(f"/passes/drives/{drive_id}/pdf", {"csrf_token": csrf, "department": str(department_id)},
                          headers=htmx), 200, what="start the PDF")
    # Server B follows the build server A runs (every poll through B), then serves the file.
    status = f"/passes/drives/{drive_id}/pdf?department={department_id}"
    deadline = time.monotonic() + 60
    while "Tải PDF" not in (page := expect(through_b.get(status, headers=htmx), 200, what="progress").text):
        assert "<progress" in page, page[:2000]  # building, as B sees it (not "make a PDF")
        assert time.monotonic() < deadline, "the PDF was not made in a minute"
        time.sleep(0.2)
    download = through_b.request("GET", f"/passes/drives/{drive_id}/passes.pdf?department={department_id}")
    assert download.status == 200 and download.headers["content-type"] == "application/pdf"
    assert download.text.startswith("%PDF-")
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.action.like("pass_pdf_%"))
                                          .order_by(AuditLog.id)))
    assert actions == ["pass_pdf_built", "pass_pdf_downloaded"]
