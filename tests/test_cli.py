import re
import socket

import sqlalchemy as sa

from kiosk.auth import verify_password
from kiosk.extensions import db
from kiosk.models import Donor, Staff, Visit
from tests.conftest import SAMPLE_ROSTER


def test_import_roster_twice_creates_no_duplicates(app, runner, demo):
    result = runner.invoke(args=["import-roster", str(SAMPLE_ROSTER)])
    assert result.exit_code == 0, result.output
    assert "created: 300" in result.output
    again = runner.invoke(args=["import-roster", str(SAMPLE_ROSTER)])
    assert again.exit_code == 0 and "created: 0" in again.output and "updated: 300" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor)) == 500
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 500


def test_import_roster_refuses_a_bad_file_naming_the_line(app, runner, tmp_path):
    lines = SAMPLE_ROSTER.read_text(encoding="utf-8").splitlines()
    cells = lines[16].split(",")
    cells[1] = "30/02/1985"
    lines[16] = ",".join(cells)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines), encoding="utf-8")
    result = runner.invoke(args=["import-roster", str(bad)])
    assert result.exit_code != 0
    assert "Dòng 17" in result.output and "30/02/1985" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Donor)) == 0


def test_passes_sheet_has_eight_passes_a_page(app, runner, demo, tmp_path):
    out = tmp_path / "passes.html"
    result = runner.invoke(args=["passes", "--site", "XNC", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    count = html.count('class="pass"')
    with app.app_context():
        expected = db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(Visit.site_id.is_not(None))
                                     .where(Visit.site.has(code="XNC")))
    assert count == expected > 0
    assert html.count('class="sheet"') == -(-count // 8)
    assert re.search(r"<style>.*@page", html, re.S)  # self-contained: prints from a file


def test_create_staff_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(args=["create-staff", "Lan", "--role", "nurse", "--name", "Y tá Lan"],
                           input="mot-mat-khau-dai\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        staff = db.session.scalars(sa.select(Staff)).one()
        assert staff.username == "lan" and staff.role.value == "nurse"
        assert verify_password(staff.password_hash, "mot-mat-khau-dai")
    short = runner.invoke(args=["create-staff", "x", "--role", "organiser"], input="short\n")
    assert short.exit_code != 0


def test_instance_files_are_readable_by_their_owner_only(app, runner, demo, tmp_path):
    """Issue 12: the SQLite file, the secret and `kiosk passes` output were readable by every local user."""
    import stat
    from pathlib import Path

    from kiosk.config import load_or_create_secret_key

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    out = tmp_path / "passes.html"
    assert runner.invoke(args=["passes", "--site", "XNC", "--out", str(out)]).exit_code == 0
    assert mode(out) == 0o600
    load_or_create_secret_key(app.instance_path)
    assert mode(Path(app.instance_path) / "secret_key") == 0o600
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    if database.exists():  # SQLite; PostgreSQL keeps its own files
        for path in [database, *database.parent.glob(database.name + "-*")]:
            assert mode(path) == 0o600, path


def test_serve_refuses_a_port_another_server_listens_on(app, runner, monkeypatch):
    # The workers bind with SO_REUSEPORT, which would let a second server of the same user share the
    # port and take half the tablets: serve asks first, and says so in both languages.
    executed = []
    monkeypatch.setattr("kiosk.cli.os.execvpe", lambda *args: executed.append(args))
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("0.0.0.0", 0))
        other.listen()
        port = other.getsockname()[1]
        result = runner.invoke(args=["serve", "--port", str(port)])
    assert result.exit_code != 0 and not executed
    assert f"Cổng {port} đang được dùng" in result.output and f"port {port} is in use" in result.output
    again = runner.invoke(args=["serve", "--port", str(port)])  # the other server has stopped
    assert again.exit_code == 0, again.output
    assert "--reuse-port" in executed[0][1]


def test_import_roster_refuses_a_department_without_a_site_in_a_drive_with_several(app, runner, demo, tmp_path):
    """Issue 22: its donors got passes without a venue. The console asks; the CLI says how."""
    roster = tmp_path / "moi.csv"
    roster.write_text("Họ và tên,Ngày sinh,Số CCCD,Đơn vị\nTrần Văn Mới,02/03/1988,001088077777,Phòng Mới Lập\n",
                      encoding="utf-8")
    result = runner.invoke(args=["import-roster", str(roster)])
    assert result.exit_code != 0 and "Điểm hiến" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(Donor).where(Donor.id_number == "001088077777")) is None
