"""Repeat donors at a drive: who reached a recognition threshold, and the on-call list by blood
group (kiosk.recognition works them out; the exports are in kiosk.exports)."""
from __future__ import annotations

from flask import current_app, render_template

from kiosk.exports import FORMATS
from kiosk.extensions import db
from kiosk.models import Drive
from kiosk.recognition import is_rh_negative, on_call, reached_at_drive, recognition_steps
from kiosk.views.admin import bp, get_or_404


@bp.get("/drives/<int:drive_id>/repeat-donors")
def recognition(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    thresholds = recognition_steps(drive, current_app.config.get("RECOGNITION_THRESHOLDS"))
    return render_template("admin/recognition.html", drive=drive, thresholds=thresholds,
                           reached=reached_at_drive(db.session, drive.id, thresholds),
                           on_call=on_call(db.session, drive.id), is_rh_negative=is_rh_negative, formats=FORMATS)
