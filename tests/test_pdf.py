"""Pass sheets as PDF files: from `kiosk passes --out X.pdf` and from the console, built in the
background; read back with poppler (pdftotext, pdftoppm) and zbarimg, independently of our code."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Department, Donor, Site, Visit
from kiosk.database import write_transaction
from kiosk.models import PdfBuild, PdfBuildLock
from kiosk.pdf_builds import STALE_SECONDS, BuildState, PdfBuilds
from tests.support.pages import console_csrf

DPI = 200  # a print shop prints at 300 or more
LOOK_AT = Path(__file__).resolve().parent.parent / "test-artifacts" / "passes-long-drive-name.pdf"


def pdf_text(path: Path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFC", " ".join(text.split()))


def decoded_qr_codes(path: Path, folder: Path) -> list[str]:
    """Each pass's code read on its own, as a tablet's camera reads one pass (zbar given a whole
    page of eight now and then misses one it reads alone)."""
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(path), str(folder / "page")], check=True)
    mm = DPI / 25.4
    codes = []
    for image in sorted(folder.glob("page-*.png")):
        with Image.open(image) as page:
            for row in range(4):
                for column in range(2):
                    cell = folder / "cell.png"
                    page.crop((int((8 + column * 97) * mm), int((8 + row * 70) * mm),
                               int((8 + (column + 1) * 97) * mm), int((8 + (row + 1) * 70) * mm))).save(cell)
                    found = subprocess.run(["zbarimg", "--quiet", "--raw", str(cell)], capture_output=True, text=True)
                    codes += found.stdout.split()
    return codes


def expected_passes(app, site_code: str) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(Donor.full_name, Visit.token).join(Visit, Visit.donor_id == Donor.id)
                                  .join(Site, Visit.site_id == Site.id).where(Site.code == site_code)).all()
    return [(name, token) for name, token in rows]


@pytest.mark.slow
def test_cli_writes_a_real_pdf_whose_names_read_and_codes_scan(app, runner, demo, tmp_path):
    out = tmp_path / "passes.pdf"
    result = runner.invoke(args=["passes", "--site", "CSCD", "--out", str(out)])
    assert result.exit_code == 0, result.output
    body = out.read_bytes()
    assert body.startswith(b"%PDF-")
    expected = expected_passes(app, "CSCD")
    assert len(expected) > 8
    text = pdf_text(out)
    for name, _token in expected:
        assert unicodedata.normalize("NFC", name) in text  # Vietnamese as text (a font with its diacritics), not drawn shapes
    pages = tmp_path / "pages"
    pages.mkdir()
    codes = decoded_qr_codes(out, pages)
    assert sorted(codes) == sorted(f"{app.config['BASE_URL']}/p/{token}" for _name, token in expected)


def test_cli_html_sheet_stays_html_and_an_unknown_suffix_is_refused(runner, demo, tmp_path):
    html = tmp_path / "passes.HTML"
    result = runner.invoke(args=["passes", "--site", "XNC", "--out", str(html)])
    assert result.exit_code == 0, result.output
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    for name in ("passes.docx", "passes"):
        refused = runner.invoke(args=["passes", "--out", str(tmp_path / name)])
        assert refused.exit_code == 2
        assert ".pdf" in refused.output and ".html" in refused.output and name in refused.output
        assert not (tmp_path / name).exists()


def _department(app, name="Cục Cảnh sát giao thông"):
    with app.app_context():
        department = db.session.scalars(sa.select(Department).where(Department.name == name)).one()
        count = db.session.scalar(sa.select(sa.func.count(Visit.id)).join(Donor, Donor.id == Visit.donor_id)
                                  .where(Donor.department_id == department.id))
        return department.id, count


def _wait_until_done(client, url: str, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        if 'hx-trigger="every 1s"' not in page:
            return page
        time.sleep(0.5)
    raise AssertionError("the PDF was not made in time")


@pytest.mark.slow
def test_console_builds_the_pdf_in_the_background_and_serves_it_whole(app, client, auth, demo, tmp_path):
    auth.as_organiser()
    drive_id = demo["drive_id"]
    department_id, count = _department(app)
    passes_page = client.get(f"/admin/drives/{drive_id}/passes").get_data(as_text=True)
    assert "Tạo PDF" in passes_page and f"/passes/drives/{drive_id}/pdf" in passes_page
    download = f"/passes/drives/{drive_id}/passes.pdf?department={department_id}"
    assert client.get(download).status_code == 404  # not made yet

    started = client.post(f"/passes/drives/{drive_id}/pdf", data={"department": str(department_id), "csrf_token": console_csrf(client)},
                          headers={"HX-Request": "true"})
    assert started.status_code == 200
    page = started.get_data(as_text=True)
    if 'hx-trigger="every 1s"' in page:  # still running: the bar, polled
        assert "<progress" in page
        again = client.post(f"/passes/drives/{drive_id}/pdf", data={"csrf_token": console_csrf(client)},
                            headers={"HX-Request": "true"})
        assert again.status_code in (200, 409)  # one build per drive: the second waits, or the first had ended
    done = _wait_until_done(client, f"/passes/drives/{drive_id}/pdf?department={department_id}")
    assert "Tải PDF" in done and f"{count} thẻ" in done

    response = client.get(download)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert "attachment" in response.headers["Content-Disposition"]
    assert "Cuc" not in response.headers["Content-Disposition"]  # the drive's date and ids, no names
    saved = tmp_path / "console.pdf"
    saved.write_bytes(response.data)
    assert "Cục Cảnh sát giao thông" in pdf_text(saved)
    assert not (Path(app.instance_path) / "pdf").exists()  # in the database, not on this server's disk
    with app.app_context():
        assert db.session.scalar(sa.select(PdfBuild.size).where(PdfBuild.state == "done")) == len(response.data)

    # The list changes: the file made earlier is out of date and is offered to be made again.
    with app.app_context():
        visit = db.session.scalars(sa.select(Visit).join(Donor, Donor.id == Visit.donor_id)
                                   .where(Donor.department_id == department_id)).first()
        visit.donor.full_name = "Nguyễn Văn Mới"
        db.session.commit()
    stale = client.get(f"/passes/drives/{drive_id}/pdf?department={department_id}",
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Tải PDF" not in stale and "Tạo PDF" in stale


def test_without_htmx_the_post_returns_to_the_passes_page(app, client, auth, demo):
    app.config["PDF_BUILDS_IN_BACKGROUND"] = False
    auth.as_organiser()
    drive_id = demo["drive_id"]
    department_id, _count = _department(app, "Bộ Tư lệnh Cảnh sát cơ động")
    response = client.post(f"/passes/drives/{drive_id}/pdf", data={"department": str(department_id),
                                                                   "csrf_token": console_csrf(client)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/drives/{drive_id}/passes#pdf-passes-{drive_id}"
                                                  f"-department-{department_id}")
    assert client.get(f"/passes/drives/{drive_id}/passes.pdf?department={department_id}").status_code == 200
    assert client.post(f"/passes/drives/{drive_id}/pdf", data={"site": "NOPE", "csrf_token": console_csrf(client)}).status_code == 404


def test_a_build_cut_short_shows_as_interrupted_and_one_build_a_drive_at_a_time(app):
    with app.app_context():
        builds = PdfBuilds(db.engine)
        builds._write_state("passes-1-all", BuildState("building", 2, 9))  # its process died: no lock held
        assert builds.state("passes-1-all", "passes-1").state == "interrupted"

        assert builds._claim("passes-1", "another-server")  # as a build running on another server would
        assert builds.state("passes-1-all", "passes-1").state == "building"
        assert not builds.start("passes-1-site-2", "passes-1", lambda progress: b"%PDF-", 1, 1, "f", background=False)
        assert builds.start("passes-2-all", "passes-2", lambda progress: b"%PDF-2", 1, 1, "f", background=False)
        # That server dies: its lock is not renewed, and after STALE_SECONDS the build shows as cut short.
        with write_transaction(db.session):
            db.session.execute(sa.update(PdfBuildLock).values(
                heartbeat=PdfBuildLock.heartbeat - dt.timedelta(seconds=STALE_SECONDS + 1)))
        assert builds.state("passes-1-all", "passes-1").state == "interrupted"

        assert builds.start("passes-1-all", "passes-1", lambda progress: b"%PDF-1", 1, 3, "f", background=False)
        done = builds.state("passes-1-all", "passes-1")
        assert (done.state, done.items, done.size) == ("done", 3, 6)
        assert builds.pdf("passes-1-all") == b"%PDF-1" and builds.pdf("passes-1-site-2") is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PdfBuildLock)) == 0  # let go when done

        def failing(progress):
            progress(1)
            raise RuntimeError("out of memory")
        assert builds.start("passes-1-all", "passes-1", failing, 2, 3, "f", background=False)
        assert builds.state("passes-1-all", "passes-1").state == "failed"
        assert builds.pdf("passes-1-all") is None


def test_a_long_drive_name_is_printed_whole_on_every_pass(app, demo, tmp_path):
    """Wrapped, never cut: "Hành trình Đỏ 2026 – Giọt máu nghĩa tình vì đồng đội thân yêu" lost its
    "THÂN YÊU" to a two-line clamp, the cut lines drawn under the donor's name. Read back with poppler."""
    from kiosk.models import Drive
    from kiosk.passes import pass_cards
    from kiosk.views.pdf import pass_sheet_pdf

    with app.test_request_context():
        drive = db.session.get(Drive, demo["drive_id"])
        drive.name = "Hành trình Đỏ 2026 – Giọt máu nghĩa tình vì đồng đội thân yêu – Công an thành phố Hà Nội"
        visit_ids = db.session.scalars(sa.select(Visit.id).where(Visit.drive_id == drive.id).limit(8)).all()
        cards = pass_cards(db.session, drive, app.config["BASE_URL"], visit_ids=list(visit_ids), qr_image="png")
        out = tmp_path / "passes.pdf"
        out.write_bytes(pass_sheet_pdf(drive, cards))
    if LOOK_AT.parent.is_dir():
        LOOK_AT.write_bytes(out.read_bytes())  # for a person to look at
    # The words a clamp cuts are at the name's end; each pass shows them, inside its own cell.
    boxes = subprocess.run(["pdftotext", "-bbox", str(out), "-"], capture_output=True, text=True, check=True).stdout
    words = [(float(m[1]), float(m[2]), float(m[3]), float(m[4]), unicodedata.normalize("NFC", m[5]))
             for m in re.finditer(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', boxes)]
    assert [word[4] for word in words].count("NỘI") == 8
    # Cut text drawn over the donor's name would overlap it: no two words overlap (beyond the
    # few points that lines' ascenders and descenders share).
    overlapping = [(a, b) for i, a in enumerate(words) for b in words[i + 1:]
                   if min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 3]
    assert overlapping == []
