"""The `kiosk` command: a Flask CLI group over the factory, so `kiosk db upgrade` works too."""
from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app, render_template
from flask.cli import FlaskGroup, with_appcontext

from kiosk.enums import StaffRole
from kiosk.extensions import db


def _create_app(*_args) -> Flask:
    from kiosk import create_app
    from kiosk.config import SettingError

    try:
        return create_app()
    except SettingError as error:  # a wrong KIOSK_* value: its message, not a traceback
        raise click.ClickException(str(error)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, add_default_commands=True)
def main() -> None:
    """Check-in and screening for voluntary blood donation drives."""


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, for the tablets' URLs."""
    addresses: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addresses.add(str(info[4][0]))
    except OSError:
        pass
    return sorted(a for a in addresses if not a.startswith("127."))


def upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


def _drive_or_fail(drive_id):
    from kiosk.drives import current_drive
    from kiosk.models import Drive

    drive = db.session.get(Drive, drive_id) if drive_id else current_drive()
    if drive is None:
        raise click.ClickException("Không có đợt hiến máu nào / no drive found (--drive ID).")
    return drive


@click.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=3, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Load the demo drive when the database is empty.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS with this certificate "
              "(tablet cameras work only over HTTPS).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), help="The certificate's private key.")
@click.option("--https", "self_signed", is_flag=True, help="Serve HTTPS with a self-signed certificate for this "
              "machine's addresses, made in the instance folder on first use and reused afterwards.")
@with_appcontext
def serve_command(host: str, port: int, workers: int, demo: bool, certfile: str | None, keyfile: str | None,
                  self_signed: bool) -> None:
    """Upgrade the database, optionally load the demo drive, and run gunicorn."""
    _refuse_serve_options(host, port, certfile, keyfile, self_signed)
    app = current_app._get_current_object()
    upgrade_database()
    if demo:
        _load_demo_if_empty(app)

    lan = lan_addresses()
    if self_signed:
        certificate = self_signed_certificate(app.instance_path, lan)
        certfile, keyfile = str(certificate.cert_path), str(certificate.key_path)
    shown_host = lan[0] if host == "0.0.0.0" and lan else ("localhost" if host == "0.0.0.0" else host)
    env = dict(os.environ)
    scheme = "https" if certfile else "http"
    if not os.environ.get("KIOSK_BASE_URL"):
        env["KIOSK_BASE_URL"] = f"{scheme}://{shown_host}:{port}"
    env["KIOSK_INSTANCE_PATH"] = app.instance_path
    _print_addresses(app, f"{scheme}://localhost:{port}/", env["KIOSK_BASE_URL"], demo)
    if self_signed:
        explain_certificate(certificate)
    db.session.remove()

    gunicorn = gunicorn_command(host, port, workers)
    if certfile and keyfile:
        gunicorn[-1:-1] = ["--certfile", certfile, "--keyfile", keyfile]
        env.setdefault("KIOSK_SESSION_COOKIE_SECURE", "true")
    # exec replaces this process without flushing its buffers: printed into a pipe or a log, the
    # addresses and the certificate's fingerprint above would be lost.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(gunicorn[0], gunicorn, env)


def _refuse_serve_options(host: str, port: int, certfile: str | None, keyfile: str | None, self_signed: bool) -> None:
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile và --keyfile đi cùng nhau / --certfile and --keyfile go together.")
    if self_signed and certfile:
        raise click.UsageError("--https hoặc --certfile, không cả hai / --https or --certfile, not both.")
    if port_taken(host, port):
        raise click.ClickException(f"Cổng {port} đang được dùng: có thể kiosk serve đang chạy rồi / port {port} is in "
                                   "use: is the app already running? Stop it, or choose another --port.")


def _load_demo_if_empty(app: Flask) -> None:
    from kiosk.auth import give_nurses_every_site
    from kiosk.database import begin_write
    from kiosk.formatting import local_today
    from kiosk.roster.demo import database_is_empty, load_demo

    begin_write(db.session)
    if database_is_empty(db.session):
        load_demo(db.session, app.instance_path, local_today())
        give_nurses_every_site(db.session)
        click.echo("Đã tạo đợt hiến máu mẫu / demo drive loaded.")
    db.session.commit()  # the write's turn ends before the workers start


def _print_addresses(app: Flask, local: str, base: str, demo: bool) -> None:
    """Where to open each screen, for the organiser setting up the hall."""
    from kiosk import devices
    from kiosk.database import sqlite_synchronous
    from kiosk.models import Site
    from kiosk.roster.demo import demo_credentials

    sites = db.session.scalars(sa.select(Site).order_by(Site.code)).all()
    click.echo(f"\nMở trên máy này / on this machine: {local}")
    click.echo(f"Máy tính bảng / tablets (QR passes point here): {base}/")
    # Only a paired tablet opens a kiosk (kiosk.devices): with --demo, a pairing link per site.
    pairing_codes = devices.demo_pairing_codes(db.session) if demo and devices.pairing_required(
        app.config["DEVICE_PAIRING"]) else {}
    for site in sites:
        click.echo(f"  [{site.code}] kiosk:   {base}/kiosk/{site.code}")
        if site.code in pairing_codes:
            click.echo(f"  [{site.code}] pair:    {base}/pair/{pairing_codes[site.code]}  "
                       f"({devices.PAIRING_MINUTES} phút / minutes)")
        click.echo(f"  [{site.code}] nurse:   {base}/nurse/{site.code}")
        click.echo(f"  [{site.code}] display: {base}/display/{site.code}")
    click.echo(f"  hall display: {base}/display")
    click.echo(f"  organiser:    {base}/admin")
    _print_backups(app)
    if db.engine.dialect.name == "sqlite" and sqlite_synchronous(app.config["SQLITE_SYNCHRONOUS"]) == "NORMAL":
        click.echo("  SQLite synchronous=NORMAL (KIOSK_SQLITE_SYNCHRONOUS): mất điện có thể làm mất vài ghi nhận cuối "
                   "/ a power cut may lose the last few writes.")
    # The demo's passwords only when asked for the demo: a server's start-up output goes to its logs.
    for username, password in (demo_credentials(app.instance_path).items() if demo else ()):
        click.echo(f"  demo account: {username} / {password}")
    click.echo("")


def _print_backups(app: Flask) -> None:
    from kiosk.backups import schedule_from_settings
    from kiosk.config import SettingError

    try:
        schedule = schedule_from_settings(app.config, app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    except SettingError as error:
        raise click.ClickException(str(error)) from None
    if schedule is not None:
        click.echo(f"  sao lưu / backups: {schedule.folder} mỗi / every {schedule.minutes:g} min, "
                   f"giữ / keeping {schedule.keep}")


def port_taken(host: str, port: int) -> bool:
    """Is something listening on this port? The workers bind with SO_REUSEPORT (gunicorn_command), which
    lets a second server of the same user bind the same port and silently take half the tablets; a
    plain bind (SO_REUSEADDR only, as gunicorn's own) is refused by any listener, so it is asked first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def self_signed_certificate(instance_path: str, lan: list[str]):
    from kiosk.tls import ensure_certificate, machine_names

    dns_names, ip_addresses = machine_names(socket.gethostname(), lan)
    return ensure_certificate(Path(instance_path) / "tls", dns_names, ip_addresses)


def explain_certificate(certificate) -> None:
    """How a tablet comes to trust the self-signed certificate, or to go past the browser's warning."""
    made = "Đã tạo chứng chỉ mới / new certificate made" if certificate.created else "Chứng chỉ / certificate"
    click.echo(f"{made}: {certificate.cert_path}")
    click.echo(f"  cho / for: {', '.join(certificate.dns_names + certificate.ip_addresses)}")
    click.echo(f"  hết hạn / valid until: {certificate.not_after:%Y-%m-%d}")
    click.echo(f"  SHA-256: {certificate.fingerprint}")
    click.echo("Máy tính bảng tin chứng chỉ này / for a tablet to trust it: copy the file above to the tablet and "
               "install it (Android: Settings > Security > Encryption & credentials > Install a certificate > "
               "CA certificate; iPad: open it, install the profile, then turn it on in General > About > "
               "Certificate Trust Settings).")
    click.echo("Hoặc / or: open the address; the browser warns that the certificate is not trusted; check that "
               "the certificate it shows has the SHA-256 above, then proceed (Advanced > Proceed).")
    click.echo("")


# Threads per gunicorn worker. A request is mostly Python (CPU, one thread at a time per worker), so
# more threads do not serve more; with 8, each request shared the interpreter with up to 7 others
# and cost 10-30% more CPU than with 4 (bench/run.py --threads: the README's "Measured").
GUNICORN_THREADS = 4


def gunicorn_command(host: str, port: int, workers: int, threads: int = GUNICORN_THREADS) -> list[str]:
    """How the app is served: by `kiosk serve`, the benchmarks and the multi-process tests alike."""
    # --reuse-port: each worker listens on a socket of its own and the kernel spreads new connections
    # over them. On one shared socket the worker that wakes first takes them: under load one worker
    # held 18 of 20 kept-alive connections, its clients queued behind one core while the other
    # idled, and the slowest 1% of writes took 0.4-0.5 s (bench/run.py; the README's "Measured").
    return [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--worker-class", "gthread", "--threads", str(threads), "--reuse-port",
            "--timeout", "60", "--graceful-timeout", "10",
            # The access log leaves out the URL: pass URLs carry tokens, which must not be logged.
            "--access-logfile", "-", "--access-logformat", '%(t)s "%(m)s" %(s)s %(b)s %(M)sms',
            "kiosk.wsgi:app"]


@click.command("import-roster")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--drive", "drive_id", type=int, help="The drive's id (default: the open drive).")
@click.option("--skip-bad", is_flag=True, help="Import the good rows even when some are bad.")
@with_appcontext
def import_roster_command(file: Path, drive_id: int | None, skip_bad: bool) -> None:
    """Import donors from a CSV or .xlsx roster (Vietnamese or English headers)."""
    from kiosk.database import begin_write
    from kiosk.formatting import local_today
    from kiosk.roster.parser import RosterFormatError, parse_roster, read_table
    from kiosk.roster.importer import RosterImportError, import_roster
    from kiosk.roster.messages import describe_format_error, describe_row_error

    drive = _drive_or_fail(drive_id) if drive_id or _has_drive() else None
    started = time.perf_counter()
    try:
        with file.open("rb") as stream:
            parsed = parse_roster(read_table(file.name, stream), local_today())
    except RosterFormatError as error:
        raise click.ClickException(describe_format_error(error))
    for error in parsed.errors:
        click.echo(describe_row_error(error), err=True)
    if parsed.errors and not skip_bad:
        raise click.ClickException(
            f"{len({e.line for e in parsed.errors})} dòng lỗi, không nhập gì / bad rows, nothing imported "
            "(--skip-bad to import the good rows).")
    begin_write(db.session)
    try:
        with click.progressbar(length=len(parsed.rows), label="Đang nhập / importing") as bar:
            result = import_roster(db.session, parsed, drive=drive, skip_bad=skip_bad, progress=bar.update)
    except RosterImportError:  # site_missing: a drive with several sites, a department with none
        db.session.rollback()
        raise click.ClickException(
            "Đợt có nhiều điểm hiến: thêm cột “Điểm hiến” hoặc đặt điểm hiến cho các đơn vị mới trong trang quản trị "
            "/ the drive has several sites: add a “Điểm hiến” column, or import in the console, which asks.")
    db.session.commit()
    elapsed = time.perf_counter() - started
    click.echo(f"Thêm mới / created: {result.created}; cập nhật / updated: {result.updated}; "
               f"lượt hiến / visits: {result.visits_created}; bỏ qua / skipped: {result.skipped} "
               f"({elapsed:.2f} s)")


def _has_drive() -> bool:
    from kiosk.models import Drive

    return db.session.scalar(sa.select(sa.func.count()).select_from(Drive)) > 0


PASS_SHEET_SUFFIXES = (".pdf", ".html", ".htm")


@click.command("passes")
@click.option("--drive", "drive_id", type=int)
@click.option("--site", "site_code")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="X.pdf for a PDF file (for a print shop), X.html for a page to print from a browser.")
@with_appcontext
def passes_command(drive_id: int | None, site_code: str | None, out: Path) -> None:
    """Write an A4 sheet of QR passes, 8 to a page: a PDF, or a self-contained HTML page."""
    from kiosk.models import Site
    from kiosk.passes import pages, pass_cards

    suffix = out.suffix.lower()
    if suffix not in PASS_SHEET_SUFFIXES:
        raise click.UsageError(f"--out: tên tệp phải kết thúc bằng .pdf hoặc .html / the file name must end in "
                               f".pdf or .html, not {out.suffix or 'nothing'!r} ({out.name}).")
    started = time.perf_counter()
    drive = _drive_or_fail(drive_id)
    site = None
    if site_code:
        site = db.session.scalars(sa.select(Site).where(Site.code == site_code)).first()
        if site is None:
            raise click.ClickException(f"Không có điểm hiến / no site {site_code!r}.")
    pdf = suffix == ".pdf"
    cards = pass_cards(db.session, drive, current_app.config["BASE_URL"], site=site,
                       qr_image="png" if pdf else "svg")
    with current_app.test_request_context():
        if pdf:
            from kiosk.views.pdf import pass_sheet_parts, pass_sheet_pdf

            with click.progressbar(length=pass_sheet_parts(len(cards)), label="PDF") as bar:
                body = pass_sheet_pdf(drive, cards, site=site, progress=bar.update)
            out.write_bytes(body)
            out.chmod(0o600)  # every pass on it is a token that opens a donor's questionnaire
        else:
            css = (Path(current_app.static_folder or "") / "css" / "passes.css").read_text()
            html = render_template("passes/sheet.html", drive=drive, site=site, department=None,
                                   pages=pages(cards), count=len(cards), standalone=True, standalone_css=css)
            out.write_text(html, encoding="utf-8")
            out.chmod(0o600)  # every pass on it is a token that opens a donor's questionnaire
    size = f", {out.stat().st_size / 1e6:.1f} MB" if pdf else ""
    click.echo(f"{len(cards)} thẻ / passes -> {out} ({time.perf_counter() - started:.2f} s{size})")


@click.command("create-staff")
@click.argument("username")
@click.option("--role", type=click.Choice([role.value for role in StaffRole]), required=True)
@click.option("--name", "display_name", default="", help="Display name (default: the username).")
@with_appcontext
def create_staff_command(username: str, role: str, display_name: str) -> None:
    """Create a staff account; the password is asked for, or read from stdin when not a terminal."""
    from kiosk.auth import hash_password
    from kiosk.database import begin_write
    from kiosk.models import Staff

    username = username.strip().lower()
    if sys.stdin.isatty():
        password = click.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise click.ClickException("Mật khẩu cần ít nhất 8 ký tự / the password needs 8 characters or more.")
    begin_write(db.session)
    if db.session.scalars(sa.select(Staff).where(Staff.username == username)).first():
        raise click.ClickException(f"Tài khoản đã có / {username!r} exists already.")
    db.session.add(Staff(username=username, display_name=display_name or username, role=StaffRole(role),
                         password_hash=hash_password(password)))
    db.session.commit()
    click.echo(f"Đã tạo / created {username} ({role}).")


@click.command("load-demo")
@with_appcontext
def load_demo_command() -> None:
    """Load the demo drive into an empty database."""
    from kiosk.auth import give_nurses_every_site
    from kiosk.database import begin_write
    from kiosk.roster.demo import database_is_empty, load_demo
    from kiosk.formatting import local_today

    upgrade_database()
    begin_write(db.session)
    if not database_is_empty(db.session):
        raise click.ClickException("Cơ sở dữ liệu đã có dữ liệu / the database is not empty.")
    passwords = load_demo(db.session, current_app.instance_path, local_today())
    give_nurses_every_site(db.session)
    db.session.commit()
    for username, password in passwords.items():
        click.echo(f"{username} / {password}")


def register_commands(app: Flask) -> None:
    from kiosk.cli_backup import backup_command, restore_command

    for command in (serve_command, import_roster_command, passes_command, create_staff_command,
                    load_demo_command, backup_command, restore_command):
        app.cli.add_command(command)


if __name__ == "__main__":
    main()
