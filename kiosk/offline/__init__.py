"""Kiosks through a network drop (issue 20), as pretixSCAN does it: a paired tablet holds an
offline pack for its site (pack.py: pass digests, greeting names, departments, checked-in flags,
queue numbers set aside for it; never an ID number, date of birth, phone or health answer), checks
donors in on its own while the server cannot be reached, and uploads what it did once it can
(uploads.py), each action once, with its own time and the server's.

    numbers   blocks of queue numbers per tablet, never given to anyone else (numbers.py)
    pack      what the tablet may hold, refreshed every few minutes and on every check-in
    uploads   the tablet's actions applied exactly once; a refusal or a conflict recorded
"""
from kiosk.offline.numbers import BLOCK_SIZE, numbers_for_tablet
from kiosk.offline.pack import Pack, pack_for
from kiosk.offline.uploads import LATE_AFTER, OfflineStep, apply_upload, refuse_revoked_upload

__all__ = ["BLOCK_SIZE", "LATE_AFTER", "OfflineStep", "Pack", "apply_upload", "numbers_for_tablet", "pack_for",
           "refuse_revoked_upload"]
