"""The two runs, whole: a drive's worst minute (kiosks, nurses and displays at once through
gunicorn) and the crash rounds (write load, `kill -9` of the server's process group, a restart,
the checks). The suite runs them shortened (tests/test_worst_minute.py, tests/test_crash.py);
bench/worst_minute.py and bench/crash_test.py run them at full length."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tests.support.client import Client, Stats
from tests.support.drive import Drive, build_drive
from tests.support.flows import NurseResult, kiosk_check_in, nurse_accept_and_bleed, nurse_find, sign_in
from tests.support.invariants import database_problems
from tests.support.pages import Unexpected
from tests.support.server import Server


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
    server = drive.server(workers=workers)
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
                 max_load: float = 3.0, at_least: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """Write load (kiosk check-ins, nurse decisions and donations) against gunicorn, `kill -9` of its
    whole process group at a random moment, a restart, and the checks; `kills` times. The last
    round's load goes on, past its random moment, until `at_least` (check-ins, donations) have been
    answered in all (a minute at most): on a busy machine the nurses may not have reached a
    donation in the rounds' few seconds, and the checks would then have no donation to check."""
    import random

    rng = random.Random(seed)
    drive = build_drive(directory, extra_donors=extra_donors, nurses=4, template=template)
    pool, ledger = Pool(drive), Ledger()
    server = drive.server(workers=workers)
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
            if round_number == kills:
                deadline = time.monotonic() + 60
                while ((len(ledger.checked_in) < at_least[0] or len(ledger.donations()) < at_least[1])
                       and time.monotonic() < deadline):
                    time.sleep(0.05)
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
