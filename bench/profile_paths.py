"""CPU time, SQL statements and the writer queue's hold per request, for each write path, in
one process with Flask's test client (no server, no other clients: what one request costs).

    python bench/profile_paths.py [--requests 200] [--cprofile PATH_NAME] [--statements PATH_NAME]

Each path runs --requests times on a fresh demo instance (bench/run.py's data), after a few
warm-up requests; it prints the mean process CPU per request, the statements per request and
the writer queue's hold (mean, ms). --cprofile NAME prints cProfile's top functions for one
path; --statements NAME prints the SQL of one path's last request. Issue 14's note quotes these
before and after. --reads measures the pages instead (GET, plus a nurse form refused with 422):
each role's pages, statements and CPU per request, for issue 18's move of the reads out of the
views."""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import SITE, make_app, open_kiosk_sessions, prepare_visits, questionnaire_form  # noqa: E402

WARM_UP = 5


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    return found.group(1) if found else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--cprofile", default="")
    parser.add_argument("--statements", default="", help="print the SQL of this path's last request")
    parser.add_argument("--reads", action="store_true", help="the pages (reads) instead of the writes")
    options = parser.parse_args()
    n = options.requests + WARM_UP
    with tempfile.TemporaryDirectory(prefix="kiosk-profile-") as work:
        instance = Path(work) / "instance"
        env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_")}
        env |= {"KIOSK_INSTANCE_PATH": str(instance), "PYTHONPATH": str(BENCH.parent)}
        subprocess.run([sys.executable, "-m", "kiosk.cli", "load-demo"], env=env, check=True, capture_output=True)
        app = make_app(instance)
        pools = prepare_visits(app, {"scan_new": n, "scan_repeat": n, "donation": n, "questionnaire": n,
                                     "decision": n, "claim": n})
        (run_reads if options.reads else run_paths)(app, instance, pools, n, options)
    return 0


def statement_counter(engine) -> tuple[list[int], list[str]]:
    """[how many statements ran] and the text of each since last cleared, kept up to date by an
    event on the engine."""
    import sqlalchemy as sa

    statements = [0]
    last_request: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def count(_connection, _cursor, statement, *_args):
        statements[0] += 1
        last_request.append(" ".join(statement.split())[:160])

    return statements, last_request


def signed_in(app, instance: Path, username: str):
    from kiosk.roster.demo import demo_credentials

    client = app.test_client()
    csrf = csrf_of(client.get("/auth/sign-in").text)
    answer = client.post("/auth/sign-in", data={"csrf_token": csrf, "username": username,
                                                "password": demo_credentials(str(instance))[username]})
    assert answer.status_code == 303, answer.text[:400]
    return client


def run_reads(app, instance: Path, pools: dict, n: int, options) -> None:
    """Each page a role opens, as it opens it: statements and CPU per request."""
    import sqlalchemy as sa

    from kiosk.extensions import db
    from kiosk.models import Donor, Drive

    with app.app_context():
        engine = db.engine
        drive_id = db.session.scalar(sa.select(Drive.id).order_by(Drive.id))
        donor_id = db.session.scalar(sa.select(Donor.id).order_by(Donor.id))
    statements, last_request = statement_counter(engine)

    tablet, hall = app.test_client(), app.test_client()
    nurse, organiser = signed_in(app, instance, "yta"), signed_in(app, instance, "bantochuc")
    nurse_csrf = csrf_of(nurse.get(f"/nurse/{SITE}").text)
    visit_id = pools["claim"][0]
    pages = {
        "kiosk_start": (tablet, f"/kiosk/{SITE}", 200),
        "display": (hall, "/display", 200),
        "display_data": (hall, "/display/data", 200),
        "nurse_queue": (nurse, f"/nurse/{SITE}", 200),
        "nurse_queue_rows": (nurse, f"/nurse/{SITE}/queue", 200),
        "nurse_visit": (nurse, f"/nurse/{SITE}/visit/{visit_id}", 200),
        "admin_index": (organiser, "/admin", 302),
        "admin_drives": (organiser, "/admin/drives", 200),
        "admin_drive": (organiser, f"/admin/drives/{drive_id}", 200),
        "admin_sites": (organiser, "/admin/sites", 200),
        "admin_departments": (organiser, "/admin/departments", 200),
        "admin_staff": (organiser, "/admin/staff", 200),
        "admin_devices": (organiser, "/admin/devices", 200),
        "admin_roster": (organiser, f"/admin/drives/{drive_id}/roster", 200),
        "admin_donations": (organiser, f"/admin/drives/{drive_id}/donations", 200),
        "admin_passes": (organiser, f"/admin/drives/{drive_id}/passes", 200),
        "admin_report": (organiser, f"/admin/drives/{drive_id}/report", 200),
        "admin_exports": (organiser, f"/admin/drives/{drive_id}/exports", 200),
        "admin_audit": (organiser, f"/admin/drives/{drive_id}/audit", 200),
        "admin_repeat_donors": (organiser, f"/admin/drives/{drive_id}/repeat-donors", 200),
        "admin_activity": (organiser, "/admin/activity", 200),
        "admin_donor": (organiser, f"/admin/donors/{donor_id}", 200),
    }
    print(f"{'page':<22} {'CPU ms/req':>10} {'statements':>10}")
    for name, (client, url, status) in pages.items():
        rounds = max(3, n // 10)
        for _ in range(WARM_UP):
            answer = client.get(url)
            assert answer.status_code == status, (name, answer.status_code, answer.text[:800])
        statements[0] = 0
        started = time.process_time()
        for _ in range(rounds):
            last_request.clear()
            answer = client.get(url)
            assert answer.status_code == status, (name, answer.status_code, answer.text[:800])
        cpu = (time.process_time() - started) / rounds
        print(f"{name:<22} {cpu * 1000:>10.2f} {statements[0] / rounds:>10.1f}", flush=True)
        if options.statements == name:
            print("\n".join("    " + text for text in last_request))
    # A nurse's decision refused by the form (no decision chosen): the page comes back with 422.
    statements[0] = 0
    answer = nurse.post(f"/nurse/{SITE}/visit/{visit_id}/decision", headers={"X-CSRFToken": nurse_csrf},
                        data={"nonce": secrets.token_urlsafe(18), "expected_version": "1"})
    assert answer.status_code == 422, answer.status_code
    print(f"{'decision_refused':<22} {'':>10} {statements[0]:>10.1f}", flush=True)


def run_paths(app, instance: Path, pools: dict, n: int, options) -> None:
    import sqlalchemy as sa

    from kiosk.database import writer_queue_of
    from kiosk.extensions import db
    from kiosk.roster.demo import demo_credentials

    with app.app_context():
        engine = db.engine
    statements, last_request = statement_counter(engine)
    queue = writer_queue_of(engine)
    tablet = app.test_client()
    tablet_headers = {"X-CSRFToken": csrf_of(tablet.get(f"/kiosk/{SITE}").text), "HX-Request": "true"}
    nurse = app.test_client()
    csrf = csrf_of(nurse.get("/auth/sign-in").text)
    nurse.post("/auth/sign-in", data={"csrf_token": csrf, "username": "yta",
                                      "password": demo_credentials(str(instance))["yta"]})
    nurse_headers = {"X-CSRFToken": csrf_of(nurse.get(f"/nurse/{SITE}").text)}
    form = questionnaire_form()
    kiosk_sessions = open_kiosk_sessions(app, pools["questionnaire"])
    donations: list[tuple[int, int]] = []
    screenings: list[tuple[int, int]] = []
    deferral = {"decision": "deferred_temporary", "deferral_until": "01/01/2099", "reason": "low iron",
                "override_reason": "the nurse's judgement"}

    def nonce() -> str:
        return secrets.token_urlsafe(18)

    def screening_id_of(visit_id: int) -> int:
        from kiosk.models import Screening
        with app.app_context():
            return db.session.scalar(sa.select(Screening.id).where(Screening.visit_id == visit_id))

    def donation_id_of(visit_id: int) -> int:
        from kiosk.models import Donation
        with app.app_context():
            return db.session.scalar(sa.select(Donation.id).where(Donation.visit_id == visit_id))

    paths = {
        "scan_new": lambda i: tablet.post(f"/kiosk/{SITE}/scan", headers=tablet_headers,
                                          data={"pass_code": pools["scan_new"][i], "nonce": nonce()}),
        "scan_repeat": lambda i: tablet.post(f"/kiosk/{SITE}/scan", headers=tablet_headers,
                                             data={"pass_code": pools["scan_repeat"][i], "nonce": nonce()}),
        "questionnaire": lambda i: tablet.post(f"/kiosk/{SITE}/questionnaire", headers=tablet_headers,
                                               data=f"ks={kiosk_sessions[i]}&{form}&nonce={nonce()}",
                                               content_type="application/x-www-form-urlencoded"),
        "donation": lambda i: nurse.post(
            f"/nurse/{SITE}/visit/{pools['donation'][i][0]}/donation", headers=nurse_headers,
            data={"nonce": nonce(), "expected_version": pools["donation"][i][1], "volume_ml": "350",
                  "bag_number": f"P-{pools['donation'][i][0]}", "outcome": "completed", "reaction": "none",
                  "reaction_note": ""}),
        "donation_correct": lambda i: nurse.post(
            f"/nurse/{SITE}/visit/{donations[i][0]}/donation/{donations[i][1]}/correct", headers=nurse_headers,
            data={"nonce": nonce(), "expected_version": "1", "volume_ml": "250",
                  "bag_number": f"P-{donations[i][0]}", "outcome": "completed", "reaction": "none",
                  "reaction_note": "", "correction_reason": "wrong volume"}),
        "donation_void": lambda i: nurse.post(
            f"/nurse/{SITE}/visit/{donations[i][0]}/donation/{donations[i][1]}/void", headers=nurse_headers,
            data={"nonce": nonce(), "expected_version": "2", "void_reason": "wrong donor"}),
        "claim": lambda i: nurse.post(f"/nurse/{SITE}/visit/{pools['claim'][i]}/claim", headers=nurse_headers),
        # A read that writes: the donor's page leaves its audit entry (kiosk.audit.record_access).
        "donor_page": lambda i: nurse.get(f"/nurse/{SITE}/visit/{pools['claim'][i]}"),
        "decision": lambda i: nurse.post(
            f"/nurse/{SITE}/visit/{pools['decision'][i][0]}/decision", headers=nurse_headers,
            data={"nonce": nonce(), "expected_version": pools["decision"][i][1], "hbsag": ""} | deferral),
        "decision_correct": lambda i: nurse.post(
            f"/nurse/{SITE}/visit/{screenings[i][0]}/decision/{screenings[i][1]}/correct", headers=nurse_headers,
            data={"nonce": nonce(), "expected_version": "1", "correction_reason": "wrong date"}
            | deferral | {"deferral_until": "02/01/2099"}),
        "decision_void": lambda i: nurse.post(
            f"/nurse/{SITE}/visit/{screenings[i][0]}/decision/{screenings[i][1]}/void", headers=nurse_headers,
            data={"nonce": nonce(), "expected_version": "2", "void_reason": "wrong donor"}),
    }
    expected = {"scan_new": 200, "scan_repeat": 200, "questionnaire": 200, "donation": 303,
                "donation_correct": 303, "donation_void": 303, "claim": 303, "donor_page": 200, "decision": 303,
                "decision_correct": 303, "decision_void": 303}
    print(f"{'path':<18} {'CPU ms/req':>10} {'statements':>10} {'hold ms':>8}")
    for name, request in paths.items():
        if name == "donation_correct":
            donations[:] = [(visit_id, donation_id_of(visit_id)) for visit_id, _v in pools["donation"]]
        if name == "decision_correct":
            screenings[:] = [(visit_id, screening_id_of(visit_id)) for visit_id, _v in pools["decision"]]
        for i in range(WARM_UP):
            answer = request(i)
            assert answer.status_code == expected[name], (name, answer.status_code, answer.text[:800])
        statements[0] = 0
        holds_before = len(queue.holds) if queue else 0
        profiler = cProfile.Profile() if options.cprofile == name else None
        if profiler:
            profiler.enable()
        started = time.process_time()
        for i in range(WARM_UP, n):
            last_request.clear()
            answer = request(i)
            assert answer.status_code == expected[name], (name, answer.status_code, answer.text[:800])
        cpu = (time.process_time() - started) / (n - WARM_UP)
        if profiler:
            profiler.disable()
        holds = list(queue.holds)[holds_before:] if queue else []
        hold = sum(holds) / len(holds) * 1000 if holds else 0.0
        print(f"{name:<18} {cpu * 1000:>10.2f} {statements[0] / (n - WARM_UP):>10.1f} {hold:>8.2f}", flush=True)
        if options.statements == name:
            print("\n".join("    " + text for text in last_request))
        if profiler:
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(400)


if __name__ == "__main__":
    sys.exit(main())
