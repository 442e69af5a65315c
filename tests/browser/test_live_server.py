"""The browser tests' own server: once stopped, nothing of it runs in the app any more.

A request still in the app after a test ended used the app's database after the test had closed
it (see _ServerThatFinishesItsRequests); these tests hold the server to that."""
from __future__ import annotations

import gc
import http.client
import threading

import flask
import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from tests.browser.conftest import LiveServer


@pytest.fixture
def slow_app():
    app = flask.Flask(__name__)
    app.entered, app.release, app.finished = threading.Event(), threading.Event(), threading.Event()

    @app.get("/slow")
    def slow():
        app.entered.set()
        app.release.wait(10)
        app.finished.set()
        return "slow"

    @app.get("/quick")
    def quick():
        return "quick"

    return app


def test_stop_waits_for_a_request_still_in_the_app(slow_app):
    server = LiveServer(slow_app).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    answers = []
    asking = threading.Thread(target=lambda: answers.append(_ask(connection, "/slow")), daemon=True)
    asking.start()
    assert slow_app.entered.wait(5)
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(0.5)
    assert stopping.is_alive(), "stop() returned while a request was still in the app"
    slow_app.release.set()
    stopping.join(10)
    assert not stopping.is_alive()
    assert slow_app.finished.is_set()
    asking.join(5)
    assert answers == [b"slow"]  # the request in flight was answered
    connection.close()


def test_stop_ends_a_kept_alive_connection(slow_app):
    server = LiveServer(slow_app).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    assert _ask(connection, "/quick") == b"quick"
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(10)
    assert not stopping.is_alive(), "stop() waited on a connection the browser kept open"
    # The browser's next request on its kept-alive connection reaches no app.
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        _ask(connection, "/quick")
    connection.close()


@pytest.mark.both_databases
def test_a_request_in_flight_when_a_test_ends_gives_its_connection_back_before_the_pool_closes(app):
    """What a browser test's teardown does: the server stopped, then the app's pool closed. On
    PostgreSQL a connection given back to the closed pool stayed open, and psycopg's ResourceWarning
    at garbage collection is an error in this suite; without the fix this test fails with it."""
    entered, release = threading.Event(), threading.Event()
    app_itself = app.wsgi_app

    def with_a_slow_request(environ, start_response):
        if environ["PATH_INFO"] != "/slow":
            return app_itself(environ, start_response)
        with app.app_context():  # as a view does: the session's connection, given back at the end
            db.session.execute(sa.text("SELECT 1"))
            entered.set()
            release.wait(10)
            db.session.remove()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    app.wsgi_app = with_a_slow_request
    server = LiveServer(app).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    asking = threading.Thread(target=lambda: _ask(connection, "/slow"), daemon=True)
    asking.start()
    assert entered.wait(5)
    threading.Timer(0.5, release.set).start()
    server.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    asking.join(5)
    connection.close()
    gc.collect()  # a connection left open warns here


def _ask(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    return connection.getresponse().read()
