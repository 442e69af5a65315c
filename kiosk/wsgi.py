"""The WSGI entry point for gunicorn: `gunicorn kiosk.wsgi:app`."""
from kiosk import create_app
from kiosk.backups import schedule_from_settings

app = create_app()
# KIOSK_BACKUP_DIR: each worker starts the schedule; one of them (a file lock) makes the copies.
backup_schedule = schedule_from_settings(app.config, app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
if backup_schedule is not None:
    backup_schedule.start()
