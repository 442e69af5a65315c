"""What the benchmarks share: a bare Flask app to serve under the same settings as the app, and a
load generator (wrk with a Lua script, or Python threads if wrk is missing). Both apps are served
by tests.support.server (gunicorn started the production way, kiosk.cli.gunicorn_command).

A scenario is a list of requests to cycle through (or to use once each), the headers every
request carries, and what a right answer looks like (a status and a piece of the body). Every
answer is checked: a wrong status or a wrong page is counted apart and never as throughput."""
from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BARE_APP = '''"""The yardstick: Flask answering "ok", nothing else."""
from flask import Flask

app = Flask(__name__)


@app.get("/ok")
def ok():
    return "ok"
'''
NONCE_MARK = "@@NONCE@@"  # replaced in each request's body by a nonce of its own
USER_AGENT = "kiosk-bench"  # the same on every request: Flask-Login's "strong" sessions check it

# One wrk Lua script for every scenario. Each wrk thread reads the request file and takes
# every n-th line (path TAB body); a request file used "once" sends a 404-bound request when it
# runs out, which is counted as exhausted. response() checks status and body; done() adds up
# the threads' counts and prints one line for the harness to parse.
WRK_SCRIPT = r'''
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  table.insert(threads, thread)
  next_id = next_id + 1
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  cycle = args[3] == "cycle"
  expect_status = tonumber(args[4])
  marker = args[5]
  tag = args[6]
  method = args[7]
  local all = {}
  for line in io.lines(file) do
    local tab = string.find(line, "\t", 1, true)
    table.insert(all, {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)})
  end
  items = {}
  for index, item in ipairs(all) do
    if (index - 1) % nthreads == tid - 1 then
      table.insert(items, item)
    end
  end
  if cycle and #items == 0 then
    items = all  -- fewer requests than threads (one URL polled): every thread cycles them all
  end
  position, sent, bad, exhausted = 0, 0, 0, 0
end

function request()
  position = position + 1
  if position > #items then
    if cycle then
      position = 1
    else
      exhausted = exhausted + 1
      return wrk.format("GET", "/bench-ran-out-of-prepared-requests")
    end
  end
  sent = sent + 1
  local item = items[position]
  local body = item[2]
  if body == "" then
    return wrk.format(method, item[1])
  end
  local nonce = string.format("%st%dn%09d", tag, tid, sent)
  body = string.gsub(body, "@@NONCE@@", nonce)
  return wrk.format(method, item[1], nil, body)
end

function response(status, headers, body)
  if status ~= expect_status or (marker ~= "" and not string.find(body, marker, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total, exhausted_total = 0, 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
    exhausted_total = exhausted_total + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, bad_total, exhausted_total))
end
'''


@dataclass
class Scenario:
    name: str
    requests: list[tuple[str, str]]  # (path, body); a body holds NONCE_MARK where the nonce goes
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    cycle: bool = True  # False: each request once (a write that needs its own target)
    expect_status: int = 200
    marker: str = ""  # a piece of the body every right answer has


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    socket_errors: int
    wrong: int  # a status or a page other than expected (includes exhausted)
    exhausted: int  # requests sent after the prepared ones ran out

    @property
    def good(self) -> int:
        return self.requests - self.wrong

    @property
    def rps(self) -> float:
        """Right answers per second: a wrong answer is never counted as throughput."""
        return self.good / self.seconds if self.seconds else 0.0


def http_request(base_url: str, method: str, path: str, body: str = "",
                 headers: Optional[dict[str, str]] = None) -> tuple[int, str, dict[str, str]]:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        all_headers = {"User-Agent": USER_AGENT} | (headers or {})
        if body:
            all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        connection.request(method, path, body=body.encode() if body else None, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
    finally:
        connection.close()


def ensure_wrk() -> Optional[str]:
    """wrk's path: installed with apt-get (Debian's `wrk`) when missing and we may; None otherwise."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            return None
        apt = ["sudo", "-n", *apt]
    print("wrk is missing: installing Debian's wrk ...", flush=True)
    try:
        subprocess.run(apt, check=True, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (subprocess.SubprocessError, OSError):
        return None
    return shutil.which("wrk")


class LoadGenerator:
    def __init__(self, work: Path, wrk: Optional[str], *, seconds: int, connections: int, wrk_threads: int = 2):
        self.work = work
        self.wrk = wrk
        self.seconds = seconds
        self.connections = connections
        self.wrk_threads = max(1, min(wrk_threads, connections))  # wrk wants a connection per thread at least
        self.script = work / "scenario.lua"
        self.script.write_text(WRK_SCRIPT)

    @property
    def name(self) -> str:
        return (f"wrk, {self.wrk_threads} threads" if self.wrk else "Python threads (wrk not found)")

    def run(self, base_url: str, scenario: Scenario) -> Result:
        if self.wrk:
            return self._run_wrk(base_url, scenario)
        return self._run_threads(base_url, scenario)

    def _run_wrk(self, base_url: str, scenario: Scenario) -> Result:
        requests_file = self.work / f"requests-{secrets.token_hex(4)}.tsv"
        requests_file.write_text("".join(f"{path}\t{body}\n" for path, body in scenario.requests))
        headers = {"User-Agent": USER_AGENT} | scenario.headers
        if scenario.method == "POST":
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        command = [self.wrk, "-t", str(self.wrk_threads), "-c", str(self.connections), "-d", f"{self.seconds}s",
                   "--timeout", "10s", "-s", str(self.script)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        tag = "b" + secrets.token_hex(4)
        command += [base_url, "--", str(requests_file), str(self.wrk_threads),
                    "cycle" if scenario.cycle else "once", str(scenario.expect_status), scenario.marker, tag,
                    scenario.method]
        done = subprocess.run(command, capture_output=True, text=True, timeout=self.seconds + 60)
        requests_file.unlink()
        match = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", done.stdout, re.M)
        if done.returncode != 0 or match is None:
            raise RuntimeError(f"wrk failed for {scenario.name}:\n{done.stdout}\n{done.stderr}")
        requests, duration_us, p50, p95, p99, socket_errors, wrong, exhausted = map(int, match.groups())
        return Result(requests, duration_us / 1e6, p50 / 1000, p95 / 1000, p99 / 1000, socket_errors, wrong,
                      exhausted)

    def _run_threads(self, base_url: str, scenario: Scenario) -> Result:
        """The fallback: one thread and one keep-alive connection per client. Slower than wrk
        (Python shares the two cores with the server), so its figures are lower for both apps."""
        host, port = base_url.removeprefix("http://").split(":")
        headers = {"User-Agent": USER_AGENT} | scenario.headers
        if scenario.method == "POST":
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        lock = threading.Lock()
        queue_position = [0]
        latencies: list[float] = []
        counts = {"wrong": 0, "socket": 0, "exhausted": 0}
        tag = "p" + secrets.token_hex(4)
        stop_at = time.monotonic() + self.seconds

        def next_request() -> Optional[tuple[str, str]]:
            with lock:
                index = queue_position[0]
                queue_position[0] += 1
            if index >= len(scenario.requests):
                if not scenario.cycle:
                    return None
                index %= len(scenario.requests)
            path, body = scenario.requests[index]
            return path, body.replace(NONCE_MARK, f"{tag}n{index:09d}")

        def client() -> None:
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            mine, wrong, socket_errors, exhausted = [], 0, 0, 0
            while time.monotonic() < stop_at:
                item = next_request()
                if item is None:
                    exhausted += 1
                    item = ("/bench-ran-out-of-prepared-requests", "")
                path, body = item
                started = time.perf_counter()
                try:
                    connection.request(scenario.method if body else "GET", path,
                                       body=body.encode() if body else None, headers=headers)
                    response = connection.getresponse()
                    text = response.read().decode("utf-8", "replace")
                except OSError:
                    socket_errors += 1
                    connection.close()
                    connection = http.client.HTTPConnection(host, int(port), timeout=10)
                    continue
                mine.append(time.perf_counter() - started)
                if response.status != scenario.expect_status or (scenario.marker and scenario.marker not in text):
                    wrong += 1
            connection.close()
            with lock:
                latencies.extend(mine)
                counts["wrong"] += wrong
                counts["socket"] += socket_errors
                counts["exhausted"] += exhausted

        started = time.monotonic()
        workers = [threading.Thread(target=client) for _ in range(self.connections)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
        return Result(len(latencies), elapsed, cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000, counts["socket"],
                      counts["wrong"], counts["exhausted"])
