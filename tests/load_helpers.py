"""Shared by the load and crash tests and their full-length scripts in bench/: a drive on a
temporary instance, gunicorn serving it in a process group of its own (so that `kill -9` takes
the master and its workers at once), plain HTTP clients with cookies and CSRF tokens, the
kiosk's and the nurse's ways through the app, figures, and the check that the database holds
exactly what the clients were told.

Standard library only (http.client): the clients must see every status as it is, redirects
and errors included, and a dropped connection as an exception."""
from __future__ import annotations

import datetime as dt
import http.client
import http.cookies
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the bench scripts import this file from outside pytest
    sys.path.insert(0, str(ROOT))

NURSE_PASSWORD = "y-ta-tai-khoan-tai-1"
GOOD_VITALS = {"weight_kg": "62", "systolic_mmhg": "120", "diastolic_mmhg": "80", "pulse_per_min": "76",
               "haemoglobin_g_l": "140", "temperature_c": "36,8", "hbsag": "negative"}
# The server's log must never hold these (a lock that busy_timeout did not absorb, an unhandled error).
BAD_LOG_LINES = ("database is locked", "Traceback", "Unhandled error", "[CRITICAL]", "WORKER TIMEOUT")


def nonce() -> str:
    return secrets.token_urlsafe(16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----- the drive ---------------------------------------------------------------------------

@dataclass
class Drive:
    directory: Path
    database_url: str
    drive_id: int
    sites: tuple[str, ...]
    nurses: list[str]  # usernames, all with NURSE_PASSWORD
    donors: dict[str, list[tuple[str, str]]]  # site code -> [(pass token, sex)] of registered visits

    @property
    def database_path(self) -> Path:
        return Path(sa.make_url(self.database_url).database)


def build_drive(directory: Path, *, extra_donors: int = 0, nurses: int = 4, template: Optional[Path] = None) -> Drive:
    """The demo drive (open today, two sites) on a new SQLite database in `directory`, with
    `extra_donors` more donors on its roster and `nurses` nurse accounts (nurse1..nurseN).

    `template`: a migrated database to copy (the suite's), else the migrations are run."""
    import shutil

    from kiosk import create_app
    from kiosk.auth import hash_password
    from kiosk.roster.demo import demo_rows, load_demo
    from kiosk.extensions import db
    from kiosk.formatting import local_today
    from kiosk.models import Drive as DriveRow, Site, Staff, StaffRole, Visit, VisitStatus
    from kiosk.roster.parser import ParsedRoster
    from kiosk.roster.importer import import_roster

    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "kiosk.sqlite3"
    url = f"sqlite:///{database}"
    app = create_app({"TESTING": True, "SECRET_KEY": "load-tests", "INSTANCE_PATH": str(directory),
                      "SQLALCHEMY_DATABASE_URI": url, "BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        if template is not None:
            db.engine.dispose()
            shutil.copy(template, database)
        else:
            from flask_migrate import upgrade

            upgrade(directory=app.extensions["migrate"].directory)
        today = local_today()
        load_demo(db.session, app.instance_path, today)
        drive = db.session.scalars(sa.select(DriveRow)).one()
        if extra_donors:
            import_roster(db.session, ParsedRoster(rows=demo_rows(today, count=extra_donors, seed=7)), drive=drive)
        password_hash = hash_password(NURSE_PASSWORD)
        usernames = [f"nurse{n}" for n in range(1, nurses + 1)]
        for username in usernames:
            db.session.add(Staff(username=username, display_name=f"Y tá {username}", role=StaffRole.NURSE,
                                 password_hash=password_hash))
        db.session.commit()
        donors: dict[str, list[tuple[str, str]]] = {}
        for code in ("XNC", "CSCD"):
            rows = db.session.execute(
                sa.select(Visit.token, Visit.donor_id).join(Site, Site.id == Visit.site_id)
                .where(Site.code == code, Visit.status == VisitStatus.REGISTERED).order_by(Visit.id)).all()
            sexes = {v.donor_id: v.donor.sex for v in db.session.scalars(
                sa.select(Visit).join(Site, Site.id == Visit.site_id).where(Site.code == code))}
            donors[code] = [(token, sexes[donor_id]) for token, donor_id in rows]
        drive_id = drive.id
        db.session.remove()
        db.engine.dispose()
    return Drive(directory=directory, database_url=url, drive_id=drive_id, sites=("XNC", "CSCD"), nurses=usernames,
                 donors=donors)


# ----- the server --------------------------------------------------------------------------

class Server:
    """gunicorn (kiosk.cli.gunicorn_command) on 127.0.0.1, in its own session and process group."""

    def __init__(self, drive: Drive, *, workers: int = 3, threads: int = 4, port: Optional[int] = None):
        self.drive = drive
        self.workers, self.threads = workers, threads
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = drive.directory / "server.log"
        self.process: Optional[subprocess.Popen] = None
        self.starts = 0

    def start(self, timeout: float = 30) -> None:
        from kiosk.cli import gunicorn_command

        env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_")}
        env.update({"KIOSK_INSTANCE_PATH": str(self.drive.directory), "KIOSK_SECRET_KEY": "load-tests",
                    "KIOSK_DATABASE_URL": self.drive.database_url, "KIOSK_BASE_URL": self.url,
                    "PYTHONPATH": str(ROOT)})
        log = self.log_path.open("ab")
        log.write(f"\n=== start {self.starts + 1} ===\n".encode())
        log.flush()
        self.process = subprocess.Popen(gunicorn_command("127.0.0.1", self.port, self.workers, self.threads),
                                        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                        start_new_session=True)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError("gunicorn did not start: " + self.log()[-3000:])
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9 the master and every worker (the whole process group), as a power cut would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self._wait_group_gone(self.process.pid)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._wait_group_gone(self.process.pid)
        self.process = None

    @staticmethod
    def _wait_group_gone(group: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def bad_log_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if any(bad in line for bad in BAD_LOG_LINES)]

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ----- clients -----------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    text: str
    headers: dict[str, str]
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Stats:
    """Every request's kind, status and latency, from many threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.samples: list[tuple[str, int, float]] = []
        self.failures: list[str] = []
        self.started = time.monotonic()
        self.ended: Optional[float] = None

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.samples.append((kind, status, seconds))

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)

    def stop(self) -> None:
        self.ended = time.monotonic()

    @staticmethod
    def percentile(values: list[float], fraction: float) -> float:
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]

    def summary(self) -> dict[str, Any]:
        elapsed = (self.ended or time.monotonic()) - self.started
        kinds: dict[str, list[float]] = {}
        for kind, _status, seconds in self.samples:
            kinds.setdefault(kind, []).append(seconds)
        everything = [s for _k, _st, s in self.samples]
        return {
            "seconds": elapsed, "requests": len(self.samples),
            "per_second": len(self.samples) / elapsed if elapsed else 0.0,
            "server_errors": sum(1 for _k, status, _s in self.samples if status >= 500),
            "p50_ms": 1000 * self.percentile(everything, 0.5), "p95_ms": 1000 * self.percentile(everything, 0.95),
            "p99_ms": 1000 * self.percentile(everything, 0.99), "max_ms": 1000 * max(everything, default=0),
            "by_kind": {kind: {"requests": len(values), "p50_ms": 1000 * self.percentile(values, 0.5),
                               "p95_ms": 1000 * self.percentile(values, 0.95)}
                        for kind, values in sorted(kinds.items())},
        }


class Client:
    """One browser or tablet: its own cookies and keep-alive connection; redirects are not followed."""

    CSRF = re.compile(r'name="csrf[-_]token"[^>]*(?:content|value)="([^"]+)"')

    def __init__(self, base_url: str, stats: Optional[Stats] = None, timeout: float = 30):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port
        self.stats = stats
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.connection: Optional[http.client.HTTPConnection] = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, data: Optional[dict] = None, *, kind: str = "",
                headers: Optional[dict] = None, body: Optional[bytes] = None) -> Response:
        all_headers = {"Accept-Language": "vi"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        if method != "GET" and self.csrf:
            all_headers["X-CSRFToken"] = self.csrf
        all_headers.update(headers or {})
        started = time.perf_counter()
        try:
            connection = self._connection()
            connection.request(method, path, body=body, headers=all_headers)
            raw = connection.getresponse()
            text = raw.read().decode("utf-8", errors="replace")
        except http.client.HTTPException as error:  # a connection cut mid-answer (IncompleteRead, ...)
            self.close()
            raise ConnectionError(repr(error)) from error
        except Exception:
            self.close()
            raise
        seconds = time.perf_counter() - started
        for header, value in raw.getheaders():
            if header.lower() == "set-cookie":
                cookie = http.cookies.SimpleCookie()
                cookie.load(value)
                for name, morsel in cookie.items():
                    self.cookies[name] = morsel.value
        if raw.getheader("Connection", "").lower() == "close":
            self.close()
        found = self.CSRF.search(text)
        if found:
            self.csrf = found.group(1)
        response = Response(raw.status, text, {k.lower(): v for k, v in raw.getheaders()}, seconds)
        if self.stats is not None and kind:
            self.stats.add(kind, raw.status, seconds)
        return response

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> Response:
        return self.request("POST", path, data, **kwargs)


class Unexpected(Exception):
    """A status or page that the step did not expect (a failure of the run, not of the network)."""


def expect(response: Response, *statuses: int, what: str = "") -> Response:
    if response.status not in statuses:
        raise Unexpected(f"{what}: {response.status} (expected {statuses}): {response.text[:300]!r}")
    return response


# ----- the kiosk's way ---------------------------------------------------------------------

def answers_for(sex: str) -> dict[str, str]:
    from kiosk.screening.questionnaire import load_questionnaire

    return {item.id: "yes" if item.must_be_yes else "no" for item in load_questionnaire().items_for(sex)}


def last_step(sex: str) -> int:
    from kiosk.screening.questionnaire import load_questionnaire

    return len(load_questionnaire().groups_for(sex)) - 1


QUEUE_NUMBER = re.compile(r"data-queue-number>(\d+)<")
KIOSK_SESSION = re.compile(r'name="ks" value="([^"]+)"')


def kiosk_check_in(tablet: Client, site: str, token: str, sex: str, *, retry: bool = False) -> int:
    """Scan -> confirm -> the questionnaire's last step with every answer, as a tablet does (htmx).
    Returns the queue number on the ticket. With `retry`, the last request is sent twice (a
    lost answer on the Wi-Fi) and must give the same ticket."""
    htmx = {"HX-Request": "true"}
    if not tablet.csrf:
        expect(tablet.get(f"/kiosk/{site}", kind="kiosk page"), 200, what="kiosk page")
    page = expect(tablet.post(f"/kiosk/{site}/scan", {"code": token, "nonce": nonce()}, headers=htmx, kind="scan"),
                  200, what="scan").text
    found = KIOSK_SESSION.search(page)
    if not found:
        raise Unexpected(f"scan gave no kiosk session: {page[:300]!r}")
    ks = found.group(1)
    expect(tablet.post(f"/kiosk/{site}/confirm", {"ks": ks, "nonce": nonce()}, headers=htmx, kind="confirm"),
           200, what="confirm")
    form = {"ks": ks, "step": str(last_step(sex)), "action": "next", "nonce": nonce(), **answers_for(sex)}
    page = expect(tablet.post(f"/kiosk/{site}/questionnaire", form, headers=htmx, kind="check-in"), 200,
                  what="check-in").text
    number = QUEUE_NUMBER.search(page)
    if not number:
        raise Unexpected(f"no ticket: {page[:300]!r}")
    if retry:
        again = expect(tablet.post(f"/kiosk/{site}/questionnaire", form, headers=htmx, kind="check-in retry"), 200,
                       what="check-in retry").text
        number_again = QUEUE_NUMBER.search(again)
        if not number_again or number_again.group(1) != number.group(1):
            raise Unexpected(f"a retried check-in gave another ticket: {number.group(1)} then "
                             f"{number_again.group(1) if number_again else again[:200]!r}")
    return int(number.group(1))


# ----- the nurse's way ---------------------------------------------------------------------

def sign_in(client: Client, username: str, password: str = NURSE_PASSWORD) -> None:
    expect(client.get("/auth/sign-in"), 200, what="sign-in page")
    expect(client.post("/auth/sign-in", {"username": username, "password": password, "csrf_token": client.csrf}),
           303, what=f"sign in {username}")


def hidden_value(page: str, form_id: str, name: str) -> str:
    form = re.search(r'<form[^>]*id="%s".*?</form>' % re.escape(form_id), page, re.S)
    if not form:
        raise Unexpected(f"no form #{form_id} on the page")
    return re.search(r'name="%s" value="([^"]*)"' % re.escape(name), form.group(0)).group(1)


VISIT_URL = re.compile(r"/nurse/\w+/visit/(\d+)$")


@dataclass
class NurseResult:
    """What the nurse was told, filled in step by step (a step that fails leaves the rest False)."""
    visit_id: int
    bag_number: str
    volume_ml: Optional[int] = 350  # None: a correction to 450 ml was sent and not answered
    decided: bool = False
    donated: bool = False
    donation_id: Optional[int] = None
    corrected: bool = False
    retried: list[str] = field(default_factory=list)


def nurse_find(nurse: Client, site: str, queue_number: int) -> int:
    """The nurse types the donor's queue number: the visit's id."""
    page = expect(nurse.get(f"/nurse/{site}", kind="nurse queue"), 200, what="queue").text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    found = expect(nurse.post(f"/nurse/{site}/find", {"csrf_token": csrf, "query": str(queue_number)}, kind="find"),
                   303, what="find")
    match = VISIT_URL.search(urllib.parse.urlsplit(found.location).path)
    if not match:
        raise Unexpected(f"find led to {found.location!r}")
    return int(match.group(1))


def nurse_accept_and_bleed(nurse: Client, site: str, result: NurseResult, *, retry_decision: bool = False,
                           retry_donation: bool = False, correct: bool = False) -> NurseResult:
    """Open the donor, accept with 350 ml, record the donation; optionally send a request twice
    with the same nonce, and correct the donation's volume to 450 ml afterwards."""
    url = f"/nurse/{site}/visit/{result.visit_id}"
    page = expect(nurse.get(url, kind="nurse open"), 200, what="open donor").text
    decision = {"csrf_token": hidden_value(page, "screening-form", "csrf_token"), "nonce": nonce(),
                "expected_version": hidden_value(page, "screening-form", "expected_version"), **GOOD_VITALS,
                "decision": "accepted", "volume_ml": "350",
                "override_reason": "Bác sĩ đã khám lại và đồng ý"}  # used only if the rules say otherwise
    expect(nurse.post(url + "/decision", decision, kind="decision"), 303, what="decision")
    result.decided = True
    if retry_decision:
        expect(nurse.post(url + "/decision", decision, kind="decision retry"), 303, what="decision retry")
        result.retried.append("decision")
    page = expect(nurse.get(url, kind="nurse open"), 200, what="donor after decision").text
    donation = {"csrf_token": hidden_value(page, "donation-form", "csrf_token"), "nonce": nonce(),
                "expected_version": hidden_value(page, "donation-form", "expected_version"),
                "volume_ml": "350", "bag_number": result.bag_number, "outcome": "completed", "reaction": "none",
                "reaction_note": ""}
    expect(nurse.post(url + "/donation", donation, kind="donation"), 303, what="donation")
    result.donated = True
    if retry_donation:
        expect(nurse.post(url + "/donation", donation, kind="donation retry"), 303, what="donation retry")
        result.retried.append("donation")
    if correct:
        page = expect(nurse.get(url, kind="nurse open"), 200, what="donor after donation").text
        action = re.search(r'action="(/nurse/\w+/visit/\d+/donation/(\d+)/correct)"', page)
        if not action:
            raise Unexpected("no correction form after the donation")
        result.donation_id = int(action.group(2))
        correction = {"csrf_token": hidden_value(page, "correct-donation-form", "csrf_token"), "nonce": nonce(),
                      "expected_version": hidden_value(page, "correct-donation-form", "expected_version"),
                      "volume_ml": "450", "bag_number": result.bag_number, "outcome": "completed", "reaction": "none",
                      "reaction_note": "", "correction_reason": "Ghi nhầm thể tích"}
        # Told or not, the volume is 450 ml if the correction committed: the check accepts either
        # until the answer comes (a crash may take the answer away).
        result.volume_ml = None
        expect(nurse.post(action.group(1), correction, kind="correction"), 303, what="correction")
        result.volume_ml, result.corrected = 450, True
    return result


# ----- what the database must hold ---------------------------------------------------------

def integrity(database: Path) -> str:
    connection = sqlite3.connect(database, timeout=30)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def database_problems(drive: Drive, *, checked_in: dict[str, tuple[str, int]], donations: dict[str, NurseResult],
                      decided: set[int] = frozenset(), exact: bool = True) -> list[str]:
    """What is wrong in the database, given what the clients were told.

    checked_in: pass token -> (site code, queue number) of every check-in answered with a ticket;
    donations: bag number -> what the nurse was told was recorded; decided: visit ids whose
    decision was answered with success. With `exact`, nothing beyond those may be recorded (no
    phantom writes); a crash test, whose last requests may have been committed without an
    answer, sets it False."""
    from kiosk import create_app, tally
    from kiosk.extensions import db
    from kiosk.models import Donation, Screening, Site, Visit

    problems: list[str] = []
    result = integrity(drive.database_path)
    if result != "ok":
        problems.append(f"PRAGMA integrity_check: {result}")
    app = create_app({"TESTING": True, "SECRET_KEY": "check", "INSTANCE_PATH": str(drive.directory),
                      "SQLALCHEMY_DATABASE_URI": drive.database_url, "BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        try:
            visits = {v.token: v for v in db.session.scalars(sa.select(Visit).where(Visit.drive_id == drive.drive_id))}
            codes = dict(db.session.execute(sa.select(Site.id, Site.code)).all())
            for token, (site, number) in checked_in.items():
                visit = visits.get(token)
                if visit is None or visit.checked_in_at is None:
                    problems.append(f"a check-in answered with ticket {site}-{number} is not in the database")
                elif (codes.get(visit.site_id), visit.queue_number) != (site, number):
                    problems.append(f"ticket {site}-{number} was told, the database says "
                                    f"{codes.get(visit.site_id)}-{visit.queue_number}")
            numbers = db.session.execute(
                sa.select(Visit.site_id, Visit.queue_number, sa.func.count()).where(
                    Visit.drive_id == drive.drive_id, Visit.queue_number.is_not(None))
                .group_by(Visit.site_id, Visit.queue_number).having(sa.func.count() > 1)).all()
            problems += [f"queue number {codes.get(s)}-{n} given {c} times" for s, n, c in numbers]
            checked_in_rows = sum(1 for v in visits.values() if v.checked_in_at is not None)
            if exact and checked_in_rows != len(checked_in):
                problems.append(f"{checked_in_rows} visits checked in, {len(checked_in)} tickets given")
            for site_id, code in codes.items():
                given = sorted(v.queue_number for v in visits.values() if v.site_id == site_id and v.queue_number)
                if given != list(range(1, len(given) + 1)):
                    problems.append(f"queue numbers at {code} are not 1..{len(given)} without gaps")

            rows = {d.bag_number: d for d in db.session.scalars(
                sa.select(Donation).where(Donation.drive_id == drive.drive_id))}
            for bag, told in donations.items():
                row = rows.get(bag)
                if row is None or row.voided:
                    problems.append(f"donation with bag {bag} was answered with success and is not in the database")
                    continue
                if row.visit_id != told.visit_id or row.volume_ml not in ((350, 450) if told.volume_ml is None
                                                                          else (told.volume_ml,)):
                    problems.append(f"bag {bag}: told visit {told.visit_id} {told.volume_ml} ml, the database has "
                                    f"visit {row.visit_id} {row.volume_ml} ml")
            per_visit = db.session.execute(
                sa.select(Donation.visit_id, sa.func.count()).where(Donation.drive_id == drive.drive_id,
                                                                    Donation.voided.is_(False))
                .group_by(Donation.visit_id).having(sa.func.count() > 1)).all()
            problems += [f"visit {visit_id} has {count} donations" for visit_id, count in per_visit]
            if exact and len(rows) != len(donations):
                problems.append(f"{len(rows)} donations in the database, {len(donations)} answered with success")
            screenings = db.session.execute(
                sa.select(Screening.visit_id, sa.func.count()).join(Visit, Visit.id == Screening.visit_id)
                .where(Visit.drive_id == drive.drive_id).group_by(Screening.visit_id)).all()
            problems += [f"visit {visit_id} has {count} screenings" for visit_id, count in screenings if count > 1]
            screened = {visit_id for visit_id, _count in screenings}
            problems += [f"a decision answered with success for visit {v} is not in the database"
                         for v in sorted(set(decided) - screened)]
            if exact and len(screened) != len(decided | {t.visit_id for t in donations.values()}):
                problems.append(f"{len(screened)} visits screened, "
                                f"{len(decided | {t.visit_id for t in donations.values()})} decisions answered")

            shown = tally.snapshot(db.session, drive.drive_id)
            counted = tally.count_from_rows(db.session, drive.drive_id)
            if shown != counted:
                different = {k: (shown[k], counted[k]) for k in shown if shown[k] != counted.get(k)}
                problems.append(f"tally differs from the rows (counters, rows): {different}")
        finally:
            db.session.remove()
            db.engine.dispose()
    return problems


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['requests']} requests in {summary['seconds']:.1f} s ({summary['per_second']:.1f}/s), "
             f"{summary['server_errors']} 5xx; latency p50 {summary['p50_ms']:.0f} ms, p95 {summary['p95_ms']:.0f} ms, "
             f"p99 {summary['p99_ms']:.0f} ms, max {summary['max_ms']:.0f} ms"]
    for kind, figures in summary["by_kind"].items():
        lines.append(f"  {kind:<16} {figures['requests']:>6}  p50 {figures['p50_ms']:>6.0f} ms  "
                     f"p95 {figures['p95_ms']:>6.0f} ms")
    return "\n".join(lines)


def local_date() -> dt.date:
    from kiosk.formatting import local_today

    return local_today()


# ----- the worst minute ----------------------------------------------------------------------

@dataclass
class Ledger:
    """What the clients were told, from many threads."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    checked_in: dict[str, tuple[str, int]] = field(default_factory=dict)  # token -> (site, queue number)
    nurse_results: list[NurseResult] = field(default_factory=list)

    def donations(self) -> dict[str, NurseResult]:
        return {r.bag_number: r for r in self.nurse_results if r.donated}

    def decided(self) -> set[int]:
        return {r.visit_id for r in self.nurse_results if r.decided}


class Pool:
    """The donors not yet scanned, per site, and the checked-in donors waiting for a nurse."""

    def __init__(self, drive: Drive):
        import collections
        import queue

        self.lock = threading.Lock()
        self.unscanned = {site: collections.deque(donors) for site, donors in drive.donors.items()}
        self.waiting = {site: queue.Queue() for site in drive.donors}

    def next_donor(self, site: str) -> Optional[tuple[str, str]]:
        with self.lock:
            return self.unscanned[site].popleft() if self.unscanned[site] else None


def kiosk_worker(base_url: str, site: str, pool: Pool, ledger: Ledger, stats: Stats, stop: threading.Event,
                 rng, *, crash: bool = False, retry_rate: float = 0.1, max_donors: int = 10_000) -> None:
    tablet = Client(base_url, stats)
    try:
        for _ in range(max_donors):
            if stop.is_set():
                return
            donor = pool.next_donor(site)
            if donor is None:
                return
            token, sex = donor
            try:
                number = kiosk_check_in(tablet, site, token, sex, retry=rng.random() < retry_rate)
            except Unexpected as error:
                stats.fail(f"kiosk {site}: {error}")
                continue
            except OSError as error:
                if crash:
                    return  # the server is gone: what was not answered is not counted
                stats.fail(f"kiosk {site}: {error!r}")
                continue
            with ledger.lock:
                ledger.checked_in[token] = (site, number)
            pool.waiting[site].put(number)
    finally:
        tablet.close()


def nurse_worker(base_url: str, username: str, site: str, pool: Pool, ledger: Ledger, stats: Stats,
                 stop: threading.Event, rng, *, crash: bool = False, retry_rate: float = 0.1,
                 correct_rate: float = 0.1, max_donors: int = 10_000) -> None:
    import queue

    nurse = Client(base_url, stats)
    try:
        try:
            sign_in(nurse, username)
        except (Unexpected, OSError) as error:
            if not (crash and isinstance(error, OSError)):
                stats.fail(f"{username} sign-in: {error!r}")
            return
        for count in range(max_donors):
            if stop.is_set():
                return
            try:
                number = pool.waiting[site].get(timeout=0.1)
            except queue.Empty:
                continue
            result = None
            try:
                visit_id = nurse_find(nurse, site, number)
                result = NurseResult(visit_id=visit_id, bag_number=f"{username}-{site}-{count:05d}-{secrets.token_hex(2)}")
                with ledger.lock:
                    ledger.nurse_results.append(result)
                nurse_accept_and_bleed(nurse, site, result, retry_decision=rng.random() < retry_rate,
                                       retry_donation=rng.random() < retry_rate, correct=rng.random() < correct_rate)
            except Unexpected as error:
                stats.fail(f"{username} {site}-{number}: {error}")
            except OSError as error:
                if crash:
                    return
                stats.fail(f"{username} {site}-{number}: {error!r}")
    finally:
        nurse.close()


def display_worker(base_url: str, drive_id: int, stats: Stats, stop: threading.Event, *, interval: float = 0.25,
                   crash: bool = False, max_polls: int = 100_000) -> None:
    import json

    display = Client(base_url, stats)
    revision = -1
    try:
        for _ in range(max_polls):
            if stop.is_set():
                return
            try:
                response = display.get(f"/display/data?drive={drive_id}&rev={revision}", kind="display poll")
            except OSError as error:
                if crash:
                    return
                stats.fail(f"display: {error!r}")
                time.sleep(interval)
                continue
            if response.status == 200:
                figures = json.loads(response.text)
                if figures["revision"] < revision:
                    stats.fail(f"display: revision went back from {revision} to {figures['revision']}")
                revision = figures["revision"]
            elif response.status != 204:
                stats.fail(f"display: {response.status} {response.text[:200]!r}")
            stop.wait(interval)
    finally:
        display.close()


KIOSK_SITES = ("XNC", "XNC", "XNC", "CSCD", "CSCD")
NURSE_SITES = ("XNC", "XNC", "CSCD", "CSCD")


def run_load(server: Server, drive: Drive, pool: Pool, ledger: Ledger, stats: Stats, *, seconds: float,
             kiosks: int = 5, nurses: int = 4, displays: int = 3, seed: int = 1, crash: bool = False,
             stop: Optional[threading.Event] = None) -> list[threading.Thread]:
    """Start the worst minute's clients; they stop after `seconds` or when `stop` is set. Returns the threads."""
    import random

    stop = stop or threading.Event()
    threads = []
    for n in range(kiosks):
        threads.append(threading.Thread(target=kiosk_worker, name=f"kiosk{n}", daemon=True, args=(
            server.url, KIOSK_SITES[n % len(KIOSK_SITES)], pool, ledger, stats, stop, random.Random(seed * 100 + n)),
            kwargs={"crash": crash}))
    for n in range(nurses):
        threads.append(threading.Thread(target=nurse_worker, name=f"nurse{n}", daemon=True, args=(
            server.url, drive.nurses[n], NURSE_SITES[n % len(NURSE_SITES)], pool, ledger, stats, stop,
            random.Random(seed * 100 + 50 + n)), kwargs={"crash": crash}))
    for n in range(displays):
        threads.append(threading.Thread(target=display_worker, name=f"display{n}", daemon=True,
                                        args=(server.url, drive.drive_id, stats, stop), kwargs={"crash": crash}))
    for thread in threads:
        thread.start()
    if seconds:
        timer = threading.Timer(seconds, stop.set)
        timer.daemon = True
        timer.start()
    return threads


def join_all(threads: list[threading.Thread], timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
    return [thread.name for thread in threads if thread.is_alive()]


def worst_minute(directory: Path, *, seconds: float, workers: int = 3, extra_donors: int = 3000,
                 template: Optional[Path] = None, seed: int = 1) -> dict[str, Any]:
    """The whole run: a drive, gunicorn, the clients for `seconds`, then the checks. Returns the figures
    and `problems` (empty when all is well)."""
    drive = build_drive(directory, extra_donors=extra_donors, nurses=4, template=template)
    pool, ledger, stats = Pool(drive), Ledger(), Stats()
    server = Server(drive, workers=workers)
    server.start()
    try:
        stats.started = time.monotonic()
        threads = run_load(server, drive, pool, ledger, stats, seconds=seconds, seed=seed)
        stuck = join_all(threads, timeout=seconds + 60)
        stats.stop()
    finally:
        server.stop()
    problems = list(stats.failures)
    problems += [f"thread {name} did not finish" for name in stuck]
    summary = stats.summary()
    if summary["server_errors"]:
        problems.append(f"{summary['server_errors']} responses were 5xx")
    problems += [f"server log: {line}" for line in server.bad_log_lines()[:20]]
    problems += database_problems(drive, checked_in=ledger.checked_in, donations=ledger.donations(),
                                  decided=ledger.decided(), exact=True)
    results = ledger.nurse_results
    return {"summary": summary, "problems": problems, "check_ins": len(ledger.checked_in),
            "decisions": sum(r.decided for r in results), "donations": sum(r.donated for r in results),
            "corrections": sum(r.corrected for r in results),
            "retries": stats.summary()["by_kind"].get("check-in retry", {}).get("requests", 0)
            + sum(len(r.retried) for r in results),
            "workers": workers, "log": str(server.log_path)}


# ----- the crash test -----------------------------------------------------------------------

def warm_up(server: Server, rounds: int = 3) -> None:
    client = Client(server.url)
    try:
        for _ in range(rounds):
            for path in ("/kiosk/XNC", "/kiosk/CSCD", "/auth/sign-in", "/display"):
                client.get(path)
    finally:
        client.close()


def crash_rounds(directory: Path, *, kills: int, workers: int = 3, extra_donors: int = 3000,
                 template: Optional[Path] = None, seed: int = 1, min_load: float = 0.5,
                 max_load: float = 3.0) -> dict[str, Any]:
    """Write load (kiosk check-ins, nurse decisions and donations) against gunicorn, `kill -9` of its
    whole process group at a random moment, a restart, and the checks; `kills` times."""
    import random

    rng = random.Random(seed)
    drive = build_drive(directory, extra_donors=extra_donors, nurses=4, template=template)
    pool, ledger = Pool(drive), Ledger()
    server = Server(drive, workers=workers)
    rounds, problems, stats_all = [], [], Stats()
    server.start()
    try:
        for round_number in range(1, kills + 1):
            stats = Stats()
            stop = threading.Event()
            warm_up(server)  # so that the kill falls among writes, not among the workers' first page renders
            threads = run_load(server, drive, pool, ledger, stats, seconds=0, kiosks=3, nurses=2, displays=1,
                               seed=seed * 1000 + round_number, crash=True, stop=stop)
            load_seconds = rng.uniform(min_load, max_load)
            time.sleep(load_seconds)
            writes_before = (len(ledger.checked_in), len(ledger.donations()))
            server.kill()
            stop.set()
            stuck = join_all(threads, timeout=30)
            problems += [f"round {round_number}: thread {name} did not finish" for name in stuck]
            problems += [f"round {round_number}: {failure}" for failure in stats.failures]
            if stats.summary()["server_errors"]:
                problems.append(f"round {round_number}: {stats.summary()['server_errors']} responses were 5xx")
            stats_all.samples += stats.samples
            server.start()
            found = database_problems(drive, checked_in=dict(ledger.checked_in), donations=ledger.donations(),
                                      decided=ledger.decided(), exact=False)
            problems += [f"round {round_number}: {problem}" for problem in found]
            rounds.append({"round": round_number, "load_seconds": load_seconds, "requests": len(stats.samples),
                           "check_ins": writes_before[0], "donations": writes_before[1],
                           "problems": len(found)})
    finally:
        server.stop()
    problems += [f"server log: {line}" for line in server.bad_log_lines()[:20]]
    results = ledger.nurse_results
    return {"kills": len(rounds), "rounds": rounds, "problems": problems,
            "check_ins_verified": len(ledger.checked_in), "decisions_verified": len(ledger.decided()),
            "donations_verified": len(ledger.donations()),
            "corrections": sum(r.corrected for r in results), "requests": len(stats_all.samples),
            "workers": workers, "log": str(server.log_path)}


def exit_status(problems: list[str], ok_message: str) -> int:
    """What a bench script prints last and exits with: the problems found, or that there were none."""
    if problems:
        print(f"FAILED: {len(problems)} problems")
        for problem in problems[:50]:
            print("  " + problem)
        return 1
    print("OK: " + ok_message)
    return 0
