"""Plain HTTP clients with cookies and CSRF tokens, and the figures of a run.

Standard library only (http.client): the clients must see every status as it is, redirects
and errors included, and a dropped connection as an exception."""
from __future__ import annotations

import http.client
import http.cookies
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Optional

from tests.support.pages import Unexpected


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


def expect(response: Response, *statuses: int, what: str = "") -> Response:
    if response.status not in statuses:
        raise Unexpected(f"{what}: {response.status} (expected {statuses}): {response.text[:300]!r}")
    return response


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['requests']} requests in {summary['seconds']:.1f} s ({summary['per_second']:.1f}/s), "
             f"{summary['server_errors']} 5xx; latency p50 {summary['p50_ms']:.0f} ms, p95 {summary['p95_ms']:.0f} ms, "
             f"p99 {summary['p99_ms']:.0f} ms, max {summary['max_ms']:.0f} ms"]
    for kind, figures in summary["by_kind"].items():
        lines.append(f"  {kind:<16} {figures['requests']:>6}  p50 {figures['p50_ms']:>6.0f} ms  "
                     f"p95 {figures['p95_ms']:>6.0f} ms")
    return "\n".join(lines)

