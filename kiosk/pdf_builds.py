"""PDF files built in the background, into a folder, with their progress in a file beside them.

A thousand passes take a minute or more to lay out, longer than a request may last; so the
console starts a build and polls its progress. Every gunicorn worker must see the same builds,
hence files rather than memory:

- `<name>.json`: the build's state, written whole (to a temporary file, then renamed);
- `<name>.pdf`: the finished file, also written whole and renamed into place, so a download
  never gets half a file;
- `<group>.lock`: held (flock) by the build while it runs: one build per group (a drive) at a
  time. The operating system lets go of it when a process dies, so a build whose state says
  "building" but whose lock is free was cut short (a worker restarted): it shows as
  interrupted and can be started again.

The folder is 0700 and every file in it 0600: a sheet holds every pass link of a site.

Nothing here knows Flask: the caller hands in a function that makes the PDF's bytes."""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")

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


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner reads (0600 from its creation, whatever the umask)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)


class PdfBuilds:
    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def _make_folder(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)  # made before by an older version, 0755

    def _path(self, name: str, suffix: str) -> Path:
        if not NAME.match(name):
            raise ValueError(f"bad build name {name!r}")
        return self.folder / f"{name}{suffix}"

    def pdf_path(self, name: str) -> Path:
        return self._path(name, ".pdf")

    def _write_state(self, name: str, state: BuildState) -> None:
        path = self._path(name, ".json")
        temporary = path.with_suffix(f".json.{os.getpid()}.{threading.get_ident()}")
        write_private(temporary, json.dumps(asdict(state)).encode("utf-8"))
        os.replace(temporary, path)

    def _lock(self, group: str) -> Optional[int]:
        """The group's lock, or None when a build of the group holds it."""
        self._make_folder()
        descriptor = os.open(self._path(group, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        return descriptor

    def state(self, name: str, group: str) -> BuildState:
        path = self._path(name, ".json")
        try:
            saved = BuildState(**json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return BuildState("none")
        if saved.state == "done" and not self.pdf_path(name).is_file():
            return BuildState("none")
        if saved.state == "building":
            descriptor = self._lock(group)
            if descriptor is not None:  # no one is building: the process that was died
                os.close(descriptor)
                return BuildState("interrupted", saved.done, saved.total, items=saved.items)
        return saved

    def start(self, name: str, group: str, build: Build, total: int, items: int, fingerprint: str,
              background: bool = True) -> bool:
        """Start building; False when a build of the same group is running already."""
        descriptor = self._lock(group)
        if descriptor is None:
            return False
        for left in self.folder.glob(f"{name}.pdf.*.part"):  # from a build cut short
            left.unlink(missing_ok=True)
        self._write_state(name, BuildState("building", 0, total, items=items, fingerprint=fingerprint))
        run = _Run(self, name, build, total, items, fingerprint, descriptor)
        if background:
            threading.Thread(target=run, name=f"pdf-{name}", daemon=True).start()
        else:
            run()
        return True


class _Run:
    def __init__(self, builds: PdfBuilds, name: str, build: Build, total: int, items: int, fingerprint: str,
                 descriptor: int):
        self.builds, self.name, self.build, self.total = builds, name, build, total
        self.items, self.fingerprint, self.descriptor = items, fingerprint, descriptor
        self.done = 0

    def progress(self, step: int = 1) -> None:
        self.done = min(self.total, self.done + step)
        self.builds._write_state(self.name, BuildState("building", self.done, self.total, items=self.items,
                                                       fingerprint=self.fingerprint))

    def __call__(self) -> None:
        pdf_path = self.builds.pdf_path(self.name)
        temporary = pdf_path.with_suffix(f".pdf.{os.getpid()}.part")
        try:
            body = self.build(self.progress)
            write_private(temporary, body)
            os.replace(temporary, pdf_path)
            finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            self.builds._write_state(self.name, BuildState("done", self.total, self.total, len(body), self.items,
                                                           self.fingerprint, finished))
        except Exception:  # noqa: BLE001 - the state says so; the organiser may start it again
            temporary.unlink(missing_ok=True)
            self.builds._write_state(self.name, BuildState("failed", self.done, self.total, items=self.items))
            import logging

            logging.getLogger(__name__).exception("PDF build %s failed", self.name)
        finally:
            os.close(self.descriptor)
