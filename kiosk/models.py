"""The data model. Every table is created by a migration (kiosk/migrations), never create_all."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from kiosk.enums import Decision, DeviceKind, DonationOutcome, DriveStatus, IdentityDocument, Reaction, StaffRole, VisitStatus  # noqa: F401 (models' API)
from kiosk.extensions import db


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _enum(cls: type[enum.Enum], name: str) -> sa.Enum:
    # Stored as plain strings with a CHECK constraint: portable and readable in exports.
    return sa.Enum(cls, name=name, native_enum=False, create_constraint=True, length=20,
                   values_callable=lambda e: [m.value for m in e])


drive_site = sa.Table(
    "drive_site",
    db.metadata,
    sa.Column("drive_id", sa.ForeignKey("drive.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
    # The last queue number given at this site for this drive: incremented in the check-in
    # transaction, so numbers have no gaps and no repeats.
    sa.Column("last_queue_number", sa.Integer, nullable=False, server_default="0"),
)


class Drive(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    drive_date: so.Mapped[dt.date]
    target_bags: so.Mapped[int] = so.mapped_column(default=0)
    status: so.Mapped[DriveStatus] = so.mapped_column(_enum(DriveStatus, "drive_status"),
                                                      default=DriveStatus.PLANNED)
    hospital: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    organiser: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # The campaign a drive belongs to ("Hành trình Đỏ", "Chủ nhật Đỏ"), shown on the display and report.
    campaign: so.Mapped[str] = so.mapped_column(sa.String(120), default="", server_default="")
    # How letters address donors (kiosk.letters.SALUTATIONS): "Đồng chí" in a police unit.
    salutation: so.Mapped[str] = so.mapped_column(sa.String(20), default="dong_chi", server_default="dong_chi")
    # The donation counts its province or campaign recognises ("5,10,15,20,30,40,50,70,100"; QĐ
    # 122/QĐ-BCĐQG leaves the steps to provinces); empty: the instance's RECOGNITION_THRESHOLDS.
    recognition_steps: so.Mapped[str] = so.mapped_column(sa.String(120), default="", server_default="")
    # Bumped by every change a live screen shows (check-in, screening, donation), so a poll
    # can answer "nothing changed" from one indexed read.
    revision: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)

    sites: so.Mapped[list["Site"]] = so.relationship(secondary=drive_site, back_populates="drives",
                                                     order_by="Site.code")
    visits: so.WriteOnlyMapped["Visit"] = so.relationship(back_populates="drive")

    __table_args__ = (sa.CheckConstraint("target_bags >= 0", name="target_nonnegative"),)


class Site(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    address: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    drives: so.Mapped[list[Drive]] = so.relationship(secondary=drive_site, back_populates="sites")


class Department(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    parent_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("department.id"))
    # Where this department's donors go on a drive day, when the roster does not say.
    default_site_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("site.id"))
    # When its donors are asked to arrive on a drive day (local time), printed on their passes;
    # called_at: when the organiser called it in before its window (kiosk.arrivals).
    arrival_start: so.Mapped[Optional[dt.time]]
    arrival_end: so.Mapped[Optional[dt.time]]
    called_at: so.Mapped[Optional[dt.datetime]]

    parent: so.Mapped[Optional["Department"]] = so.relationship(remote_side=[id], back_populates="children")
    children: so.Mapped[list["Department"]] = so.relationship(back_populates="parent")
    default_site: so.Mapped[Optional[Site]] = so.relationship()


class Donor(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    full_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    # The name without diacritics, lower case: "nguyen van hung" finds "Nguyễn Văn Hùng".
    name_search: so.Mapped[str] = so.mapped_column(sa.String(120), index=True)
    date_of_birth: so.Mapped[dt.date]
    sex: so.Mapped[str] = so.mapped_column(sa.String(1))  # "M" or "F"
    id_number: so.Mapped[str] = so.mapped_column(sa.String(12), unique=True)
    phone: so.Mapped[str] = so.mapped_column(sa.String(15), default="")
    department_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("department.id"), index=True)
    rank: so.Mapped[str] = so.mapped_column(sa.String(60), default="")
    blood_group: so.Mapped[str] = so.mapped_column(sa.String(3), default="")
    last_donation_date: so.Mapped[Optional[dt.date]]
    # whole_blood, red_cells, plasma or platelets; the interval rule depends on it.
    last_donation_type: so.Mapped[Optional[str]] = so.mapped_column(sa.String(20))
    # Donations before the app recorded any ("Số lần hiến" on a roster); the app adds its own.
    prior_donations: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    department: so.Mapped[Optional[Department]] = so.relationship()
    visits: so.WriteOnlyMapped["Visit"] = so.relationship(back_populates="donor")

    __table_args__ = (sa.CheckConstraint("sex IN ('M', 'F')", name="sex_known"),)

    @property
    def given_name(self) -> str:
        # Vietnamese names put the given name last: "Nguyễn Văn Hùng" is called Hùng.
        return self.full_name.split()[-1] if self.full_name.split() else ""


class Visit(db.Model):
    """A donor at a drive: from the printed pass to the donation."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    drive_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("drive.id"), index=True)
    donor_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("donor.id"), index=True)
    site_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("site.id"), index=True)
    token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    status: so.Mapped[VisitStatus] = so.mapped_column(_enum(VisitStatus, "visit_status"),
                                                      default=VisitStatus.REGISTERED, index=True)
    registered_via: so.Mapped[str] = so.mapped_column(sa.String(20), default="roster")  # roster, walk_in
    queue_number: so.Mapped[Optional[int]]
    checked_in_at: so.Mapped[Optional[dt.datetime]]
    questionnaire_at: so.Mapped[Optional[dt.datetime]]
    screened_at: so.Mapped[Optional[dt.datetime]]
    finished_at: so.Mapped[Optional[dt.datetime]]
    # Which nurse has the donor open, so a second nurse sees it is taken.
    opened_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("staff.id"))
    opened_at: so.Mapped[Optional[dt.datetime]]
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    # Optimistic lock: a save carrying an older version is refused, never silently applied.
    version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")

    drive: so.Mapped[Drive] = so.relationship(back_populates="visits")
    donor: so.Mapped[Donor] = so.relationship(back_populates="visits")
    site: so.Mapped[Optional[Site]] = so.relationship()
    opened_by: so.Mapped[Optional["Staff"]] = so.relationship()

    __table_args__ = (
        sa.UniqueConstraint("drive_id", "donor_id"),  # one visit per donor per drive
        sa.UniqueConstraint("drive_id", "site_id", "queue_number"),
    )


class QuestionnaireResponse(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    visit_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("visit.id"), index=True)
    questionnaire_version: so.Mapped[str] = so.mapped_column(sa.String(40))
    answers: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)  # item id -> true/false
    # What a "yes" asked for next: which vaccine, which illness, when ("q9.pregnancy_ended#date").
    details: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict, server_default="{}")
    # Items answered "yes" that the nurse must see, with the suggested deferral of each.
    flags: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON, default=list)
    channel: so.Mapped[str] = so.mapped_column(sa.String(10), default="kiosk")  # kiosk, phone
    submitted_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    nonce: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)

    visit: so.Mapped[Visit] = so.relationship()


class Screening(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    visit_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("visit.id"), index=True)
    weight_kg: so.Mapped[Optional[float]]
    systolic_mmhg: so.Mapped[Optional[int]]
    diastolic_mmhg: so.Mapped[Optional[int]]
    pulse_per_min: so.Mapped[Optional[int]]
    haemoglobin_g_l: so.Mapped[Optional[int]]
    temperature_c: so.Mapped[Optional[float]]
    hbsag: so.Mapped[Optional[str]] = so.mapped_column(sa.String(10))  # negative, positive, or not done
    # The rules engine's output at the time of the decision.
    suggestion: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    decision: so.Mapped[str] = so.mapped_column(sa.String(20))  # a Decision value
    volume_ml: so.Mapped[Optional[int]]
    deferral_until: so.Mapped[Optional[dt.date]]
    reason: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    override_reason: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # An IdentityDocument value when the nurse saw one; accepting without it, or without a
    # haemoglobin measurement, needs checks_reason.
    identity_document: so.Mapped[Optional[str]] = so.mapped_column(sa.String(20))
    checks_reason: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default="")
    nurse_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("staff.id"))
    voided: so.Mapped[bool] = so.mapped_column(default=False)
    void_reason: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
    version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    nonce: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)

    visit: so.Mapped[Visit] = so.relationship()
    nurse: so.Mapped["Staff"] = so.relationship()


class Donation(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    visit_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("visit.id"), index=True)
    drive_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("drive.id"), index=True)
    volume_ml: so.Mapped[int]
    bag_number: so.Mapped[str] = so.mapped_column(sa.String(40))
    outcome: so.Mapped[str] = so.mapped_column(sa.String(12))  # a DonationOutcome value
    reaction: so.Mapped[str] = so.mapped_column(sa.String(12), default=Reaction.NONE.value)
    reaction_note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # The serial number of the official certificate (Giấy chứng nhận hiến máu tình nguyện) the
    # collecting facility handed over: the app records it, it never prints that certificate.
    certificate_serial: so.Mapped[str] = so.mapped_column(sa.String(40), default="", server_default="",
                                                          index=True)
    nurse_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("staff.id"))
    voided: so.Mapped[bool] = so.mapped_column(default=False)
    void_reason: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
    version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    nonce: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)

    visit: so.Mapped[Visit] = so.relationship()
    nurse: so.Mapped["Staff"] = so.relationship()

    __table_args__ = (
        sa.UniqueConstraint("drive_id", "bag_number"),
        sa.CheckConstraint("volume_ml > 0 AND volume_ml <= 500", name="volume_range"),
        sa.CheckConstraint("outcome IN ('completed', 'incomplete')", name="outcome_known"),
        # At most one counted bag per visit, whatever recorded it.
        sa.Index("uq_donation_one_completed_per_visit", "visit_id", unique=True,
                 sqlite_where=sa.text("outcome = 'completed' AND voided = 0"),
                 postgresql_where=sa.text("outcome = 'completed' AND NOT voided")),
    )


class TallyCounter(db.Model):
    """Live tally of a drive, per site and department, kept in the donation's own transaction."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    drive_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("drive.id"))
    site_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("site.id"))
    department_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("department.id"))
    checked_in: so.Mapped[int] = so.mapped_column(default=0)
    screened: so.Mapped[int] = so.mapped_column(default=0)
    deferred: so.Mapped[int] = so.mapped_column(default=0)
    bags: so.Mapped[int] = so.mapped_column(default=0)
    volume_ml: so.Mapped[int] = so.mapped_column(default=0)
    incomplete: so.Mapped[int] = so.mapped_column(default=0)

    __table_args__ = (sa.UniqueConstraint("drive_id", "site_id", "department_id"),)


class Staff(UserMixin, db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(60), unique=True)
    display_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    role: so.Mapped[StaffRole] = so.mapped_column(_enum(StaffRole, "staff_role"))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    # TOTP two-factor: the shared secret (base32), set at enrolment; it counts once confirmed.
    totp_secret: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    totp_enabled: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # The 30-second step of the last code accepted: a code works once, so one seen over a
    # shoulder or on the network cannot sign in again within its minute.
    totp_last_step: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)

    # The sites a nurse may open (organisers open every site).
    sites: so.Mapped[list["Site"]] = so.relationship(secondary=lambda: staff_site, order_by="Site.code")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active


staff_site = sa.Table(
    "staff_site",
    db.metadata,
    sa.Column("staff_id", sa.ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
)


class StaffSession(db.Model):
    """A server-side sign-in: signing out ends it, so a copied cookie stops working."""

    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    staff_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("staff.id"), index=True)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    last_seen_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    ended_at: so.Mapped[Optional[dt.datetime]]

    staff: so.Mapped[Staff] = so.relationship()


class KioskSession(db.Model):
    """A donor's pass through a kiosk, from scan to ticket. Its random id is what the
    kiosk page carries between steps, so no personal data travels in a URL; closing it
    (ticket, idle reset) makes every later request with it fail."""

    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    visit_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("visit.id"), index=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id"))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    closed_at: so.Mapped[Optional[dt.datetime]]
    # The paired tablet that opened it: a request from any other client is refused (None when
    # device pairing is off).
    device_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("device.id"))

    visit: so.Mapped[Visit] = so.relationship()


class Device(db.Model):
    """An enrolled tablet or screen at a site (kiosk.devices). The organiser adds it and gets a
    one-time pairing code; pairing gives the tablet a long random credential, of which only the
    SHA-256 is kept. Revoking it refuses the tablet at its next request."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    site_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("site.id"), index=True)
    kind: so.Mapped[DeviceKind] = so.mapped_column(_enum(DeviceKind, "device_kind"))
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    credential_hash: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64), unique=True)
    pairing_code_hash: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64), unique=True)
    pairing_expires_at: so.Mapped[Optional[dt.datetime]]
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    paired_at: so.Mapped[Optional[dt.datetime]]
    last_used_at: so.Mapped[Optional[dt.datetime]]
    revoked_at: so.Mapped[Optional[dt.datetime]]

    site: so.Mapped[Site] = so.relationship()


class WriteReceipt(db.Model):
    """One row per client nonce: a write retried with the same nonce finds its receipt and
    answers the same, instead of recording twice."""

    nonce: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    action: so.Mapped[str] = so.mapped_column(sa.String(40))
    result: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)


class RateLimitHit(db.Model):
    """Counts per key and time window, in the database so every worker shares them."""

    key: so.Mapped[str] = so.mapped_column(sa.String(120), primary_key=True)
    window_start: so.Mapped[int] = so.mapped_column(primary_key=True)
    count: so.Mapped[int] = so.mapped_column(default=0)


class SignInThrottle(db.Model):
    """Sign-in attempts per key (an account from unknown browsers, a known browser, an address),
    counted before the password is checked. `blocked_until` (epoch seconds) grows with each
    failure past the free ones; `refused` counts attempts turned away meanwhile, summed into one
    audit entry when the wait ends."""

    key: so.Mapped[str] = so.mapped_column(sa.String(120), primary_key=True)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    blocked_until: so.Mapped[float] = so.mapped_column(sa.Double, default=0.0)
    refused: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    staff_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"),
                                                          index=True)


class AuditLog(db.Model):
    """Append-only: triggers made by the migration refuse UPDATE and DELETE."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, index=True)
    staff_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("staff.id"))
    actor: so.Mapped[str] = so.mapped_column(sa.String(120), default="")  # e.g. "kiosk:HQ"
    action: so.Mapped[str] = so.mapped_column(sa.String(60))
    entity: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    entity_id: so.Mapped[Optional[int]]
    drive_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("drive.id"))
    old_values: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)
    new_values: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)
    reason: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # Where the request came from (request.remote_addr, after ProxyFix); "" outside a request.
    source_address: so.Mapped[str] = so.mapped_column(sa.String(45), default="", server_default="")

    staff: so.Mapped[Optional[Staff]] = so.relationship()



# Offline kiosks' tables (issue 20), in a module of their own: this one is at its size limit.
from kiosk.offline_models import OfflineAction, QueueNumberBlock  # noqa: E402,F401 (models' API)
from kiosk.held_files_models import PdfBuild, PdfBuildLock, RosterUpload  # noqa: E402,F401 (models' API)
