"""What an idle hall display costs the server, next to a bare Flask endpoint, in the same run.

    .venv/bin/python bench/display_poll.py [--seconds 10] [--connections 16] [--browser 20]

Starts gunicorn twice on 127.0.0.1 with the same settings (kiosk.cli.gunicorn_command through
tests.support.server: 2 workers, gthread, 4 threads, the access log on):
the app on a fresh SQLite instance after `kiosk load-demo`, and a bare Flask app answering
"ok". Each is driven for --seconds with wrk (Debian's `wrk`; a Python thread pool with
keep-alive connections if wrk is missing) and the script prints requests per second and the
p50/p95/p99 latencies of:
  - the bare endpoint,
  - the idle display poll (/display/data?drive=..&rev=.. answered 204: nothing changed),
  - the poll after a change (the counters' snapshot as JSON).
With --browser N it then opens /display in Debian's Chromium, records N donations one after
another (through kiosk.donations, on the same database) and prints how long each took to
show on the screen, as p50/p95/max."""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import Server  # noqa: E402

WORKERS, THREADS = 2, 4
BARE_APP = '''from flask import Flask
app = Flask(__name__)

@app.get("/ok")
def ok():
    return "ok"
'''
WRK_REPORT = '''done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
'''


def load_with_wrk(url: str, seconds: int, connections: int, script: Path) -> dict:
    done = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url],
                          capture_output=True, text=True, check=True)
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", done.stdout, re.M)
    requests, duration_us, p50, p95, p99, errors = map(int, match.groups())
    statuses = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return {"rps": requests / (duration_us / 1e6), "p50_ms": p50 / 1000, "p95_ms": p95 / 1000,
            "p99_ms": p99 / 1000, "errors": errors + (int(statuses.group(1)) if statuses else 0)}


def load_with_threads(url: str, seconds: int, connections: int) -> dict:
    """The fallback: `connections` threads, each with its own keep-alive connection."""
    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client():
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                if response.status >= 300:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50_ms": cuts[49] * 1000, "p95_ms": cuts[94] * 1000,
            "p99_ms": cuts[98] * 1000, "errors": errors[0]}


def get(url: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
    response = connection.getresponse()
    return response.status, response.read()


def clear_visits(app, count: int) -> list[int]:
    """Registered demo donors, checked in and accepted, as the kiosk and the nurse would leave them."""
    import sqlalchemy as sa

    from kiosk import tally
    from kiosk.extensions import db
    from kiosk.models import Screening, Staff, Visit, VisitStatus, utcnow

    with app.app_context():
        nurse = db.session.scalars(sa.select(Staff.id)).first()
        visits = list(db.session.scalars(sa.select(Visit).where(Visit.status == VisitStatus.REGISTERED)
                                         .order_by(Visit.id).limit(count)))
        for visit in visits:
            visit.checked_in_at = visit.screened_at = utcnow()
            visit.status = VisitStatus.CLEARED
            db.session.add(Screening(visit_id=visit.id, decision="accepted", volume_ml=350, nurse_id=nurse,
                                     suggestion={}, nonce=secrets.token_urlsafe(18)))
            tally.bump(db.session, visit.drive_id, visit.site_id, visit.donor.department_id,
                       checked_in=1, screened=1)
        db.session.commit()
        return [visit.id for visit in visits]


def browser_latency(base_url: str, instance: Path, donations: int) -> list[float]:
    """Seconds from each donation's commit to the display showing it, measured in Chromium."""
    import sqlalchemy as sa
    from playwright.sync_api import sync_playwright

    from kiosk import create_app
    from kiosk.donations import record_donation
    from kiosk.extensions import db
    from kiosk.models import Staff, StaffRole

    os.environ["KIOSK_INSTANCE_PATH"] = str(instance)
    app = create_app()
    visit_ids = clear_visits(app, donations)
    with app.app_context():
        nurse_id = db.session.scalar(sa.select(Staff.id).where(Staff.role == StaffRole.NURSE))
    delays = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(base_url + "/display")
        page.wait_for_timeout(1500)
        for number, visit_id in enumerate(visit_ids, start=1):
            page.wait_for_timeout(secrets.randbelow(500))  # land anywhere in the poll cycle
            # The page stamps the moment the figure changes; compared with our clock below.
            page.evaluate("""() => { window.shownAt = null; const hero = document.querySelector('.hero-number');
                new MutationObserver((_, observer) => { window.shownAt = Date.now(); observer.disconnect(); })
                  .observe(hero, {childList: true, characterData: true, subtree: true}); }""")
            with app.app_context():
                record_donation(db.session, visit_id=visit_id, nurse_id=nurse_id, volume_ml=350,
                                bag_number=f"BENCH-{number:04d}", outcome="completed",
                                nonce=secrets.token_urlsafe(18))
                committed_ms = time.time() * 1000
                db.session.remove()
            page.wait_for_function(f"() => document.querySelector('.hero-number').textContent === '{number}'",
                                   timeout=10_000)
            delays.append((page.evaluate("() => window.shownAt") - committed_ms) / 1000)
        browser.close()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--browser", type=int, default=20, help="donations to time in Chromium (0: skip)")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="display-bench-"))
    instance = work / "instance"
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_")}
    env["KIOSK_DEVICE_PAIRING"] = "off"  # wrk is no paired tablet (tests/test_devices.py covers pairing)
    env |= {"KIOSK_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "kiosk.cli", "load-demo"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    (work / "bare_app.py").write_text(BARE_APP)
    script = work / "report.lua"
    script.write_text(WRK_REPORT)
    use_wrk = shutil.which("wrk") is not None

    def drive(url: str) -> dict:
        if use_wrk:
            return load_with_wrk(url, options.seconds, options.connections, script)
        return load_with_threads(url, options.seconds, options.connections)

    results = {}
    bare = Server(work / "bare.log", app="bare_app:app", workers=WORKERS, threads=THREADS, env=env, cwd=work,
                  ready_path="/ok")
    try:
        bare.start()
        results["bare Flask endpoint (200 \"ok\")"] = drive(f"{bare.url}/ok")
    finally:
        bare.stop()
    kiosk_app = Server(work / "app.log", workers=WORKERS, threads=THREADS, env=env, cwd=ROOT)
    try:
        kiosk_app.start()
        base = kiosk_app.url
        _status, body = get(base + "/display/data")
        state = json.loads(body)
        idle_url = f"{base}/display/data?drive={state['drive_id']}&rev={state['revision']}"
        assert get(idle_url)[0] == 204, "the idle poll should answer 204"
        results["idle display poll (204)"] = drive(idle_url)
        results["changed display poll (200 JSON)"] = drive(f"{base}/display/data")
        delays = browser_latency(base, instance, options.browser) if options.browser else []
    finally:
        kiosk_app.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"gunicorn {WORKERS} workers x {THREADS} threads (gthread), SQLite, {os.cpu_count()} CPUs; "
          f"{'wrk' if use_wrk else 'Python threads'}, {options.connections} connections, {options.seconds} s each")
    print(f"{'endpoint':<36} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, figures in results.items():
        print(f"{name:<36} {figures['rps']:>8.0f} {figures['p50_ms']:>8.2f} {figures['p95_ms']:>8.2f} "
              f"{figures['p99_ms']:>8.2f} {figures['errors']:>7}")
    bare_rps = results["bare Flask endpoint (200 \"ok\")"]["rps"]
    print(f"idle poll / bare Flask: {results['idle display poll (204)']['rps'] / bare_rps:.0%}; "
          f"one display polls twice a second, so {results['idle display poll (204)']['rps'] / 2:.0f} idle displays "
          f"would saturate this server")
    if delays:
        cuts = statistics.quantiles(delays, n=20, method="inclusive")
        print(f"donation -> on screen in Chromium, {len(delays)} donations: p50 {statistics.median(delays):.2f} s, "
              f"p95 {cuts[18]:.2f} s, max {max(delays):.2f} s")


if __name__ == "__main__":
    main()
