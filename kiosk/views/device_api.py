"""The offline kiosk's own routes (issue 20; the domain is kiosk.offline):

    GET  /kiosk/offline-worker.js        the service worker (scope /kiosk/): the kiosk's shell, cached
    GET  /kiosk/<code>/offline/pack      the offline pack, with the steps drawn from the kiosk's templates
    POST /kiosk/<code>/offline/upload    the tablet's queued actions; an answer per action

The pack and the upload answer only a kiosk tablet paired for this site (its credential, whatever
DEVICE_PAIRING says), and only a request carrying X-Kiosk-Device, a header no cross-site form can
send: no CSRF token, which would go stale in a queue. A refused tablet is told to wipe what it holds."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Optional

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import force_locale, gettext as _
from werkzeug.datastructures import MultiDict

from kiosk import offline
from kiosk.access import Access, gate_for_blueprint, rule_for_blueprint
from kiosk.checkin import WalkIn, todays_drive_at
from kiosk.extensions import csrf, db
from kiosk.formatting import local_today
from kiosk.idempotency import NONCE_PATTERN
from kiosk.models import DeviceKind, Site, utcnow
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.views.donor_kiosk import today_start_utc
from kiosk.views.donor_kiosk.forms import ScanForm, WalkInForm, questionnaire_context, questionnaire_post
from kiosk.views.lookups import screening_rules, site_or_404
from kiosk.views.pairing import DEVICE_COOKIE, paired_device

bp = Blueprint("device_api", __name__)
rule_for_blueprint("device_api", Access.KIOSK)
csrf.exempt(bp)

DEVICE_HEADER = "X-Kiosk-Device"
MAX_ACTIONS = 200
# Drawn into the steps where the donor's own words go; the tablet puts them back as text.
# (A time is drawn as a sample time, "time_sample" in the pack, which the tablet replaces.)
NAME, GIVEN, RANK, DEPARTMENT, NUMBER = ("\u2063name\u2063", "\u2063given\u2063", "\u2063rank\u2063",
                                         "\u2063department\u2063", "\u2063number\u2063")


def _paired_kiosk_only():
    if request.endpoint == "device_api.worker":
        return None
    code = (request.view_args or {}).get("code")
    if request.headers.get(DEVICE_HEADER) != "1" or not code or paired_device(code, DeviceKind.KIOSK) is None:
        # Recorded for the organiser when it comes from a tablet that held a credential (a revoked
        # one): a stranger's posts do not fill the audit log.
        if request.endpoint == "device_api.upload" and code and request.cookies.get(DEVICE_COOKIE):
            count = len(_actions() or [])
            if count:
                offline.refuse_revoked_upload(db.session, site_code=code[:20], count=count)
        return jsonify({"error": "not_paired", "wipe": True}), 403
    return None


gate_for_blueprint("device_api", _paired_kiosk_only)


def _actions() -> Optional[list]:
    """The upload's list of actions, or None for a body that is not {"actions": [...]}."""
    body = request.get_json(silent=True)
    actions = body.get("actions") if isinstance(body, dict) else None
    return actions if isinstance(actions, list) else None


@bp.get("/kiosk/offline-worker.js")
def worker():
    path = Path(current_app.static_folder) / "js" / "offline-worker.js"
    response = current_app.response_class(path.read_bytes(), mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


# ----- the pack -----

class _Placeholder:
    """A donor as the step templates see one, whose words the tablet fills in."""
    full_name, rank = NAME, RANK
    department = type("Department", (), {"name": DEPARTMENT})()
    given_name = GIVEN


@bp.get("/kiosk/<code>/offline/pack")
def pack(code: str):
    site = site_or_404(code)
    device = paired_device(code, DeviceKind.KIOSK)
    found = offline.pack_for(db.session, device, site, local_today(), today_start_utc())
    body: dict[str, Any] = {"site": site.code, "device": device.name, "made_at": _iso(utcnow()),
                            "drive": None, "passes": [], "numbers": found.numbers,
                            "zone": current_app.config["BABEL_DEFAULT_TIMEZONE"]}
    if found.drive is not None:
        body["drive"] = {"id": found.drive.id, "name": found.drive.name}
        body["passes"] = [{"digest": p.digest, "name": p.full_name, "given": p.given_name, "sex": p.sex,
                           "rank": p.rank, "department": p.department, "checked_in": p.checked_in,
                           "number": p.queue_number, "checked_in_at": _iso(p.checked_in_at),
                           "phone_at": _iso(p.phone_answered_at)} for p in found.passes]
        questions = load_questionnaire()
        body["must_be_yes"] = [item.id for group in questions.groups for item in group.items if item.must_be_yes]
        steps = {lang: _steps(site, found.drive, questions, lang) for lang in current_app.config["LANGUAGES"]}
        body["steps_version"] = hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()[:16]
        if request.args.get("have") != body["steps_version"]:  # the tablet's are the same: not sent again
            body["steps"] = steps
    return _compressed(json.dumps(body, separators=(",", ":")).encode())


def _compressed(data: bytes):
    """The pack, gzipped where the tablet accepts it (its markup shrinks ten times): on a 4G link
    it goes after every check-in."""
    response = current_app.response_class(mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept-Encoding")
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(data, 6))
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(data)
    return response


# The steps carry no token or nonce of their own (the tablet puts the page's CSRF token and a fresh
# nonce in): the same steps have the same version, whoever asks.
_PER_REQUEST = re.compile(r'(name="(?:csrf_token|nonce)"(?: type="hidden")? value=")[^"]*(")')


def _without_tokens(html: str) -> str:
    return _PER_REQUEST.sub(r"\1\2", html)


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.replace(tzinfo=dt.timezone.utc).isoformat() if value is not None else None


def _steps(site: Site, drive, questions, lang: str) -> dict[str, Any]:
    """The kiosk's steps in one language, from its own templates, with placeholders for the donor."""
    with force_locale(lang):
        def stage(template, **context):
            context.setdefault("idle_seconds", current_app.config["KIOSK_IDLE_SECONDS"])
            return _without_tokens(render_template(template, site=site, **context))
        post_url = url_for("donor_kiosk.questionnaire", code=site.code)
        sample = dt.datetime(2000, 1, 1, 3, 4)  # drawn as a time, then found and replaced on the tablet
        steps = {
            "start": stage("donor_kiosk/_start.html", drive=drive, form=_scan_form(), notice=None),
            "confirm": stage("donor_kiosk/_confirm.html", ks="", donor=_Placeholder, registered_site=None),
            "phone_answers": stage("donor_kiosk/_phone_answers.html", ks="", answered_at=sample),
            "ticket": stage("donor_kiosk/_ticket.html", drive=drive, queue_number=NUMBER, donor_name=GIVEN,
                            sex="", ticket_qr="", return_after=current_app.config["KIOSK_TICKET_SECONDS"]),
            "outcomes": {outcome: stage("donor_kiosk/_outcome.html", outcome=outcome, queue_number=NUMBER,
                                        checked_in_at=sample)
                         for outcome in ("already", "unknown", "declined")},
            "walk_in": stage("donor_kiosk/_walk_in.html", drive=drive, form=_walk_in_form(drive)),
            "questionnaire": {sex: [stage("donor_kiosk/_questionnaire.html", ks="", post_url=post_url,
                                          **questionnaire_context(questions.groups_for(sex), step, None))
                                    for step in range(len(questions.groups_for(sex)))] for sex in ("M", "F")},
            "time_sample": current_app.jinja_env.filters["time"](sample),
            "texts": {"answer_all": _("Please answer every question on this screen."),
                      "fill_all": _("Please fill in every field marked as needed."),
                      "no_numbers": _("This tablet has no queue numbers left. Please go to the desk."),
                      "find_offline": _("Finding yourself by ID number needs the server. Please scan your pass, "
                                        "or ask the staff at the desk.")},
        }
    return steps


def _scan_form():
    return ScanForm(formdata=None)


def _walk_in_form(drive):
    return WalkInForm(formdata=None, drive_date=drive.drive_date, age_rule=screening_rules().age)


# ----- the upload -----

@bp.post("/kiosk/<code>/offline/upload")
def upload(code: str):
    site = site_or_404(code)
    device = paired_device(code, DeviceKind.KIOSK)
    raw = _actions()
    if raw is None or len(raw) > MAX_ACTIONS:
        return jsonify({"error": "bad_upload"}), 400
    # An action with no nonce of ours cannot be applied once: answered, never applied.
    unreadable = [{"nonce": "", "outcome": "refused", "reason": "unreadable", "queue_number": None}
                  for item in raw if _nonce_of(item) is None]
    steps = [_step(item, site) for item in raw if _nonce_of(item) is not None]
    questions = load_questionnaire()

    def read_answers(fields: dict[str, str], sex: str):
        post = questionnaire_post(questions, sex, form=MultiDict(fields))
        if post.unknown:
            raise ValueError(post.unknown)
        return post.answers, post.for_domain(questions.items_for(sex))

    answers = offline.apply_upload(db.session, device=device, site=site, steps=steps, today=local_today(),
                                   today_start_utc=today_start_utc(), questionnaire=questions,
                                   read_answers=read_answers)
    return jsonify({"answers": answers + unreadable, "server_time": _iso(utcnow())})


def _nonce_of(item: Any) -> Optional[str]:
    nonce = str(item.get("nonce") or "") if isinstance(item, dict) else ""
    return nonce if NONCE_PATTERN.match(nonce) and len(nonce) <= 48 else None


def _step(item: dict, site: Site) -> offline.OfflineStep:
    nonce = _nonce_of(item)
    kind = item.get("kind")
    device_time = _device_time(item.get("device_time"))
    number = item.get("number") if isinstance(item.get("number"), int) else None
    answers = item.get("answers")
    answers = {str(k): str(v) for k, v in answers.items()} if isinstance(answers, dict) else None
    step = dict(nonce=nonce, kind=str(kind), device_time=device_time, offline=bool(item.get("offline", True)),
                number=number, digest=str(item.get("digest") or "")[:64], answers=answers)
    if kind not in ("check_in", "walk_in"):
        return offline.OfflineStep(**step, problem="unreadable")
    if kind == "walk_in":
        walk_in, problem = _walk_in(item.get("walk_in"), site, nonce)
        return offline.OfflineStep(**step, walk_in=walk_in, problem=problem)
    return offline.OfflineStep(**step)


def _device_time(value: Any) -> Optional[dt.datetime]:
    if not isinstance(value, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def _walk_in(fields: Any, site: Site, nonce: str) -> tuple[Optional[WalkIn], str]:
    """The walk-in form as the tablet kept it, checked by the kiosk's own form."""
    drive = todays_drive_at(db.session, site, local_today())
    if not isinstance(fields, dict) or drive is None:
        return None, "walk_in_invalid"
    data = MultiDict({str(k): str(v) for k, v in fields.items()})
    data["nonce"] = nonce
    form = WalkInForm(formdata=data, meta={"csrf": False}, drive_date=drive.drive_date,
                      age_rule=screening_rules().age)
    if not form.validate():
        return None, "walk_in_invalid"
    return WalkIn(full_name=form.full_name.data, date_of_birth=form.date_of_birth.data, sex=form.sex.data,
                  id_number=form.id_number.data, phone=form.phone.data, department_id=form.department_id.data or None,
                  rank=(form.rank.data or "").strip(), blood_group=form.blood_group.data or "",
                  last_donation_date=form.last_donation.data), ""
