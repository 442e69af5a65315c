"""The demo drive on a temporary SQLite instance, with more donors and nurse accounts, for the
load and crash runs; and gunicorn serving it (tests.support.server)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import sqlalchemy as sa

from tests.support.server import Server, environment

NURSE_PASSWORD = "y-ta-tai-khoan-tai-1"


@dataclass
class Drive:
    directory: Path
    database_url: str
    drive_id: int
    sites: tuple[str, ...]
    nurses: list[str]  # usernames, all with NURSE_PASSWORD
    donors: dict[str, list[tuple[str, str]]]  # site code -> [(pass token, sex)] of registered visits

    @property
    def database_path(self) -> Path:
        return Path(sa.make_url(self.database_url).database)

    def server(self, *, workers: int = 3, threads: int = 4) -> Server:
        """gunicorn on this drive's database (not started), logging to server.log in its folder."""
        return Server(self.directory / "server.log", workers=workers, threads=threads,
                      env=environment(KIOSK_INSTANCE_PATH=str(self.directory), KIOSK_SECRET_KEY="load-tests",
                                      KIOSK_DATABASE_URL=self.database_url))


def build_drive(directory: Path, *, extra_donors: int = 0, nurses: int = 4, template: Optional[Path] = None) -> Drive:
    """The demo drive (open today, two sites) on a new SQLite database in `directory`, with
    `extra_donors` more donors on its roster and `nurses` nurse accounts (nurse1..nurseN).

    `template`: a migrated database to copy (the suite's), else the migrations are run."""
    import shutil

    from kiosk import create_app
    from kiosk.auth import give_nurses_every_site, hash_password
    from kiosk.roster.demo import demo_rows, load_demo
    from kiosk.extensions import db
    from kiosk.formatting import local_today
    from kiosk.models import Drive as DriveRow, Site, Staff, StaffRole, Visit, VisitStatus
    from kiosk.roster.parser import ParsedRoster
    from kiosk.roster.importer import import_roster

    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "kiosk.sqlite3"
    url = f"sqlite:///{database}"
    app = create_app({"TESTING": True, "SECRET_KEY": "load-tests", "INSTANCE_PATH": str(directory),
                      "SQLALCHEMY_DATABASE_URI": url, "BASE_URL": "http://127.0.0.1"})
    with app.app_context():
        if template is not None:
            db.engine.dispose()
            shutil.copy(template, database)
        else:
            from flask_migrate import upgrade

            upgrade(directory=app.extensions["migrate"].directory)
        today = local_today()
        load_demo(db.session, app.instance_path, today)
        drive = db.session.scalars(sa.select(DriveRow)).one()
        if extra_donors:
            import_roster(db.session, ParsedRoster(rows=demo_rows(today, count=extra_donors, seed=7)), drive=drive)
        password_hash = hash_password(NURSE_PASSWORD)
        usernames = [f"nurse{n}" for n in range(1, nurses + 1)]
        for username in usernames:
            db.session.add(Staff(username=username, display_name=f"Y tá {username}", role=StaffRole.NURSE,
                                 password_hash=password_hash))
        give_nurses_every_site(db.session)  # nurses open only their sites' queues: these work at both
        db.session.commit()
        donors: dict[str, list[tuple[str, str]]] = {}
        for code in ("XNC", "CSCD"):
            rows = db.session.execute(
                sa.select(Visit.token, Visit.donor_id).join(Site, Site.id == Visit.site_id)
                .where(Site.code == code, Visit.status == VisitStatus.REGISTERED).order_by(Visit.id)).all()
            sexes = {v.donor_id: v.donor.sex for v in db.session.scalars(
                sa.select(Visit).join(Site, Site.id == Visit.site_id).where(Site.code == code))}
            donors[code] = [(token, sexes[donor_id]) for token, donor_id in rows]
        drive_id = drive.id
        db.session.remove()
        db.engine.dispose()
    return Drive(directory=directory, database_url=url, drive_id=drive_id, sites=("XNC", "CSCD"), nurses=usernames,
                 donors=donors)
