"""20 donors check in at one site at the same instant, through gunicorn with several workers on
SQLite: 20 distinct, consecutive queue numbers; a retried request records nothing new."""
from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import QuestionnaireResponse, Site, TallyCounter, Visit
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.tokens import new_nonce
from tests.support.server import Server, environment

DONORS = 20


@pytest.fixture
def served(app, demo, tmp_path):
    """The test's database served by gunicorn: 3 worker processes, as `kiosk serve` runs it."""
    server = Server(tmp_path / "server.log", workers=3, threads=4,
                    env=environment(KIOSK_INSTANCE_PATH=str(tmp_path), KIOSK_SECRET_KEY="concurrency-test",
                                    KIOSK_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"]))
    with server:  # started, and stopped after the test
        yield {"url": server.url, "log": server.log_path, "stop": server.stop}


class Tablet:
    """One kiosk tablet: its own cookies and CSRF token."""

    def __init__(self, url: str):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.opener.open(url + "/kiosk/XNC", timeout=10).read().decode()
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def post(self, path: str, data: dict) -> str:
        request = urllib.request.Request(self.url + path, data=urllib.parse.urlencode(data).encode(),
                                         headers={"HX-Request": "true", "X-CSRFToken": self.csrf})
        with self.opener.open(request, timeout=30) as response:
            assert response.status == 200
            return response.read().decode()


@pytest.mark.slow
def test_twenty_simultaneous_check_ins_get_consecutive_numbers(app, served):
    questionnaire = load_questionnaire()
    with app.app_context():
        visits = db.session.scalars(sa.select(Visit).join(Site).where(Site.code == "XNC").limit(DONORS)).all()
        tokens_and_sex = [(v.token, v.donor.sex) for v in visits]
    assert len(tokens_and_sex) == DONORS

    prepared = []
    for token, sex in tokens_and_sex:
        tablet = Tablet(served["url"])
        page = tablet.post("/kiosk/XNC/scan", {"pass_code": token, "nonce": new_nonce()})
        found = re.search(r'name="ks" value="([^"]+)"', page)
        assert found, page[:2000]
        kiosk_session = found.group(1)
        groups = questionnaire.groups_for(sex)
        answers = {item.id: "no" for item in questionnaire.items_for(sex)} | {"consent": "yes"}
        form = {"ks": kiosk_session, "step": str(len(groups) - 1), "action": "next", "nonce": new_nonce(), **answers}
        prepared.append((tablet, form))

    start = threading.Barrier(DONORS)
    numbers: dict[int, str] = {}

    def check_in(index: int) -> None:
        tablet, form = prepared[index]
        start.wait()
        page = tablet.post("/kiosk/XNC/questionnaire", form)
        numbers[index] = re.search(r"data-queue-number>(\d+)<", page).group(1)

    threads = [threading.Thread(target=check_in, args=(i,)) for i in range(DONORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(int(n) for n in numbers.values()) == list(range(1, DONORS + 1))

    # Every tablet retries its request (a lost answer on the Wi-Fi): the same number, nothing new.
    for index, (tablet, form) in enumerate(prepared):
        page = tablet.post("/kiosk/XNC/questionnaire", form)
        assert re.search(r"data-queue-number>(\d+)<", page).group(1) == numbers[index]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuestionnaireResponse)) == DONORS
        assert db.session.scalar(sa.select(sa.func.sum(TallyCounter.checked_in))) == DONORS
        queue_numbers = db.session.scalars(sa.select(Visit.queue_number).where(Visit.queue_number.is_not(None))).all()
        assert sorted(queue_numbers) == list(range(1, DONORS + 1))
    # The server logged every request, and no pass token, kiosk session or name is in its log.
    served["stop"]()  # gunicorn writes its access log in buffered lines: all of it is there once it has stopped
    log = served["log"].read_text()
    assert log.count('"POST"') >= 3 * DONORS
    for token, _sex in tokens_and_sex:
        assert token not in log
    assert "/kiosk/" not in log and "/p/" not in log
