"""The console's read-outs of a drive: exports, the end-of-drive report, thank-you letters and the
audit log."""
from __future__ import annotations

import datetime as dt
import io

from flask import abort, current_app, render_template, request, send_file, url_for
from flask_babel import gettext as _

from kiosk import audit_text, labels
from kiosk.audit import record_access
from kiosk.exports import COLUMNS, FORMATS, build_export, record_health_export, to_csv, to_xlsx
from kiosk.extensions import db
from kiosk.formatting import local_zone
from kiosk.letters import letters_for
from kiosk.models import AuditLog, Donation, Drive, utcnow
from kiosk.queries.activity import AuditFilter, audit_choices, day_start_utc, drive_log
from kiosk.recognition import recognition_steps
from kiosk.report import NURSE_JUDGEMENT, drive_report
from kiosk.screening.messages import QUESTIONNAIRE_PREFIX, item_text, rule_label
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.views.lookups import screening_rules
from kiosk.views.admin import bp, current_staff_id, forms, get_or_404
from kiosk.views.pdf import pdf_response, render_pdf


# ---------------------------------------------------------------- exports

@bp.get("/drives/<int:drive_id>/exports")
def exports(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    return render_template("admin/exports.html", drive=drive, columns=COLUMNS,
                           health_form=forms.HealthExportForm(formdata=None))


def _send_export(drive: Drive, kind: str, fmt: str):
    questionnaire = load_questionnaire(current_app.config.get("QUESTIONNAIRE_PATH")) if kind == "health" else None
    export = build_export(db.session, drive, kind, local_zone(), questionnaire=questionnaire,
                          thresholds=recognition_steps(drive, current_app.config.get("RECOGNITION_THRESHOLDS")))
    if fmt == "csv":
        body, mimetype = to_csv(export), "text/csv"  # Flask adds "; charset=utf-8"
    else:
        body, mimetype = to_xlsx(export), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=export.filename(fmt, drive.drive_date), max_age=0)


@bp.get("/drives/<int:drive_id>/exports/<kind>.<fmt>")
def export_file(drive_id: int, kind: str, fmt: str):
    drive = get_or_404(Drive, drive_id)
    if kind not in ("visits", "screenings", "donations", "recognition", "on_call") or fmt not in FORMATS:
        abort(404)
    # The visits export holds everyone's CCCD: who took which file is logged (health has its own entry).
    record_access(db.session, "export_downloaded", staff_id=current_staff_id(), entity="drive", entity_id=drive.id,
                  drive_id=drive.id, details={"kind": kind, "format": fmt})
    return _send_export(drive, kind, fmt)


@bp.post("/drives/<int:drive_id>/exports/health")
def export_health(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    form = forms.HealthExportForm()
    if not form.validate_on_submit():
        return render_template("admin/exports.html", drive=drive, columns=COLUMNS, health_form=form), 422
    record_health_export(db.session, drive_id=drive.id, staff_id=current_staff_id(), fmt=form.format.data)
    return _send_export(get_or_404(Drive, drive_id), "health", form.format.data)


# ---------------------------------------------------------------- report and thank-you letters

def reason_label(rule: str) -> str:
    """A deferral's reason named: "Tiêm vắc-xin — Câu 4 (Trong 12 tháng gần đây)", not the
    question's number and window alone, which name no reason."""
    if rule == NURSE_JUDGEMENT:
        return _("The nurse's judgement")
    if not isinstance(rule, str):
        return str(rule)  # stored JSON: an odd rule still shows
    named = item_text(rule[len(QUESTIONNAIRE_PREFIX):]) if rule.startswith(QUESTIONNAIRE_PREFIX) else ""
    return f"{named.rstrip(' ?')} — {rule_label(rule)}" if named else rule_label(rule)


def reaction_label(reaction: str) -> str:
    return labels.label(labels.REACTION, reaction)


@bp.get("/drives/<int:drive_id>/report")
def report(drive_id: int):
    rules = screening_rules()
    result = drive_report(db.session, drive_id, local_zone(), tuple(rules.volume.bag_sizes_ml))
    if result is None:
        abort(404)
    return render_template("admin/report.html", drive=result.drive, report=result, reason_label=reason_label,
                           reaction_label=reaction_label, printed_at=utcnow())


@bp.get("/drives/<int:drive_id>/thank-you-letters")
def thank_you_letters(drive_id: int):
    """The organising unit's thank-you letters, one per completed donation (never the official
    certificate: the collecting facility hands that over, and its serial is recorded)."""
    drive = get_or_404(Drive, drive_id)
    return render_template("admin/thank_you_letters.html", drive=drive, letters=letters_for(db.session, drive.id),
                           single=False, pdf_url=url_for("admin.thank_you_letters_pdf", drive_id=drive.id))


@bp.get("/drives/<int:drive_id>/thank-you-letters.pdf")
def thank_you_letters_pdf(drive_id: int):
    drive = get_or_404(Drive, drive_id)
    return _letters_pdf(drive, letters_for(db.session, drive.id), f"thu-cam-on-{drive.drive_date.isoformat()}.pdf")


@bp.get("/donations/<int:donation_id>/thank-you-letter.pdf")
def thank_you_letter_pdf(donation_id: int):
    record = get_or_404(Donation, donation_id)
    found = letters_for(db.session, record.drive_id, [record.id])
    if not found:
        abort(404)
    return _letters_pdf(record.visit.drive, found, f"thu-cam-on-{record.id}.pdf")


def _letters_pdf(drive: Drive, letters, name: str):
    """The letters as the print dialogue lays them out: the console's styles, then print's."""
    body = render_pdf("admin/letters_pdf.html", stylesheets=("css/admin.css", "css/print.css"), drive=drive,
                      letters=letters)
    return pdf_response(body, name)


@bp.get("/donations/<int:donation_id>/thank-you-letter")
def thank_you_letter(donation_id: int):
    record = get_or_404(Donation, donation_id)
    found = letters_for(db.session, record.drive_id, [record.id])
    if not found:
        abort(404)  # voided or incomplete: no letter
    return render_template("admin/thank_you_letters.html", drive=record.visit.drive, letters=found, single=True,
                           pdf_url=url_for("admin.thank_you_letter_pdf", donation_id=record.id))


# ---------------------------------------------------------------- audit

@bp.get("/drives/<int:drive_id>/audit")
def audit(drive_id: int):
    """The drive's log, 50 entries a page, newest first, narrowed by action, person or device, and day."""
    drive = get_or_404(Drive, drive_id)
    actions, staff, devices = audit_choices(db.session, drive.id)
    form = forms.AuditFilterForm(formdata=request.args)
    # Actions as slugs in the URL (?action=drive-closed): the page shows no stored code, not even in its links.
    form.set_choices(sorted(((action.replace("_", "-"), audit_text.action_text(action)) for action in actions),
                            key=lambda c: c[1]),
                     [(f"staff:{person.id}", person.display_name) for person in staff]
                     + [(f"device:{device}", audit_text.actor_text(AuditLog(actor=device))) for device in devices])
    chosen = AuditFilter()
    if form.validate():
        kind, _sep, value = (form.who.data or "").partition(":")
        since = until = None
        if form.day.data:
            since = day_start_utc(form.day.data, local_zone())
            until = since + dt.timedelta(days=1)
        chosen = AuditFilter(action=(form.action.data or "").replace("-", "_"), staff_id=int(value) if kind == "staff" else None,
                             device=value if kind == "device" else "", since=since, until=until)
    log = drive_log(db.session, drive.id, chosen, request.args.get("page", 1, type=int))
    filters = {name: request.args[name] for name in ("action", "who", "day") if request.args.get(name)} \
        if not form.errors else {}
    return render_template("admin/audit.html", drive=drive, entries=log.found.entries, found=log.found,
                           total=log.size, form=form, filters=filters, filtered=chosen != AuditFilter())
