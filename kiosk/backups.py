"""Copies of a live SQLite database, every few minutes during a drive, and bringing one back.

At a venue the laptop's SQLite file is the only copy of the day's donations. `backup_sqlite`
copies it with SQLite's online backup API in one step: on a WAL database that is one read
transaction, a snapshot of the last commit, and readers never block the writer, so the kiosk's
writes go on (they do not wait in kiosk.sqlite_engine's writer queue for it). The copy is
written 0600 beside its final name, checked (PRAGMA integrity_check) and only then renamed.

`BackupSchedule` runs it every KIOSK_BACKUP_MINUTES into KIOSK_BACKUP_DIR (a USB stick, say),
keeping the last KIOSK_BACKUP_KEEP copies, named by time. Every gunicorn worker starts one; a
non-blocking flock on a file in the instance folder elects the one that copies (another takes
over if it dies: the kernel drops a dead process's flock). A missing or full folder (the stick
pulled out) is logged and tried again at the next interval; it never stops the app.

What a crash loses: the writes after the last copy, at most one interval's.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

log = logging.getLogger(__name__)

PREFIX = "kiosk-"
SUFFIX = ".sqlite3"
STAMP = "%Y%m%d-%H%M%S"


class BackupError(Exception):
    """A copy that could not be made or could not be brought back; the message says why."""


def backup_name(at: dt.datetime) -> str:
    """kiosk-20261208-013000.sqlite3 (UTC): names sort by time."""
    return f"{PREFIX}{at.astimezone(dt.timezone.utc).strftime(STAMP)}{SUFFIX}"


def copy_time(path: Path) -> dt.datetime:
    """When the copy was taken: the time in its name (a copy of a copy keeps it), else its file's."""
    try:
        stamp = path.name.removeprefix(PREFIX).removesuffix(SUFFIX)
        return dt.datetime.strptime(stamp, STAMP).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)


def integrity(path: Path) -> str:
    """PRAGMA integrity_check's answer for the file ("ok"), or the error opening it."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
        finally:
            connection.close()
    except sqlite3.Error as error:
        return str(error)


def backup_sqlite(database: Path, target: Path) -> Path:
    """Copy the live database to `target` (0600), check it, and return its path.

    Raises BackupError (the target is then not left behind, half written or unchecked)."""
    if not database.is_file():
        raise BackupError(f"no database at {database}")
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        source = sqlite3.connect(database)  # read only in effect; read-write opens a WAL file without its -shm
        copy = sqlite3.connect(partial)
        try:
            source.execute("PRAGMA busy_timeout=15000")
            source.backup(copy)  # pages=-1: the whole file in one step, one read snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # a single file, not a WAL beside it
        finally:
            copy.close()
            source.close()
        checked = integrity(partial)
        if checked != "ok":
            raise BackupError(f"the copy failed its integrity check: {checked}")
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as error:
        if partial.parent.is_dir():
            partial.unlink(missing_ok=True)
        raise BackupError(f"{type(error).__name__}: {error}") from error
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    return target


def backups_in(folder: Path) -> list[Path]:
    """The copies in `folder`, oldest first."""
    return sorted(p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def keep_last(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` copies; returns those deleted."""
    old = backups_in(folder)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return old


def backup_into(database: Path, folder: Path, keep: int, now: Optional[dt.datetime] = None) -> Path:
    """One scheduled copy: a new file named by time in `folder`, then the oldest beyond `keep` go."""
    if not folder.is_dir():
        raise BackupError(f"the backup folder {folder} is missing (a USB stick taken out?)")
    target = backup_sqlite(database, folder / backup_name(now or dt.datetime.now(dt.timezone.utc)))
    keep_last(folder, keep)
    return target


@dataclass
class BackupSchedule:
    """A daemon thread copying `database` into `folder` every `minutes`, in the elected process only."""

    database: Path
    folder: Path
    minutes: float
    keep: int
    lock_path: Path

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock_fd: Optional[int] = None
        self._thread: Optional[threading.Thread] = None
        self.made: list[Path] = []
        self.failures = 0

    def elected(self) -> bool:
        """Does this process copy? It does once it holds the lock file's flock, for good."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def run_once(self) -> Optional[Path]:
        """One turn: copy if elected; a failure is logged and counted, never raised."""
        if not self.elected():
            return None
        try:
            made = backup_into(self.database, self.folder, self.keep)
        except BackupError as error:
            self.failures += 1
            log.warning("backup failed, trying again in %s min: %s", self.minutes, error)
            return None
        except Exception:  # anything else: the drive goes on, the log says what happened
            self.failures += 1
            log.exception("backup failed, trying again in %s min", self.minutes)
            return None
        self.made.append(made)
        log.info("backup written: %s", made)
        return made

    def start(self) -> "BackupSchedule":
        self._thread = threading.Thread(target=self._loop, name="kiosk-backup", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.minutes * 60):
            self.run_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def schedule_from_settings(settings, database_uri: str, instance_path: str) -> Optional[BackupSchedule]:
    """The schedule KIOSK_BACKUP_DIR asks for (None without it, or on PostgreSQL)."""
    folder = settings.get("BACKUP_DIR")
    if not folder or not database_uri.startswith("sqlite:///"):
        return None
    from kiosk.config import SettingError

    database = Path(database_uri.removeprefix("sqlite:///"))
    try:
        minutes, keep = float(settings.get("BACKUP_MINUTES", 5)), int(settings.get("BACKUP_KEEP", 12))
    except ValueError:
        minutes = keep = 0
    if minutes <= 0 or keep <= 0:
        raise SettingError("KIOSK_BACKUP_MINUTES must be a number of minutes over 0 and KIOSK_BACKUP_KEEP a "
                           f"count over 0, not {settings.get('BACKUP_MINUTES')!r} and {settings.get('BACKUP_KEEP')!r}")
    return BackupSchedule(database=database, folder=Path(folder), minutes=minutes, keep=keep,
                          lock_path=Path(instance_path) / f"{database.name}.backup-lock")


# ----- restore ------------------------------------------------------------------------------


@dataclass
class Restored:
    """What a copy holds, said after bringing it back."""

    drive: str
    visits: int
    donations: int
    copied_at: dt.datetime
    revision: str


def processes_using(path: Path) -> list[int]:
    """Ids of this user's processes with the database (or its WAL) open: the app's workers, a shell."""
    names = {str(path.resolve()), f"{path.resolve()}-wal"}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
            if any(os.readlink(fd) in names for fd in fds):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def describe(path: Path, known_revisions: Iterable[str]) -> Restored:
    """Check a copy (integrity, this app's schema at a known migration) and say what it holds."""
    checked = integrity(path)
    if checked != "ok":
        raise BackupError(f"{path} failed its integrity check: {checked}")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            if revision is None or revision[0] not in set(known_revisions):
                raise BackupError(f"{path} is at migration {revision and revision[0]!r}, which this app "
                                  "does not know")
            drive = connection.execute("SELECT name, drive_date FROM drive ORDER BY drive_date DESC, id DESC"
                                       ).fetchone()
            visits = connection.execute("SELECT count(*) FROM visit").fetchone()[0]
            donations = connection.execute("SELECT count(*) FROM donation").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise BackupError(f"{path} is not this app's database: {error}") from error
    copied_at = copy_time(path)
    return Restored(drive=f"{drive[0]} ({drive[1]})" if drive else "-", visits=visits, donations=donations,
                    copied_at=copied_at, revision=revision[0])


def restore(backup: Path, database: Path, known_revisions: Iterable[str], force: bool = False) -> Restored:
    """Bring `backup` back as `database`, after the checks; refuse a database in use, and one that
    exists without `force`."""
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    summary = describe(backup, known_revisions)
    users = processes_using(database) if database.exists() else []
    if users:
        raise BackupError(f"{database} is in use by process {', '.join(map(str, users))}: stop the app first")
    if database.exists() and not force:
        raise BackupError(f"{database} exists: --force to replace it")
    database.parent.mkdir(parents=True, exist_ok=True)
    placed = backup_sqlite(backup, database.with_name(f".{database.name}.restoring"))
    for leftover in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)  # an old WAL would be replayed onto the restored file
    os.replace(placed, database)
    return summary
