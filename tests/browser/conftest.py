"""Browser tests: Playwright driving Debian's Chromium (headless) against the app served on loopback.

Every page a test opens is checked for CSP violations and script errors, and `check_page`
runs axe-core on it (no serious or critical violation) and keeps a screenshot in
test-artifacts/screens/ for a person to look at."""
from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from werkzeug.serving import ThreadedWSGIServer

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ROOT / "test-artifacts" / "screens"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TABLET = {"width": 768, "height": 1024}
LAPTOP = {"width": 1280, "height": 800}
PROJECTOR = {"width": 1920, "height": 1080}
SMALL_PROJECTOR = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}



def pytest_collection_modifyitems(config, items):
    # A conftest's pytestmark does not reach the tests, so the marker is put on them here:
    # `-m browser` selects exactly the tests in this folder.
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


def _answers_read_whole(app):
    """The app, with each answer read whole and its iterable closed before the server writes a byte.

    Werkzeug's development server, unlike gunicorn, does not close an answer's iterable when the
    browser drops the connection in the middle of it (the page's icon cut short by the next
    navigation): the static file stays open until the garbage collector finds it, and its
    ResourceWarning, an error here (filterwarnings = error), fails whichever test is running then.
    CI met it once in test_device_pairing. No answer of the app streams, so nothing is lost."""
    def read_whole(environ, start_response):
        iterable = app(environ, start_response)
        try:
            return [b"".join(iterable)]
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
    return read_whole


class _ServerThatFinishesItsRequests(ThreadedWSGIServer):
    """Werkzeug's threaded server, whose server_close() also ends its connections and waits for their threads.

    Werkzeug's own runs each connection in a daemon thread that nothing joins: a request still in
    the app when a test ends (the display's poll, in flight as the browser closed) went on after the
    test had closed the app's database pool, and gave its connection back to the closed pool. The
    database was then dropped under it, and the connection, still open, was found by the garbage
    collector in some later test: psycopg's ResourceWarning, an error here, failed that test (CI met
    it once, in test_a_vaccine_kind_on_the_phone on PostgreSQL)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._connections_lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True)
        with self._connections_lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(threading.current_thread(), None)

    def server_close(self):
        super().server_close()
        with self._connections_lock:
            connections = dict(self._connections)
        for connection in connections.values():
            # A kept-alive connection waits for the browser's next request: end it. A request in the
            # app still gets its answer, and then reads the end of the connection.
            try:
                connection.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        for thread in connections:
            thread.join(timeout=30)
            if thread.is_alive():
                raise RuntimeError("a request to the test server was still running 30 s after it stopped")


class LiveServer:
    """The app on 127.0.0.1 and a free port, in a thread of this process. It can be stopped and
    started again on the same port, as a laptop on the venue's Wi-Fi can. Once stopped, no request
    of it is still running in the app."""

    def __init__(self, app, request_handler=None):
        self.app = app
        self._request_handler = request_handler
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self._server = _ServerThatFinishesItsRequests("127.0.0.1", self.port, _answers_read_whole(self.app),
                                                     handler=self._request_handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    app.config["BASE_URL"] = server.url
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: the README's test command installs it")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


class PageProblems:
    """CSP violations and uncaught script errors seen by a page; any of them fails the test."""

    def __init__(self):
        self.items: list[str] = []

    def watch(self, page):
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        return page

    def _console(self, message):
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.items.append(f"CSP: {text} at {message.location}")


@pytest.fixture
def page_problems():
    problems = PageProblems()
    yield problems
    assert problems.items == [], problems.items


@pytest.fixture
def new_context(browser, page_problems):
    """new_context(viewport=..., locale=...) -> a fresh browser context (its own cookies)."""
    contexts = []

    def make(viewport=TABLET, **options):
        context = browser.new_context(viewport=viewport, locale=options.pop("locale", "vi-VN"),
                                      timezone_id=options.pop("timezone_id", "Asia/Ho_Chi_Minh"), **options)
        context.set_default_timeout(10_000)
        context.on("page", page_problems.watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


def run_axe(page) -> list[dict]:
    """Serious and critical violations on the page as it stands.

    axe is evaluated through the DevTools protocol, which the page's CSP does not govern,
    so the app's own policy stays strict during the check."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: the README's test command runs `npm ci`")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    results = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return [v for v in results if v["impact"] in ("serious", "critical")]


def wait_until(page, expression: str, timeout_ms: int = 5_000) -> None:
    """Poll `expression` in the page until it is true. (page.wait_for_function compiles its string
    in the page, which the app's CSP forbids; evaluate goes through DevTools, which it does not govern.)"""
    for _ in range(timeout_ms // 50):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    assert page.evaluate(expression), f"still false after {timeout_ms} ms: {expression}"


def wait_for_next_screen(page, step_name: str) -> None:
    """Wait until the screen `step_name` has given way to the next one. Waiting only for it to leave
    is not enough on the phone, where each screen is a new page: the old one is gone as soon as the
    new document starts, before its form is parsed, and a count made then finds no screen at all.
    Nor is the next screen's form enough there: it is matched as soon as its opening tag is parsed,
    with its questions (and the stylesheet, which shows a "yes"'s details) possibly still to come;
    so the new page's load is waited for too. (At the kiosk the screens are htmx swaps, made whole
    in one task, and the page's load is long done: that wait returns at once.)
    On a timeout it says which screen stood and what it said (an answer refused, a lost tap), as
    the bare timeout of a busy CI machine did not."""
    try:
        page.wait_for_selector(f"[data-step]:not([data-step='{step_name}']), .outcome", timeout=20_000)
    except Exception as timeout:
        steps = page.locator("[data-step]")
        shown = steps.first.get_attribute("data-step") if steps.count() else "no step"
        notices = page.locator("[role=alert], .notice").all_inner_texts()
        checked = page.locator("input[type=radio]:checked").evaluate_all("els => els.map(e => e.id)")
        raise AssertionError(f"still on {shown!r} after leaving {step_name!r}; notices {notices}; "
                             f"checked {checked}") from timeout
    page.wait_for_load_state()


def check_page(page, name: str) -> None:
    """axe finds nothing serious; a screenshot is kept for a person to look at."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
    violations = run_axe(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


@pytest.fixture
def signed_in(new_context, live_server):
    """signed_in("nurse"|"organiser", viewport=...) -> a page whose context is signed in."""
    from tests.conftest import NURSE_PASSWORD, ORGANISER_PASSWORD

    def make(role: str, viewport=LAPTOP):
        page = new_context(viewport=viewport).new_page()
        page.goto(f"{live_server.url}/auth/sign-in")
        page.fill("#username", "yta" if role == "nurse" else "bantochuc")
        page.fill("#password", NURSE_PASSWORD if role == "nurse" else ORGANISER_PASSWORD)
        # The click returns once the POST has started; the old page's load state still holds then, so
        # waiting for "load" alone could return at once, and a goto made next would cancel the
        # sign-in (its cookie lost). expect_navigation waits for the page it leads to to load.
        with page.expect_navigation():
            page.click("#sign-in-submit")
        return page

    return make


@pytest.fixture(autouse=True)
def _quiet_werkzeug():
    # The test server's request log would print pass URLs, which carry tokens.
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
