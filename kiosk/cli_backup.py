"""`kiosk backup PATH` and `kiosk restore BACKUP` (kiosk.backups does the work)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from kiosk.backups import BackupError, backup_sqlite, restore
from kiosk.extensions import db


def _sqlite_database() -> Path:
    url = db.engine.url
    if db.engine.dialect.name != "sqlite" or not url.database or url.database == ":memory:":
        raise click.ClickException("Chỉ cho SQLite; PostgreSQL: pg_dump (docs/deploying.md) / SQLite only; for "
                                   "PostgreSQL use pg_dump (docs/deploying.md).")
    return Path(url.database)


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Copy the live SQLite database to PATH (a file, or a folder for a name by time), 0600, checked."""
    from kiosk.backups import backup_into

    database = _sqlite_database()
    try:
        made = backup_into(database, path, keep=0) if path.is_dir() else backup_sqlite(database, path)
    except BackupError as error:
        raise click.ClickException(f"Sao lưu thất bại / backup failed: {error}")
    click.echo(f"Đã sao lưu / backed up: {made} ({made.stat().st_size / 1e6:.1f} MB, integrity ok)")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--instance", "instance", type=click.Path(file_okay=False, path_type=Path),
              help="The instance folder to restore into (default: this app's).")
@click.option("--force", is_flag=True, help="Replace a database that exists (never one in use).")
@with_appcontext
def restore_command(backup: Path, instance: Path | None, force: bool) -> None:
    """Bring a backup back, after checking it; says what it holds."""
    from kiosk.migrations_status import known_revisions

    database = (instance / "kiosk.sqlite3") if instance else _sqlite_database()
    db.session.remove()
    db.engine.dispose()  # this command's own connection is not a user of the database
    try:
        restored = restore(backup, database, known_revisions(), force=force)
    except BackupError as error:
        raise click.ClickException(f"Không khôi phục / not restored: {error}")
    click.echo(f"Đã khôi phục / restored {backup} -> {database}")
    click.echo(f"  đợt / drive: {restored.drive}")
    click.echo(f"  lượt / visits: {restored.visits}; lượt hiến / donations: {restored.donations}")
    click.echo(f"  sao lưu lúc / copied at: {restored.copied_at:%d/%m/%Y %H:%M:%S} UTC "
               f"(migration {restored.revision}; `kiosk serve` upgrades it)")
