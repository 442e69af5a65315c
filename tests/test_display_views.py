"""The hall display's pages and its poll, through Flask's test client."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Donor, Drive, DriveStatus, Site, Visit
from tests.support.donations import ready_visits, record


@pytest.fixture
def drive_id(app, demo):
    return demo["drive_id"]


def _revision(app, drive_id) -> int:
    with app.app_context():
        return db.session.get(Drive, drive_id).revision


def test_the_all_sites_page_shows_the_tally_in_vietnamese(client, drive_id):
    page = client.get("/display").get_data(as_text=True)
    assert "Túi máu đã tiếp nhận" in page and 'lang="vi"' in page
    assert "Hành trình Đỏ 2026" in page
    assert page.count('class="site-card"') == 2
    assert 'data-url="/display/data"' in page and f'data-drive="{drive_id}"' in page
    assert "Mục tiêu" in page and "200" in page
    # nothing inline: the CSP would refuse it
    assert "<style" not in page and " style=" not in page and "onclick" not in page
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None


def test_the_page_shows_no_personal_data(app, client, drive_id):
    with app.app_context():
        [visit_id] = ready_visits(db.session)
        record(db.session, visit_id, "B-0001")
        donor = db.session.get(Visit, visit_id).donor
        name, id_number, token = donor.full_name, donor.id_number, db.session.get(Visit, visit_id).token
        last_names = [n for (n,) in db.session.execute(sa.select(Donor.full_name))]
    for url in ("/display", "/display/XNC", "/display/data", "/display/CSCD/data"):
        body = client.get(url).get_data(as_text=True)
        assert name not in body and id_number not in body and token not in body
        assert not any(full_name in body for full_name in last_names)


def test_each_site_has_its_walk_in_code(app, client, drive_id):
    page = client.get("/display").get_data(as_text=True)
    assert page.count("<svg") == 2
    assert "Đăng ký hiến máu tại chỗ: Hội trường Cục Quản lý xuất nhập cảnh" in page
    site_page = client.get("/display/XNC").get_data(as_text=True)
    assert site_page.count("<svg") == 1 and "walk-in-large" in site_page


def test_the_site_page_counts_its_site_and_the_whole_drive(app, client, drive_id):
    with app.app_context():
        xnc = ready_visits(db.session, 1, site_code="XNC")
        cscd = ready_visits(db.session, 2, site_code="CSCD")
        for number, visit_id in enumerate(xnc + cscd):
            record(db.session, visit_id, f"B-{number}")
    data = client.get("/display/XNC/data").get_json()
    assert (data["bags"], data["drive_bags"]) == (1, 3)
    page = client.get("/display/XNC").get_data(as_text=True)
    assert 'data-url="/display/XNC/data"' in page and "Cả đợt" in page


def test_an_unknown_site_is_404(client, drive_id):
    assert client.get("/display/NOPE").status_code == 404
    assert client.get("/display/NOPE/data").status_code == 404


def test_the_poll_answers_204_until_something_changes(app, client, drive_id):
    first = client.get("/display/data")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    data = first.get_json()
    assert data["drive_id"] == drive_id and data["bags"] == 0
    unchanged = client.get(f"/display/data?drive={drive_id}&rev={data['revision']}")
    assert unchanged.status_code == 204 and unchanged.data == b""
    assert unchanged.headers["Cache-Control"] == "no-store"
    with app.app_context():
        [visit_id] = ready_visits(db.session)
        record(db.session, visit_id, "B-0001", volume=450)
    changed = client.get(f"/display/data?drive={drive_id}&rev={data['revision']}")
    assert changed.status_code == 200
    assert (changed.get_json()["bags"], changed.get_json()["volume_ml"]) == (1, 450)
    assert changed.get_json()["revision"] == _revision(app, drive_id)
    # another drive id (a new drive opened) or nonsense gets the whole snapshot, never an error
    assert client.get(f"/display/data?drive=999&rev={data['revision']}").status_code == 200
    assert client.get("/display/data?drive=x&rev=%00").status_code == 200


def test_without_a_drive_the_page_says_so_and_the_poll_is_empty(client, app):
    page = client.get("/display").get_data(as_text=True)
    assert "Chưa có đợt hiến máu nào đang mở" in page
    assert client.get("/display/data").status_code == 204


def test_numbers_use_the_vietnamese_separators(app, client, drive_id):
    with app.app_context():
        visits = ready_visits(db.session, 3)
        for number, visit_id in enumerate(visits):
            record(db.session, visit_id, f"B-{number}", volume=450)
    page = client.get("/display").get_data(as_text=True)
    assert ">1.350</dd>" in page and ">5,4</dd>" in page


def test_english_on_request(client, drive_id):
    client.set_cookie("lang", "en")
    page = client.get("/display").get_data(as_text=True)
    assert "Blood bags collected" in page and 'lang="en"' in page and ">0.0</dd>" in page


def test_a_closed_drive_still_shows_its_final_figures(app, client, drive_id):
    with app.app_context():
        db.session.get(Drive, drive_id).status = DriveStatus.CLOSED
        db.session.commit()
    page = client.get("/display").get_data(as_text=True)
    assert "Hành trình Đỏ 2026" in page


def test_many_sites_show_no_walk_in_codes_on_the_all_sites_view(app, client, drive_id):
    with app.app_context():
        drive = db.session.get(Drive, drive_id)
        for number in range(3):
            drive.sites.append(Site(code=f"S{number}", name=f"Điểm {number}"))
        db.session.commit()
    page = client.get("/display").get_data(as_text=True)
    assert page.count('class="site-card"') == 5 and "<svg" not in page
    assert client.get("/display/S1").get_data(as_text=True).count("<svg") == 1


def test_the_idle_poll_shortcut_answers_like_flask(app, client, demo):
    """The idle answer comes from kiosk.display_poll.IdlePollShortcut, before Flask: the same
    204, the same headers; a change, an unknown site or a malformed query goes on to Flask."""
    from kiosk import tally
    from kiosk.database import begin_write
    from kiosk.models import Drive

    with app.app_context():
        drive = db.session.get(Drive, demo["drive_id"])
        shown = f"?drive={drive.id}&rev={drive.revision}"
    # Flask's own views are taken away: an idle poll must not need them.
    flask_views = {name: app.view_functions[name] for name in ("display.hall_data", "display.site_data")}
    for name in flask_views:
        app.view_functions[name] = lambda **_: ("reached Flask", 500)
    for path in ("/display/data", "/display/XNC/data"):
        idle = client.get(path + shown)
        assert idle.status_code == 204 and idle.data == b""
        assert idle.headers["Cache-Control"] == "no-store"
        assert "script-src 'self'" in idle.headers["Content-Security-Policy"]
        assert idle.headers["X-Content-Type-Options"] == "nosniff"
    app.view_functions.update(flask_views)
    with app.app_context():
        begin_write(db.session)
        tally.touch_drive(db.session, demo["drive_id"])
        db.session.commit()
    changed = client.get("/display/data" + shown)
    assert changed.status_code == 200 and "bags" in changed.get_json()
    assert client.get("/display/NOPE/data" + shown).status_code == 404
    assert client.get("/display/%00/data" + shown).status_code == 404
    for query in ("?drive=x&rev=1", "?drive=1", "?drive=1&rev=" + "9" * 40, ""):
        assert client.get("/display/data" + query).status_code in (200, 204)


# ----- the two caches: the changed poll's answer per revision, the walk-in codes --------------

def test_the_other_displays_get_a_changed_answer_before_flask_with_flasks_headers(app, client, demo):
    """The first display to poll after a change gets its answer built by Flask; the hall's other
    displays get the same bytes and headers from kiosk.display_poll.IdlePollShortcut. Not with
    DISPLAY_PAIRING on, and not for a newer revision."""
    from kiosk import tally
    from kiosk.database import begin_write

    https = "https://localhost"  # over HTTPS, Flask's answers carry HSTS: the shortcut's too
    built = {(path, base): client.get(path + "?drive=0&rev=0", base_url=base)
             for path in ("/display/data", "/display/XNC/data") for base in ("http://localhost", https)}
    flask_views = {name: app.view_functions[name] for name in ("display.hall_data", "display.site_data")}
    for name in flask_views:
        app.view_functions[name] = lambda **_: ("reached Flask", 500)
    ignored = {"Date", "Set-Cookie"}
    for (path, base), first in built.items():
        assert first.status_code == 200 and "bags" in first.get_json()
        cached = client.get(path + "?drive=0&rev=1", base_url=base)
        assert cached.status_code == 200 and cached.data == first.data
        assert ({k: v for k, v in cached.headers.items() if k not in ignored}
                == {k: v for k, v in first.headers.items() if k not in ignored})
        assert ("Strict-Transport-Security" in cached.headers) == (base == https)
    revision = built[("/display/data", https)].get_json()["revision"]
    idle = client.get(f"/display/data?drive={demo['drive_id']}&rev={revision}", base_url=https)
    assert idle.status_code == 204 and idle.headers["Strict-Transport-Security"] == app.config["STRICT_TRANSPORT_SECURITY"]
    app.config["DISPLAY_PAIRING"] = "required"
    assert client.get("/display/data?drive=0&rev=0").status_code == 403  # Flask checks the pairing: none here
    app.config["DISPLAY_PAIRING"] = False
    with app.app_context():
        begin_write(db.session)
        tally.touch_drive(db.session, demo["drive_id"])
        db.session.commit()
    assert client.get("/display/data?drive=0&rev=0").status_code == 500  # a new revision: Flask builds it
    app.view_functions.update(flask_views)
    assert client.get("/display/data?drive=0&rev=0").get_json()["revision"] == revision + 1


def test_a_changed_poll_is_built_once_per_revision_and_again_after_a_change(app, client, drive_id, monkeypatch):
    from kiosk import tally as tally_module

    built = []
    real_snapshot = tally_module.snapshot
    monkeypatch.setattr(tally_module, "snapshot", lambda *args, **kwargs: built.append(args[1:]) or
                        real_snapshot(*args, **kwargs))
    first = client.get("/display/data").get_json()
    assert client.get("/display/data?drive=999&rev=0").get_json() == first  # another display: the same answer
    assert len(built) == 1
    site_answer = client.get("/display/XNC/data").get_json()  # a site's own figures are cached apart
    assert len(built) == 2 and site_answer["revision"] == first["revision"]
    with app.app_context():
        [visit_id] = ready_visits(db.session, site_code="XNC")
        record(db.session, visit_id, "B-0001", volume=450)
    changed = client.get("/display/data").get_json()
    assert len(built) == 3  # a new revision: counted again
    assert (changed["bags"], changed["volume_ml"]) == (1, 450) and changed["revision"] == _revision(app, drive_id)
    assert client.get("/display/XNC/data").get_json()["bags"] == 1
    assert client.get("/display/data").get_json() == changed and len(built) == 4


def test_a_cached_poll_answer_is_built_again_once_it_is_old(app, client, drive_id, monkeypatch):
    from kiosk.views.display import SNAPSHOTS

    with app.app_context():
        site = db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one()
        old_name = site.name
    assert client.get("/display/data").get_json()["by_site"][1]["name"] == old_name
    with app.app_context():
        # A rename bumps no revision (nothing counted changed).
        db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one().name = "Hội trường mới"
        db.session.commit()
    names = [site["name"] for site in client.get("/display/data").get_json()["by_site"]]
    assert old_name in names  # the same revision: the cached answer
    app.extensions[SNAPSHOTS].max_age = 0
    names = [site["name"] for site in client.get("/display/data").get_json()["by_site"]]
    assert "Hội trường mới" in names and old_name not in names


def test_the_walk_in_codes_are_drawn_once_and_again_for_a_new_name(app, client, drive_id):
    from kiosk.qr import cached_qr_svg

    cached_qr_svg.cache_clear()
    client.get("/display")
    drawn = cached_qr_svg.cache_info()
    assert (drawn.misses, drawn.hits) == (2, 0)
    first = client.get("/display").get_data(as_text=True)
    assert cached_qr_svg.cache_info().hits == 2 and cached_qr_svg.cache_info().misses == 2
    with app.app_context():
        db.session.scalars(sa.select(Site).where(Site.code == "XNC")).one().name = "Hội trường mới"
        db.session.commit()
    page = client.get("/display").get_data(as_text=True)
    assert cached_qr_svg.cache_info().misses == 3  # the renamed site's code (its label) is drawn again
    assert "Đăng ký hiến máu tại chỗ: Hội trường mới" in page and "Hội trường mới" not in first
