"""gunicorn serving an app on a free port of 127.0.0.1, started as `kiosk serve` starts it
(kiosk.cli.gunicorn_command), in a session and process group of its own: `kill -9` of the group
takes the master and its workers at once, as a power cut would, and a stop leaves no worker
behind. The load, crash and multi-server tests, the wheel test and bench/ all start it here."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Mapping, Optional

ROOT = Path(__file__).resolve().parents[2]  # the checkout
# The server's log must never hold these (a lock that busy_timeout did not absorb, an unhandled error).
BAD_LOG_LINES = ("database is locked", "Traceback", "Unhandled error", "[CRITICAL]", "WORKER TIMEOUT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without a developer's KIOSK_* settings or PYTHONPATH, plus `settings`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_") and key != "PYTHONPATH"}
    # Load flows drive the kiosk without a paired device (tests/test_devices.py covers pairing).
    env["KIOSK_DEVICE_PAIRING"] = "off"
    env.update(settings)
    return env


class Server:
    """One server: gunicorn with `app` (or `command`, a program that ends up exec-ing gunicorn on
    `port`, such as `kiosk serve`), its output appended to `log_path`.

    KIOSK_BASE_URL defaults to the server's own URL. `start()` waits until `ready_path` answers
    200; `start(wait=False)` and `wait_until_ready()` start several servers at once."""

    def __init__(self, log_path: Path, *, env: Optional[Mapping[str, str]] = None, app: str = "kiosk.wsgi:app",
                 workers: int = 3, threads: Optional[int] = None, port: Optional[int] = None, cwd: Path = ROOT,
                 ready_path: str = "/healthz", command: Optional[list[str]] = None):
        from kiosk.cli import GUNICORN_THREADS, gunicorn_command

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = dict(environment() if env is None else env)
        self.env.setdefault("KIOSK_BASE_URL", self.url)
        self.command = command or [*gunicorn_command("127.0.0.1", self.port, workers, threads or GUNICORN_THREADS)[:-1], app]
        self.cwd = cwd
        self.ready_path = ready_path
        self.process: Optional[subprocess.Popen] = None
        self.starts = 0

    def start(self, *, wait: bool = True, timeout: float = 30) -> "Server":
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts + 1} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen(self.command, env=self.env, cwd=str(self.cwd), stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        if wait:
            self.wait_until_ready(timeout)
        return self

    def wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError(f"the server on port {self.port} did not start: " + self.log()[-3000:])
            time.sleep(0.1)

    def _answers(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", self.ready_path)
            response = connection.getresponse()
            response.read()
            return response.status == 200
        except OSError:
            return False
        finally:
            connection.close()

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
        """SIGTERM to the group (gunicorn's graceful stop, which writes out its buffered log), then
        SIGKILL if it is still there after 15 s."""
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

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers: every live process
        of the server's process group, read from /proc (Linux)."""
        if self.process is None:
            return 0.0
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # The command may hold spaces and parentheses: the fields start after the last ")".
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # a process that ended meanwhile
            if int(fields[2]) == self.process.pid:  # fields: state, ppid, pgrp, ..., utime (11), stime (12)
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def bad_log_lines(self) -> list[str]:
        return [line for line in self.log().splitlines() if any(bad in line for bad in BAD_LOG_LINES)]

    def __enter__(self) -> "Server":
        # `with server:` and `with server.start(...):` alike: started once, stopped on the way out.
        return self if self.process is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
