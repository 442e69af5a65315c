"""A campaign's PostgreSQL backed up as docs/deploying.md says (pg_dump, custom format) and
restored into a fresh database with pg_restore: every donation is there. Runs in the PostgreSQL
pass (KIOSK_TEST_DATABASE_URL, tools/test.sh); the SQLite pass has nothing to dump."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import Donation
from tests.support.donations import ready_visits, record
from tests.support.postgres import ON_POSTGRES, POSTGRES

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="the PostgreSQL pass runs it (KIOSK_TEST_DATABASE_URL)")


def libpq_url(url: sa.URL) -> str:
    """The URL as pg_dump and pg_restore read it (no SQLAlchemy driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_pg_dump_restored_into_a_fresh_database_holds_every_donation(app, demo, tmp_path):
    assert shutil.which("pg_dump") and shutil.which("pg_restore"), "Debian's postgresql-client (tools/test.sh)"
    with app.app_context():
        for n, visit_id in enumerate(ready_visits(db.session, 5)):
            record(db.session, visit_id, f"BAG-{n}")
        bags = sorted(db.session.scalars(sa.select(Donation.bag_number)))
        source = db.engine.url
    dump = tmp_path / "kiosk.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", libpq_url(source)], check=True)
    fresh = POSTGRES.create()
    POSTGRES.made_during_test.append(fresh)
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url(sa.make_url(fresh))}",
                    str(dump)], check=True)
    engine = sa.create_engine(fresh, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        assert sorted(connection.scalars(sa.text("SELECT bag_number FROM donation"))) == bags == [
            f"BAG-{n}" for n in range(5)]
        assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) is not None
    engine.dispose()
