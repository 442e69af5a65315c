"""The console's audit page: 50 entries a page, newest first, filtered by action, person or device,
and day, as GET parameters that carry no donor's data."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import AuditLog
from tests.support.audit import fill_audit_log


def rows(page: str) -> int:
    body = page.split('<tbody>', 1)[1].split('</tbody>', 1)[0] if '<tbody>' in page else ""
    return body.count("<tr>")


def test_the_audit_log_pages_and_filters(app, client, auth, demo):
    auth.as_organiser()
    drive_id = demo["drive_id"]
    log = fill_audit_log(app, drive_id)
    url = f"/admin/drives/{drive_id}/audit"

    first = client.get(url).get_data(as_text=True)
    assert rows(first) == 50
    pages = -(-log["total"] // 50)
    assert f"trang 1/{pages}" in first and 'id="audit-older"' in first and 'id="audit-newer"' not in first
    assert "lần 299" in first and "lần 2 " not in first  # newest first

    last = client.get(f"{url}?page={pages}").get_data(as_text=True)
    assert rows(last) == log["total"] - 50 * (pages - 1) and 'id="audit-older"' not in last
    assert client.get(f"{url}?page=999").status_code == 200  # past the end: the last page

    scans = client.get(f"{url}?action=kiosk-scan").get_data(as_text=True)
    assert "100 mục khớp" in scans and "trang 1/2" in scans and rows(scans) == 50, re.search(r"audit-summary.*?</p>", scans, re.S).group(0)
    older = re.search(r'id="audit-older" href="([^"]+)"', scans).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(older).query) == {"action": ["kiosk-scan"], "page": ["2"]}  # the filter kept
    second = client.get(older).get_data(as_text=True)
    assert rows(second) == 50 and "XNC" in second

    by_nurse = client.get(f"{url}?who=staff:{log['nurse']}").get_data(as_text=True)
    assert "100 mục khớp" in by_nurse
    by_device = client.get(f"{url}?who=device:kiosk:XNC").get_data(as_text=True)
    assert "100 mục khớp" in by_device

    day = log["yesterday"].strftime("%d/%m/%Y")
    yesterday = client.get(f"{url}?day={day}&action=drive-updated").get_data(as_text=True)
    assert "40 mục khớp" in yesterday and rows(yesterday) == 40
    nothing = client.get(f"{url}?day=01/01/2020").get_data(as_text=True)
    assert "Không có mục nào khớp" in nothing

    # A bad value is said, and nothing is filtered.
    bad = client.get(f"{url}?who=donor:1&day=32/13/2026")
    assert bad.status_code == 200
    text = bad.get_data(as_text=True)
    assert "field-error" in text and rows(text) == 50

    # The choices are the staff and devices of the log, by id: no donor in any link of the page.
    options = re.findall(r'<option[^>]*value="([^"]*)"', first)
    assert f"staff:{log['nurse']}" in options and "device:kiosk:XNC" in options
    assert all(re.fullmatch(r"|[a-z-]+|staff:\d+|device:[\w:-]+", value) for value in options)


def test_the_console_audit_log_shows_no_vitals_or_screening_reasons(app, client, auth, demo):
    # README: health answers, vitals and screening reasons are only in the health export (a
    # separate, confirmed and audited download); the console's audit log listed them all.
    from tests.support.donors import check_in, decide, pick_donor

    visit_id = pick_donor(app, "XNC")
    check_in(app, visit_id, "XNC")
    assert auth.as_nurse().status_code == 303
    donor = {"visit_id": visit_id, "url": f"/nurse/XNC/visit/{visit_id}"}
    response = decide(client, donor, decision="deferred_temporary", deferral_until="01/06/2030",
                      reason="Huyết áp cao bất thường", weight_kg="57,5", haemoglobin_g_l="131",
                      override_reason="Người hiến kể chóng mặt sáng nay")
    assert response.status_code == 303, response.get_data(as_text=True)
    history = client.get(donor["url"]).get_data(as_text=True)
    assert "57,5" in history and "Huyết áp cao bất thường" in history  # the nurse still sees it all
    auth.as_organiser()
    with app.app_context():
        drive_id = db.session.scalar(sa.select(AuditLog.drive_id).where(AuditLog.action == "screening_decision"))
    page = client.get(f"/admin/drives/{drive_id}/audit").get_data(as_text=True)
    assert "Đã ghi kết luận" in page or "screening_decision" not in page
    assert "57,5" not in page and "131" not in page and "Huyết áp cao bất thường" not in page
    assert "chóng mặt sáng nay" not in page
    assert "Hoãn có thời hạn" in page  # the decision itself is not health data
    assert "Chỉ số khám và lý do: dữ liệu sức khỏe, chỉ có trong tệp xuất sức khỏe" in page
