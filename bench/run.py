"""Every benchmark in one command: the app under load next to a bare Flask app, and the CLI timings.

    python bench/run.py [--seconds 10] [--connections 20] [--workers 2] [--threads 4] [--database postgresql]
                        [--synchronous normal] [--only KEY,...]

What it does, all on 127.0.0.1 and bounded in time:
  1. times a 10,000-row roster import and the pass sheet for 1,000 donors (bench/import_and_passes.py);
  2. makes a fresh instance (a temporary KIOSK_INSTANCE_PATH), runs `kiosk load-demo`, and prepares
     what each scenario needs straight through the domain modules: more donors on the roster,
     passes to scan, donors already checked in, donors cleared at screening (each donation gets
     its own visit and bag number), open kiosk sessions for the questionnaire;
  3. starts the app with kiosk.cli.gunicorn_command (the production settings: gthread, the
     access log without URLs) and a bare Flask app answering "ok" with exactly the same gunicorn
     command, side by side;
  4. drives each scenario for --seconds with wrk (Debian's `wrk`, apt-get installed if missing
     and allowed; Python threads otherwise) at --connections clients, checking every answer's
     status and body: a wrong answer is counted apart, never as throughput;
  5. prints one table (req/s, p50, p95, p99, ratio to the bare app, target, met?) and one of SQL
     statements per request and the SQLite writer queue's wait and hold (the app counts them when
     KIOSK_SQL_STATS_DIR is set), and writes them, with the date, the machine and its load average,
     to bench/results.md.
With --database postgresql the app runs on a new database of the durable cluster that
`tools/postgres.sh durable` starts (fsync, synchronous_commit and full_page_writes on), and the
table goes to bench/results-postgresql.md. With --synchronous normal the app runs SQLite with
KIOSK_SQLITE_SYNCHRONOUS=normal (no fsync at each commit), and the table goes to
bench/results-sqlite-normal.md.
The bare app is run for as long right before and right after each scenario, and each ratio is
to those two runs together: on a machine shared with other work, a neighbour's load then weighs
on both sides of a ratio alike (a steady change in load cancels out) instead of on whichever
scenario it happened to meet. The bare app's row shows the mean of its runs and their range."""
from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from harness import (BARE_APP, NONCE_MARK, ROOT, USER_AGENT, LoadGenerator, Result, Scenario,  # noqa: E402
                     ensure_wrk)
from tests.support.donors import GOOD_VITALS  # noqa: E402
from kiosk.cli import GUNICORN_THREADS  # noqa: E402
from kiosk.database import SQLITE_SYNCHRONOUS_MODES  # noqa: E402
from tests.support.server import Server  # noqa: E402

RESULTS_FILE = BENCH / "results.md"
SITE = "XNC"
# p99 limits (issue 14): a write queues for SQLite's one writer, so its limit is the queue's;
# the reads (the display's polls, a repeated scan) keep theirs.
WRITE_SCENARIOS = frozenset({"scan_new", "questionnaire", "decision", "donation", "decision_correct",
                             "decision_void", "donation_correct", "donation_void"})
P99_LIMIT_MS = {"write": 300.0, "read": 100.0}
# Throughput targets as a share of the bare app's, on a 2-core machine (issue 14).
RATIO_TARGETS = {"idle": 0.60, "changed": 0.30, "scan_repeat": 0.20, "donation": 0.08}
DATABASES = ("sqlite", "postgresql")
CLI_LIMIT_S = 5.0
# How many requests a write scenario may need per second of load: each needs its own target
# (a visit to check in, a donor to record a bag for). Running out is reported, not hidden.
POOL_PER_SECOND = 400
SCENARIO_KEYS = ("idle", "changed", "scan_new", "scan_repeat", "questionnaire", "decision", "donation",
                 "decision_correct", "decision_void", "donation_correct", "donation_void")
# A nurse's corrections and voids: each scenario has its own prepared decisions or donations.
CHANGE_SCENARIOS = ("decision_correct", "decision_void", "donation_correct", "donation_void")


# ----- the machine ------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def fsync_latency(folder: Path, seconds: float = 5.0) -> str:
    """The disk under the database, alone: 4 KiB appended and fsync'd in a loop, as each SQLite commit
    does (synchronous=FULL). A commit waits for its fsync while holding the writer queue, so one slow
    fsync makes every writer behind it wait: this disk's outliers are the writes' tail."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / "fsync-probe"
    times = []
    descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            os.write(descriptor, b"x" * 4096)
            started = time.perf_counter()
            os.fsync(descriptor)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(descriptor)
        probe.unlink(missing_ok=True)
    slow = sum(1 for value in times if value > 100)
    return (f"{len(times):,} fsyncs in {seconds:.0f} s: p50 {percentile(times, 0.5):.2f} ms, "
            f"p99 {percentile(times, 0.99):.2f} ms, max {max(times):.0f} ms, {slow} over 100 ms")


# ----- data ---------------------------------------------------------------------------------

def make_app(instance: Path, database_url: str = ""):
    for key in [key for key in os.environ if key.startswith("KIOSK_")]:
        del os.environ[key]
    os.environ["KIOSK_INSTANCE_PATH"] = str(instance)
    os.environ["KIOSK_DEVICE_PAIRING"] = "off"  # the bench drives the kiosk as no paired tablet
    if database_url:
        os.environ["KIOSK_DATABASE_URL"] = database_url
    from kiosk import create_app

    return create_app()


def prepare_visits(app, pools: dict[str, int]) -> dict[str, list]:
    """Registered visits at SITE for each pool, in the states the scenarios need. Returns
    {"scan_new": [token], "scan_repeat": [token], "donation": [(visit_id, version)],
    "questionnaire": [visit_id]}, and when asked for: "decision": [(visit_id, version)] (checked
    in, waiting for screening); "claim": [visit_id] (checked in, not yet taken by a nurse); "decision_correct" and "decision_void": [(visit_id, screening_id,
    version)] (accepted, not yet donated); "donation_correct" and "donation_void": [(visit_id,
    donation_id, version)] (a 350 ml bag recorded)."""
    import sqlalchemy as sa

    from kiosk import tally
    from kiosk.checkin import next_queue_number
    from kiosk.database import begin_write
    from kiosk.roster.demo import demo_rows
    from kiosk.drives import current_drive
    from kiosk.extensions import db
    from kiosk.formatting import local_today
    from kiosk.models import Donation, Donor, Screening, Site, Staff, StaffRole, Visit, VisitStatus, utcnow
    from kiosk.roster.parser import ParsedRoster
    from kiosk.roster.importer import import_roster

    needed = sum(pools.values())
    with app.app_context():
        session = db.session
        begin_write(session)
        drive = current_drive()
        site = session.scalars(sa.select(Site).where(Site.code == SITE)).one()
        # More donors on the roster (the demo has 200), through the roster's own import.
        import_roster(session, ParsedRoster(rows=demo_rows(local_today(), count=needed, seed=7)), drive=drive)
        session.flush()
        # Every scenario runs at one site's kiosk and nurse desk.
        session.execute(sa.update(Visit).where(Visit.drive_id == drive.id).values(site_id=site.id))
        visits = list(session.scalars(sa.select(Visit).where(Visit.drive_id == drive.id,
                                                             Visit.status == VisitStatus.REGISTERED)
                                      .order_by(Visit.id).limit(needed)))
        if len(visits) < needed:
            raise RuntimeError(f"only {len(visits)} visits for {needed} prepared requests")
        taken: dict[str, list[Visit]] = {}
        start = 0
        for name, count in pools.items():
            taken[name] = visits[start:start + count]
            start += count

        nurse_id = session.scalar(sa.select(Staff.id).where(Staff.role == StaffRole.NURSE))
        department_of = dict(session.execute(sa.select(Donor.id, Donor.department_id)).all())
        now = utcnow()
        bumps: dict[int | None, dict[str, int]] = {}

        def check_in(visit: Visit) -> None:
            # What kiosk.checkin.check_in leaves behind, without a kiosk session per donor.
            visit.queue_number = next_queue_number(session, drive.id, site.id)
            visit.checked_in_at = visit.questionnaire_at = now
            visit.status = VisitStatus.CHECKED_IN
            visit.version += 1
            counts = bumps.setdefault(department_of[visit.donor_id], {"checked_in": 0, "screened": 0})
            counts["checked_in"] += 1

        for visit in taken["scan_repeat"] + taken.get("decision", []) + taken.get("claim", []):
            check_in(visit)
        def accept(visit: Visit) -> Screening:
            # What kiosk.screenings.record_decision leaves for an accepted donor (the identity
            # document seen, haemoglobin measured: a correction keeps both).
            check_in(visit)
            checks = {"identity_document": "cccd", "haemoglobin_g_l": 135}
            # (A checkout from before these checks existed runs this script too, for a before/after run.)
            screening = Screening(visit_id=visit.id, decision="accepted", volume_ml=350, nurse_id=nurse_id,
                                  suggestion={}, nonce=secrets.token_urlsafe(18),
                                  **{name: value for name, value in checks.items() if hasattr(Screening, name)})
            session.add(screening)
            visit.screened_at = now
            visit.status = VisitStatus.CLEARED
            visit.version += 1
            bumps[department_of[visit.donor_id]]["screened"] += 1
            return screening

        for visit in taken["donation"]:
            accept(visit)
        changed: dict[str, list] = {}
        for name in ("decision_correct", "decision_void"):
            changed[name] = [(visit, accept(visit)) for visit in taken.get(name, [])]
        for name in ("donation_correct", "donation_void"):
            changed[name] = []
            for visit in taken.get(name, []):
                # What kiosk.donations.record_donation leaves: a completed 350 ml bag, the visit done.
                accept(visit)
                donation = Donation(visit_id=visit.id, drive_id=drive.id, volume_ml=350, bag_number=f"PREP-{visit.id}",
                                    outcome="completed", nurse_id=nurse_id, nonce=secrets.token_urlsafe(18))
                session.add(donation)
                visit.finished_at = now
                visit.status = VisitStatus.DONE
                visit.version += 1
                counts = bumps[department_of[visit.donor_id]]
                counts["bags"] = counts.get("bags", 0) + 1
                counts["volume_ml"] = counts.get("volume_ml", 0) + 350
                changed[name].append((visit, donation))
        for department_id, counts in bumps.items():
            tally.bump(session, drive.id, site.id, department_id, **counts)
        session.flush()
        prepared = {name: [(visit.id, row.id, row.version) for visit, row in rows] for name, rows in changed.items()
                    if name in taken}
        session.commit()
        return {"scan_new": [v.token for v in taken["scan_new"]],
                "scan_repeat": [v.token for v in taken["scan_repeat"]],
                "donation": [(v.id, v.version) for v in taken["donation"]],
                "questionnaire": [v.id for v in taken["questionnaire"]]} | prepared | (
            {"decision": [(v.id, v.version) for v in taken["decision"]]} if "decision" in taken else {}) | (
            {"claim": [v.id for v in taken["claim"]]} if "claim" in taken else {})


def open_kiosk_sessions(app, visit_ids: list[int]) -> list[str]:
    """A kiosk session for each donor, as a scan at the kiosk opens it (they expire in 15 minutes,
    so this runs right before the questionnaire's load)."""
    import sqlalchemy as sa

    from kiosk.database import begin_write
    from kiosk.extensions import db
    from kiosk.models import KioskSession, Site

    with app.app_context():
        begin_write(db.session)
        site_id = db.session.scalar(sa.select(Site.id).where(Site.code == SITE))
        ids = []
        for visit_id in visit_ids:
            kiosk_session = KioskSession(id=secrets.token_urlsafe(24), visit_id=visit_id, site_id=site_id)
            db.session.add(kiosk_session)
            ids.append(kiosk_session.id)
        db.session.commit()
        return ids


def questionnaire_form() -> str:
    """The last screen's form with every item answered (the women's items too: a man's form
    ignores them), "no" to each health question and "yes" to the confirmation."""
    from kiosk.screening.questionnaire import load_questionnaire

    questionnaire = load_questionnaire()
    items = {item.id: item for sex in ("M", "F") for item in questionnaire.items_for(sex)}
    answers = {item_id: "yes" if item.must_be_yes else "no" for item_id, item in items.items()}
    return urllib.parse.urlencode({"step": "99", "action": "next", **answers})


# ----- the browser side: cookies and CSRF tokens ---------------------------------------------

class Browser:
    """One tablet or one nurse's laptop: its cookies and its page's CSRF token."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.addheaders = [("User-Agent", USER_AGENT)]
        self.csrf = ""

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=10) as response:
            page = response.read().decode()
        found = re.search(r'name="csrf-token" content="([^"]+)"', page)
        if found:
            self.csrf = found.group(1)
        return page

    def post(self, path: str, data: dict) -> str:
        request = urllib.request.Request(self.base_url + path, data=urllib.parse.urlencode(data).encode(),
                                         headers={"X-CSRFToken": self.csrf})
        with self.opener.open(request, timeout=10) as response:
            return response.read().decode()

    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)


def nurse_browser(base_url: str, instance: Path) -> Browser:
    from kiosk.roster.demo import demo_credentials

    password = demo_credentials(str(instance))["yta"]
    nurse = Browser(base_url)
    nurse.get("/auth/sign-in")
    nurse.post("/auth/sign-in", {"csrf_token": nurse.csrf, "username": "yta", "password": password})
    nurse.get(f"/nurse/{SITE}")  # signed in: the nurse page carries the session's CSRF token
    return nurse


# ----- the scenarios ------------------------------------------------------------------------

def display_state(app_url: str) -> tuple[int, int]:
    import json

    from harness import http_request

    status, body, _headers = http_request(app_url, "GET", "/display/data")
    if status != 200:
        raise RuntimeError(f"/display/data answered {status}")
    state = json.loads(body)
    return state["drive_id"], state["revision"]


def preflight(url: str, scenario: Scenario) -> None:
    """One request by hand before the load, so a broken scenario fails here with its page."""
    from harness import http_request

    path, body = scenario.requests[0]
    body = body.replace(NONCE_MARK, "pf" + secrets.token_hex(10))
    status, text, _headers = http_request(url, scenario.method, path, body, scenario.headers)
    if status != scenario.expect_status or (scenario.marker and scenario.marker not in text):
        raise RuntimeError(f"{scenario.name}: the first request answered {status}, expected "
                           f"{scenario.expect_status} with {scenario.marker!r}:\n{text[:1500]}")
    if not scenario.cycle:
        del scenario.requests[0]


def merged(first: Result, second: Result) -> Result:
    """Two runs of the bare app as one: their requests over their time; latencies averaged."""
    return Result(first.requests + second.requests, first.seconds + second.seconds,
                  (first.p50_ms + second.p50_ms) / 2, (first.p95_ms + second.p95_ms) / 2,
                  (first.p99_ms + second.p99_ms) / 2, first.socket_errors + second.socket_errors,
                  first.wrong + second.wrong, first.exhausted + second.exhausted)


# ----- SQL statements and the writer queue, per request (KIOSK_SQL_STATS_DIR) --------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def sql_rows(stats_dir: Path, windows: dict[str, tuple[str, float, float]]) -> list[list[str]]:
    """Per scenario, from the app's one line per request (kiosk.database.end_unit_of_work):
    statements per request, write transactions per request, the writer queue's wait and hold
    (p50/p99/max, ms) and the COMMIT inside that hold (SQLite's fsync), the CPU time of the
    thread that ran the request (mean/p99, ms) and the time from Flask's first before-request
    function to its teardown (p50/p99, ms: what wrk measures beyond it waited in gunicorn, the
    kernel or wrk), over the scenario's load only."""
    lines = []
    for path in stats_dir.glob("*.jsonl"):
        for text in path.read_text().splitlines():
            try:
                lines.append(json.loads(text))
            except ValueError:
                pass  # a line cut short when a worker was stopped
    rows = []
    for label, start, end in windows.values():
        seen = [line for line in lines if start <= line["t"] <= end]
        if not seen:
            continue
        waits = [w for line in seen for w in line["waits"]]
        holds = [h for line in seen for h in line["holds"]]
        commits = [c for line in seen for c in line["commits"]]
        statements = [line["statements"] for line in seen]
        queue = (lambda values: f"{fmt_ms(percentile(values, 0.5))} / {fmt_ms(percentile(values, 0.99))}"
                 if values else "—")
        with_max = (lambda values: f"{queue(values)} / {fmt_ms(max(values))}" if values else "—")
        cpu = [line["cpu"] for line in seen]
        took = [line["took"] for line in seen]
        rows.append([label, f"{len(seen):,}", f"{sum(statements) / len(seen):.1f}", str(max(statements)),
                     f"{len(waits) / len(seen):.2f}", queue(waits), with_max(holds), with_max(commits),
                     f"{fmt_ms(sum(cpu) / len(cpu))} / {fmt_ms(percentile(cpu, 0.99))}", queue(took)])
    return rows


# ----- CPU per request ----------------------------------------------------------------------

def children_cpu_seconds() -> float:
    """CPU time of this process's ended children: wrk's, once it has run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_rows(cpu: dict[str, tuple[str, float, float]], paired: dict[str, Result]) -> list[list[str]]:
    rows = []
    for key, (label, app_ms, wrk_ms) in cpu.items():
        ceiling = os.cpu_count() * 1000 / (app_ms + wrk_ms) if app_ms + wrk_ms else 0.0
        share = f"{ceiling / paired[key].rps:.0%}" if key in paired and paired[key].rps else "—"
        rows.append([label, f"{app_ms:.2f}", f"{wrk_ms:.2f}", f"{ceiling:,.0f}", share])
    return rows


# ----- the report ---------------------------------------------------------------------------

def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table_rows(results: dict[str, tuple[str, Result]], paired: dict[str, Result],
               connections: int) -> list[list[str]]:
    bare = list(paired.values())
    rates = [b.rps for b in bare]
    mean = sum(rates) / len(rates)
    rows = [['bare Flask "ok" (mean of the paired runs)', f"{mean:,.0f}",
             fmt_ms(sum(b.p50_ms for b in bare) / len(bare)), fmt_ms(sum(b.p95_ms for b in bare) / len(bare)),
             fmt_ms(sum(b.p99_ms for b in bare) / len(bare)), f"100% ({min(rates):,.0f}–{max(rates):,.0f} req/s)",
             "the yardstick", "—", str(sum(b.wrong + b.socket_errors for b in bare))]]
    for key, (label, result) in results.items():
        ratio = result.rps / paired[key].rps if paired[key].rps else 0.0
        wants = []
        met = True
        if key in RATIO_TARGETS:
            wants.append(f"≥ {RATIO_TARGETS[key]:.0%} of bare")
            met &= ratio >= RATIO_TARGETS[key]
        limit = p99_limit(key)
        wants.append(f"p99 < {limit:.0f} ms" + ("" if connections == 20 else " (at 20 clients)"))
        met &= result.p99_ms < limit
        problems = result.wrong + result.socket_errors
        met &= problems == 0
        rows.append([label, f"{result.rps:,.0f}", fmt_ms(result.p50_ms), fmt_ms(result.p95_ms), fmt_ms(result.p99_ms),
                     f"{ratio:.0%} of {paired[key].rps:,.0f}", "; ".join(wants), "yes" if met else "**no**",
                     str(problems)])
    return rows


def p99_limit(key: str) -> float:
    return P99_LIMIT_MS["write" if key in WRITE_SCENARIOS else "read"]


def shortfalls(results: dict[str, tuple[str, Result]], paired: dict[str, Result], cli: dict) -> list[str]:
    notes = []
    for key, (label, result) in results.items():
        bare_rps = paired[key].rps
        ratio = result.rps / bare_rps if bare_rps else 0.0
        if key in RATIO_TARGETS and ratio < RATIO_TARGETS[key]:
            notes.append(f"{label}: {ratio:.0%} of the bare app against {RATIO_TARGETS[key]:.0%} "
                         f"({RATIO_TARGETS[key] * bare_rps - result.rps:,.0f} req/s short)")
        if result.p99_ms >= p99_limit(key):
            notes.append(f"{label}: p99 {result.p99_ms:.0f} ms against {p99_limit(key):.0f} ms "
                         f"({result.p99_ms / p99_limit(key):.1f}×)")
        if result.wrong or result.socket_errors:
            notes.append(f"{label}: {result.wrong} wrong answers ({result.exhausted} after the prepared requests ran "
                         f"out) and {result.socket_errors} socket errors, not counted as throughput")
    for key, label in (("import", "roster import"), ("passes", "passes")):
        if cli.get(key) and cli[key]["wall"] >= CLI_LIMIT_S:
            notes.append(f"{label}: {cli[key]['wall']:.2f} s against {CLI_LIMIT_S:.0f} s")
    return notes


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    rows = [[cell.replace("**", "") for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5, 8}
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                               for i, cell in enumerate(row)))
    return "\n".join(lines)


# ----- the run ------------------------------------------------------------------------------

def _interrupted(*_args) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="load per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both apps (default 2)")
    parser.add_argument("--threads", type=int, default=GUNICORN_THREADS,
                        help=f"gthread threads per worker (default {GUNICORN_THREADS}, as `kiosk serve`)")
    parser.add_argument("--rows", type=int, default=10_000, help="roster rows to import (default 10,000)")
    parser.add_argument("--passes", type=int, default=1_000, help="donors on the pass sheet (default 1,000)")
    parser.add_argument("--skip-cli", action="store_true", help="leave out the import and passes timings")
    parser.add_argument("--out", type=Path, default=RESULTS_FILE, help="where to write the table")
    parser.add_argument("--database", choices=DATABASES, default="sqlite",
                        help="sqlite (a file in a temporary instance folder, the default) or postgresql: a new "
                             "database on the durable cluster of `tools/postgres.sh durable` (fsync and "
                             "synchronous_commit on), which is started for the run and stopped after it")
    parser.add_argument("--synchronous", choices=SQLITE_SYNCHRONOUS_MODES, default="full",
                        help="SQLite's synchronous pragma for the app (KIOSK_SQLITE_SYNCHRONOUS): full, the "
                             "default, fsyncs at every commit; normal at checkpoints only (see the README)")
    parser.add_argument("--only", default=frozenset(), metavar="KEY,...",
                        type=lambda text: frozenset(filter(None, text.split(","))),
                        help="run these scenarios only (keys: " + ", ".join(SCENARIO_KEYS) + "), to try a change "
                             "quickly; the full table needs every one")
    options = parser.parse_args()
    unknown = options.only - set(SCENARIO_KEYS)
    if unknown:
        parser.error(f"no such scenario: {', '.join(sorted(unknown))}")
    if options.database == "postgresql" and options.out == RESULTS_FILE:
        options.out = BENCH / "results-postgresql.md"
    if options.synchronous != "full" and options.out == RESULTS_FILE:
        options.out = BENCH / "results-sqlite-normal.md"
    if options.only and options.out.parent == BENCH:  # a partial run never stands in for the full table
        options.out = Path(tempfile.gettempdir()) / "kiosk-bench-partial.md"

    # SIGTERM ends the run like Ctrl-C does: through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, _interrupted)
    started_at = dt.datetime.now().astimezone()
    load_before = load_average()
    print(f"{started_at:%Y-%m-%d %H:%M %Z}; {os.cpu_count()} CPUs ({cpu_model()}); load average {load_before}",
          flush=True)

    cli = {}
    if not options.skip_cli:
        print(f"timing import-roster ({options.rows:,} rows) and passes ({options.passes:,} donors) ...", flush=True)
        import import_and_passes

        cli = import_and_passes.measure(options.rows, options.passes)

    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    servers: list[Server] = []
    database = DurablePostgres() if options.database == "postgresql" else None
    try:
        if database:
            database.start()
        return _run(options, started_at, load_before, cli, wrk, work, servers, database)
    finally:
        for server in servers:
            server.stop()
        if database:
            database.stop()
        shutil.rmtree(work, ignore_errors=True)


class DurablePostgres:
    """A new database on the project's durable PostgreSQL cluster (tools/postgres.sh durable):
    started for the run, its database dropped and the server stopped after it."""

    SCRIPT = ROOT / "tools" / "postgres.sh"

    def __init__(self):
        self.url = ""
        self.admin_url = ""
        self.settings = ""

    def start(self) -> None:
        import sqlalchemy as sa

        self.admin_url = subprocess.run(["bash", str(self.SCRIPT), "durable"], check=True, capture_output=True,
                                        text=True).stdout.strip().splitlines()[-1]
        name = f"kiosk_bench_{secrets.token_hex(4)}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
            shown = {setting: connection.exec_driver_sql(f"SHOW {setting}").scalar()
                     for setting in ("fsync", "synchronous_commit", "full_page_writes", "server_version")}
        engine.dispose()
        if shown["fsync"] != "on" or shown["synchronous_commit"] != "on":
            raise RuntimeError(f"the durable cluster is not durable: {shown}")
        self.url = self.admin_url.rsplit("/", 1)[0] + "/" + name
        self.settings = (f"PostgreSQL {shown['server_version'].split()[0]} (fsync={shown['fsync']}, "
                         f"synchronous_commit={shown['synchronous_commit']}, "
                         f"full_page_writes={shown['full_page_writes']})")
        print(f"database: {self.settings}, a new database {name}", flush=True)

    def stop(self) -> None:
        import sqlalchemy as sa

        if self.url:
            engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.url.rsplit('/', 1)[1]} WITH (FORCE)")
            finally:
                engine.dispose()
        subprocess.run(["bash", str(self.SCRIPT), "durable", "stop"], check=False, capture_output=True)


def _run(options, started_at: dt.datetime, load_before: str, cli: dict, wrk, work: Path, servers: list,
         database: "DurablePostgres | None") -> int:
    instance = work / "instance"
    (work / "bare_app.py").write_text(BARE_APP)
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_")}
    env["KIOSK_DEVICE_PAIRING"] = "off"  # wrk is no paired tablet (tests/test_devices.py covers pairing)
    env |= {"KIOSK_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)}
    if database:
        env["KIOSK_DATABASE_URL"] = database.url
    else:
        env["KIOSK_SQLITE_SYNCHRONOUS"] = options.synchronous
    print("preparing the data ...", flush=True)
    subprocess.run([sys.executable, "-m", "kiosk.cli", "load-demo"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    disk = "" if database else fsync_latency(instance)
    if disk:
        print(f"the disk under the database, alone: {disk}", flush=True)
    write_pool = max(1000, options.seconds * POOL_PER_SECOND)
    app = make_app(instance, database.url if database else "")
    pools = prepare_visits(app, {"scan_new": 2000, "scan_repeat": 500, "donation": write_pool,
                                 "questionnaire": write_pool, "decision": write_pool,
                                 **{name: write_pool for name in CHANGE_SCENARIOS}})

    load = LoadGenerator(work, wrk, seconds=options.seconds, connections=options.connections)
    results: dict[str, tuple[str, Result]] = {}
    paired: dict[str, Result] = {}  # the bare app's runs right before and after each scenario
    windows: dict[str, tuple[str, float, float]] = {}  # each scenario's load, for sql_rows
    cpu: dict[str, tuple[str, float, float]] = {}  # each scenario's CPU ms per request: the app's, wrk's
    bare = Server(work / "bare.log", app="bare_app:app", workers=options.workers, threads=options.threads,
                  env=env, cwd=work, ready_path="/ok")
    servers.append(bare.start(wait=False))
    stats_dir = work / "sql-stats"
    app_env = env | {"KIOSK_BASE_URL": "http://127.0.0.1:8000", "KIOSK_SQL_STATS_DIR": str(stats_dir)}
    kiosk_app = Server(work / "app.log", workers=options.workers, threads=options.threads, env=app_env, cwd=ROOT)
    servers.append(kiosk_app.start(wait=False))
    bare.wait_until_ready()
    kiosk_app.wait_until_ready()
    app_url = kiosk_app.url

    bare_scenario = Scenario("bare", [("/ok", "")], marker="ok")
    bare_cpu, wrk_cpu = bare.cpu_seconds(), children_cpu_seconds()
    bare_result = load.run(bare.url, bare_scenario)
    cpu["bare"] = ('bare Flask "ok"', (bare.cpu_seconds() - bare_cpu) * 1000 / bare_result.requests,
                   (children_cpu_seconds() - wrk_cpu) * 1000 / bare_result.requests)

    def measure(key: str, label: str, url: str, scenario: Scenario) -> None:
        if options.only and key not in options.only:
            return
        preflight(url, scenario)
        print(f"  {label} ...", end=" ", flush=True)
        before = load.run(bare.url, bare_scenario)
        started = time.time()
        app_cpu, wrk_cpu = kiosk_app.cpu_seconds(), children_cpu_seconds()
        result = load.run(url, scenario)
        if result.requests:
            cpu[key] = (label, (kiosk_app.cpu_seconds() - app_cpu) * 1000 / result.requests,
                        (children_cpu_seconds() - wrk_cpu) * 1000 / result.requests)
        windows[key] = (label, started, time.time())
        after = load.run(bare.url, bare_scenario)
        paired[key] = merged(before, after)
        results[key] = (label, result)
        flag = f", {result.wrong + result.socket_errors} WRONG" if result.wrong or result.socket_errors else ""
        print(f"{result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms{flag} (bare app before and after: "
              f"{before.rps:,.0f} and {after.rps:,.0f} req/s)", flush=True)

    print(f"load: {load.name}, {options.connections} connections, {options.seconds} s per scenario", flush=True)

    drive_id, revision = display_state(app_url)
    measure("idle", "display poll, idle (204)", app_url,
            Scenario("idle", [(f"/display/data?drive={drive_id}&rev={revision}", "")], expect_status=204))
    measure("changed", "display poll, changed (200 JSON)", app_url,
            Scenario("changed", [("/display/data", "")], marker='"revision"'))

    tablet = Browser(app_url)
    tablet.get(f"/kiosk/{SITE}")
    kiosk_headers = {"Cookie": tablet.cookie_header(), "X-CSRFToken": tablet.csrf, "HX-Request": "true"}

    def scan_requests(tokens: list[str]) -> list[tuple[str, str]]:
        return [(f"/kiosk/{SITE}/scan", f"pass_code={token}&nonce={NONCE_MARK}") for token in tokens]

    measure("scan_new", "kiosk scan, new pass", app_url,
            Scenario("scan_new", scan_requests(pools["scan_new"]), method="POST", headers=kiosk_headers,
                     marker='data-step="confirm"'))
    measure("scan_repeat", "kiosk scan, repeated (checked in)", app_url,
            Scenario("scan_repeat", scan_requests(pools["scan_repeat"]), method="POST", headers=kiosk_headers,
                     marker='data-step="outcome-already"'))

    form = questionnaire_form()
    kiosk_sessions = open_kiosk_sessions(app, pools["questionnaire"])
    measure("questionnaire", "questionnaire submit (check-in)", app_url,
            Scenario("questionnaire", [(f"/kiosk/{SITE}/questionnaire", f"ks={ks}&{form}&nonce={NONCE_MARK}")
                                       for ks in kiosk_sessions],
                     method="POST", headers=kiosk_headers, cycle=False, marker='data-step="ticket"'))

    nurse = nurse_browser(app_url, instance)
    nurse_headers = {"Cookie": nurse.cookie_header(), "X-CSRFToken": nurse.csrf}
    # The nurse's decision: vitals, "accept 350 ml", the identity document seen. The prepared donors
    # answered no questionnaire here, so the rules suggest otherwise and the override's reason is given.
    vitals = urllib.parse.urlencode(GOOD_VITALS | {"decision": "accepted", "volume_ml": "350",
                                                   "identity_document": "cccd",
                                                   "override_reason": "Bench: accepted after review"})
    measure("decision", "nurse's decision (accept)", app_url,
            Scenario("decision", [(f"/nurse/{SITE}/visit/{visit_id}/decision",
                                   f"nonce={NONCE_MARK}&expected_version={version}&{vitals}")
                                  for visit_id, version in pools["decision"]],
                     method="POST", headers=nurse_headers, cycle=False, expect_status=303, marker=""))
    measure("donation", "nurse's donation save", app_url,
            Scenario("donation", [(f"/nurse/{SITE}/visit/{visit_id}/donation",
                                   f"nonce={NONCE_MARK}&expected_version={version}&volume_ml=350"
                                   f"&bag_number=BENCH-{visit_id}&outcome=completed&reaction=none&reaction_note=")
                                  for visit_id, version in pools["donation"]],
                     method="POST", headers=nurse_headers, cycle=False, expect_status=303,
                     marker=""))
    # Corrections and voids, each with its reason, on decisions and donations recorded beforehand.
    changes = {
        "decision_correct": ("nurse's decision corrected (350 → 450 ml)", "decision/{row}/correct",
                             "decision=accepted&volume_ml=450&identity_document=cccd"
                             "&override_reason=Bench: accepted after review&correction_reason=Bench: the bag size"),
        "decision_void": ("nurse's decision voided", "decision/{row}/void", "void_reason=Bench: the wrong donor"),
        "donation_correct": ("donation corrected (the bag number)", "donation/{row}/correct",
                             "volume_ml=350&bag_number=FIX-{visit}&outcome=completed&reaction=none&reaction_note="
                             "&correction_reason=Bench: a typo in the bag number"),
        "donation_void": ("donation voided", "donation/{row}/void", "void_reason=Bench: recorded on the wrong donor"),
    }
    for key, (label, path, fields) in changes.items():
        measure(key, label, app_url, Scenario(
            key, [(f"/nurse/{SITE}/visit/{visit_id}/" + path.format(row=row_id),
                   f"nonce={NONCE_MARK}&expected_version={version}&"
                   + urllib.parse.quote(fields.format(visit=visit_id), safe="=&"))
                  for visit_id, row_id, version in pools[key]],
            method="POST", headers=nurse_headers, cycle=False, expect_status=303, marker=""))
    for server in servers:
        server.stop()
    load_after = load_average()

    header = ["scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "ratio to bare", "target", "met?", "wrong"]
    rows = table_rows(results, paired, options.connections)
    cli_header = ["command", "wall clock, start-up included", "the command's own time", "target", "met?"]
    cli_rows = []
    for key, label in (("passes", f"`kiosk passes` for {options.passes:,} donors"),
                       ("import", f"`kiosk import-roster` of {options.rows:,} new rows")):
        if key in cli:
            figures = cli[key]
            cli_rows.append([label, f"{figures['wall']:.2f} s", f"{figures['own']:.2f} s",
                             f"< {CLI_LIMIT_S:.0f} s", "yes" if figures["wall"] < CLI_LIMIT_S else "**no**"])
    notes = shortfalls(results, paired, cli)
    sql_header = ["scenario", "requests", "SQL statements / request", "max", "write transactions / request",
                  "writer queue wait p50 / p99 ms", "writer queue hold p50 / p99 / max ms",
                  "of which COMMIT (its fsync) p50 / p99 / max ms",
                  "the request thread's CPU mean / p99 ms", "time in the app p50 / p99 ms"]
    sql_table = sql_rows(stats_dir, windows)
    cpu_header = ["scenario", "the app's CPU ms / request", "wrk's CPU ms / request",
                  f"CPU-bound ceiling on {os.cpu_count()} cores, req/s", "the ceiling / the bare app's req/s"]
    cpu_table = cpu_rows(cpu, paired)

    settings = (f"gunicorn {options.workers} workers × {options.threads} threads (gthread), the same command for "
                f"both apps (`kiosk.cli.gunicorn_command`, access log on); "
                f"{database.settings if database else f'SQLite (WAL, synchronous={options.synchronous.upper()})'}; "
                f"{load.name}, {options.connections} connections, {options.seconds} s per scenario; "
                f"each ratio against the bare app run for as long right before and right after the scenario")
    print()
    print(settings)
    print(plain_table(header, rows))
    if cli_rows:
        print()
        print(plain_table(cli_header, cli_rows))
    if sql_table:
        print()
        print(plain_table(sql_header, sql_table))
    print()
    print(plain_table(cpu_header, cpu_table))
    print()
    print("Every target met." if not notes else "Not met:\n" + "\n".join(f"  - {note}" for note in notes))
    print(f"load average before {load_before}, after {load_after}")

    report = [
        "# Benchmark results",
        "",
        "Written by `python bench/run.py` "
        f"(`--seconds {options.seconds} --connections {options.connections} --workers {options.workers} "
        f"--threads {options.threads}`); the README's \"Measured\" section explains them.",
        "",
        f"- date: {started_at:%Y-%m-%d %H:%M %Z}",
        f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"- load average (1, 5, 15 min) before the run: {load_before}; after: {load_after}",
        *([f"- the disk under the database, alone, before the load (`fsync_latency`): {disk}"] if disk else []),
        f"- settings: {settings}",
        "",
        markdown_table(header, rows),
        "",
    ]
    if sql_table:
        report += ["Per request, counted by the app itself (`KIOSK_SQL_STATS_DIR`): SQL statements, write "
                   "transactions, and the SQLite writer queue's wait for its turn and hold from BEGIN IMMEDIATE "
                   "to COMMIT.", "", markdown_table(sql_header, sql_table), ""]
    report += ["CPU time per request under the load, the app's (master and workers, from /proc) and wrk's, and "
               "what it allows: with every core busy, no more than cores × 1000 ms / (app + wrk) requests a "
               "second, whatever the writer queue does.", "", markdown_table(cpu_header, cpu_table), ""]
    if cli_rows:
        report += [markdown_table(cli_header, cli_rows), ""]
    report += ["Every target met." if not notes else "Not met:", ""] + [f"- {note}" for note in notes]
    options.out.write_text("\n".join(report).rstrip() + "\n")
    print(f"written to {options.out}")
    return 0


if __name__ == "__main__":
    # Ctrl-C stops the run even when started from a shell that ignores SIGINT in background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: the servers are stopped and the temporary instance removed")
