import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from kiosk.extensions import db
from kiosk.migrations_status import head_revision, migration_status
from tests.conftest import make_app


def test_upgrade_from_empty_downgrade_and_upgrade_again(tmp_path):
    app = make_app(tmp_path)
    directory = app.extensions["migrate"].directory
    with app.app_context():
        upgrade(directory=directory)
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"drive", "site", "department", "donor", "visit", "questionnaire_response", "screening",
                "donation", "staff", "audit_log", "write_receipt"} <= tables
        assert migration_status(db.engine) == (head_revision(), head_revision())
        downgrade(directory=directory, revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=directory)
        assert "visit" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_models_match_the_migrations(app):
    """A model changed without a migration fails here: autogenerate must find nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"render_as_batch": True})
            differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_healthz_reports_migrations_current(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["migrations_current"] is True


def test_healthz_fails_on_an_unmigrated_database(tmp_path):
    app = make_app(tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["migrations_current"] is False
