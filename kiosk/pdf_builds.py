"""PDF files built in the background, kept in the database with their progress (issue 23: any
app server answers the console's polls and downloads, whichever server runs the build).

A thousand passes take a minute or more to lay out, longer than a request may last; so the
console starts a build and polls its progress. Every worker of every server must see the same
builds, hence the database rather than memory or a server's disk:

- a `pdf_build` row per name (a drive's selection): the build's state and progress, then the
  finished file, written with its state in one transaction, so a download never gets half a file;
- a `pdf_build_lock` row per group (a drive), held by the build while it runs: one build per
  group at a time. The build renews its heartbeat every few seconds; a build whose state says
  "building" but whose lock is gone or has not been renewed for STALE_SECONDS was cut short (a
  worker or a server died): it shows as interrupted and can be started again.

A sheet holds every pass link of its selection: the file is in the database with the records it
was made from (no copy on any server's disk); who builds and who downloads one is audited.

Nothing here knows Flask: the caller hands in the database engine and a function that makes the
PDF's bytes."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import Callable, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.database import write_transaction
from kiosk.held_files_models import PdfBuild, PdfBuildLock

HEARTBEAT_SECONDS = 5
STALE_SECONDS = 30  # six heartbeats missed: the build's process is gone

Build = Callable[[Callable[[int], None]], bytes]  # given a progress(step) callback, the PDF's bytes


@dataclass(frozen=True)
class BuildState:
    state: str  # "none", "building", "done", "failed" or "interrupted"
    done: int = 0
    total: int = 0
    size: int = 0
    items: int = 0  # what the file holds (passes, letters), to tell the organiser
    fingerprint: str = ""  # what the file was made from, to tell when it is out of date
    finished_at: str = ""  # ISO 8601, UTC

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def running(self) -> bool:
        return self.state == "building"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


STATE_COLUMNS = (PdfBuild.state, PdfBuild.done, PdfBuild.total, PdfBuild.size, PdfBuild.items, PdfBuild.fingerprint,
                 PdfBuild.finished_at)


class PdfBuilds:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def _write_state(self, name: str, state: BuildState, data: Optional[bytes] = None,
                     lock: Optional[tuple[str, str]] = None) -> None:
        """The build's state (and, once done, its file) as one write; `lock` (group, holder) is renewed."""
        values = {"state": state.state, "done": state.done, "total": state.total, "size": state.size,
                  "items": state.items, "fingerprint": state.fingerprint, "finished_at": state.finished_at,
                  "data": data}
        with Session(self.engine) as session, write_transaction(session, expire=False):
            if not session.execute(sa.update(PdfBuild).where(PdfBuild.name == name).values(**values)).rowcount:
                session.execute(sa.insert(PdfBuild).values(name=name, **values))
            if lock is not None:
                _renew(session, *lock)

    def _claim(self, group: str, holder: str) -> bool:
        """Take the group's lock; False when a build of the group holds it (and is alive)."""
        now = _utcnow()
        with Session(self.engine) as session:
            with write_transaction(session, expire=False):
                taken = session.execute(sa.update(PdfBuildLock).where(
                    PdfBuildLock.group_name == group,
                    PdfBuildLock.heartbeat < now - dt.timedelta(seconds=STALE_SECONDS))
                    .values(holder=holder, heartbeat=now)).rowcount
            if taken:
                return True
            try:
                with write_transaction(session, expire=False):
                    session.execute(sa.insert(PdfBuildLock).values(group_name=group, holder=holder, heartbeat=now))
            except IntegrityError:  # held, alive (or taken by another server a moment ago)
                return False
            return True

    def _release(self, group: str, holder: str) -> None:
        with Session(self.engine) as session, write_transaction(session, expire=False):
            session.execute(sa.delete(PdfBuildLock).where(PdfBuildLock.group_name == group,
                                                          PdfBuildLock.holder == holder))

    def _held(self, session: Session, group: str) -> bool:
        return session.scalar(sa.select(sa.func.count()).select_from(PdfBuildLock).where(
            PdfBuildLock.group_name == group,
            PdfBuildLock.heartbeat >= _utcnow() - dt.timedelta(seconds=STALE_SECONDS))) > 0

    def state(self, name: str, group: str) -> BuildState:
        with Session(self.engine) as session:
            row = session.execute(sa.select(*STATE_COLUMNS).where(PdfBuild.name == name)).one_or_none()
            if row is None:
                return BuildState("none")
            saved = BuildState(*row)
            if saved.running and not self._held(session, group):  # no one is building: the process that was died
                return BuildState("interrupted", saved.done, saved.total, items=saved.items)
        return saved

    def pdf(self, name: str) -> Optional[bytes]:
        """The finished file, or None."""
        with Session(self.engine) as session:
            return session.scalar(sa.select(PdfBuild.data).where(PdfBuild.name == name, PdfBuild.state == "done"))

    def start(self, name: str, group: str, build: Build, total: int, items: int, fingerprint: str,
              background: bool = True) -> bool:
        """Start building; False when a build of the same group is running already."""
        holder = secrets.token_hex(16)
        if not self._claim(group, holder):
            return False
        self._write_state(name, BuildState("building", 0, total, items=items, fingerprint=fingerprint))
        run = _Run(self, name, group, holder, build, total, items, fingerprint)
        if background:
            threading.Thread(target=run, name=f"pdf-{name}", daemon=True).start()
        else:
            run()
        return True


def _renew(session: Session, group: str, holder: str) -> None:
    session.execute(sa.update(PdfBuildLock).where(PdfBuildLock.group_name == group, PdfBuildLock.holder == holder)
                    .values(heartbeat=_utcnow()))


class _Run:
    def __init__(self, builds: PdfBuilds, name: str, group: str, holder: str, build: Build, total: int, items: int,
                 fingerprint: str):
        self.builds, self.name, self.lock, self.build, self.total = builds, name, (group, holder), build, total
        self.items, self.fingerprint = items, fingerprint
        self.done = 0
        self.finished = threading.Event()

    def progress(self, step: int = 1) -> None:
        self.done = min(self.total, self.done + step)
        self.builds._write_state(self.name, BuildState("building", self.done, self.total, items=self.items,
                                                       fingerprint=self.fingerprint), lock=self.lock)

    def heartbeat(self) -> None:
        """Renew the lock while a long step (laying out a part, writing the file) runs."""
        while not self.finished.wait(HEARTBEAT_SECONDS):
            try:
                with Session(self.builds.engine) as session, write_transaction(session, expire=False):
                    _renew(session, *self.lock)
            except Exception:  # noqa: BLE001 - a missed beat; the next one may pass
                logging.getLogger(__name__).warning("PDF build %s: heartbeat missed", self.name, exc_info=True)

    def __call__(self) -> None:
        threading.Thread(target=self.heartbeat, name=f"pdf-{self.name}-heartbeat", daemon=True).start()
        try:
            body = self.build(self.progress)
            finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            self.builds._write_state(self.name, BuildState("done", self.total, self.total, len(body), self.items,
                                                           self.fingerprint, finished), data=body)
        except Exception:  # noqa: BLE001 - the state says so; the organiser may start it again
            self.builds._write_state(self.name, BuildState("failed", self.done, self.total, items=self.items))
            logging.getLogger(__name__).exception("PDF build %s failed", self.name)
        finally:
            self.finished.set()
            self.builds._release(*self.lock)
