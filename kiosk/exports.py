"""A drive's visits, screenings and donations as CSV (UTF-8 with BOM, for Excel) and .xlsx.

No views and no request: column headers are Vietnamese, cells use the screens' own words from
kiosk.labels rendered in Vietnamese (the app context's catalogue), the visits export's first columns
are the roster's own headers, so a drive's list can be imported again for the next drive.
Health data (questionnaire answers, vitals, reasons) is only in the "health" export, which
the console marks as confidential and audits; the other three leave it out."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any, Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from kiosk import labels, recognition
from kiosk.audit import record_audit
from kiosk.database import write_transaction
from kiosk.inputs import DATE_FORMAT, DATETIME_FORMAT
from kiosk.models import (Department, Donation, DonationOutcome, Donor, Drive, QuestionnaireResponse, Screening,
                          Site, Staff, Visit)
from kiosk.screening.questionnaire import Questionnaire, load_questionnaire, questionnaire_for

KINDS = ("visits", "screenings", "donations", "health", "recognition", "on_call")
FORMATS = ("csv", "xlsx")
# Excel opens a CSV as UTF-8 only when it starts with a byte order mark.
BOM = "\ufeff"
# A true flag (voided, a "yes" answer) as a cell says it; false is an empty cell.
YES = "Có"
# A cell starting with one of these is a formula to Excel ("CSV injection"): in a CSV, prefix a
# quote; in an .xlsx, the cell is typed as text (no visible quote to survive a re-import).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_WIDTH = 60

COLUMNS: dict[str, tuple[str, ...]] = {
    "visits": ("Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Đơn vị", "Cấp bậc",
               "Nhóm máu", "Mã lượt", "Điểm hiến", "Trạng thái", "Đăng ký qua", "Số thứ tự",
               "Giờ đến", "Giờ khám", "Giờ xong", "Lần hiến gần nhất", "Số lần hiến"),
    "screenings": ("Mã khám", "Mã lượt", "Họ và tên", "Số CCCD", "Đơn vị", "Điểm hiến", "Kết luận",
                   "Thể tích (ml)", "Được hiến lại từ", "Điều dưỡng", "Thời điểm", "Đã hủy"),
    "donations": ("Mã hiến", "Mã lượt", "Họ và tên", "Số CCCD", "Đơn vị", "Điểm hiến", "Số túi",
                  "Thể tích (ml)", "Kết quả", "Phản ứng", "Điều dưỡng", "Thời điểm", "Đã hủy", "Lý do hủy",
                  "Số giấy chứng nhận"),
    "recognition": ("Họ và tên", "Đơn vị", "Số điện thoại", "Nhóm máu", "Số lần hiến", "Mốc vinh danh"),
    "on_call": ("Nhóm máu", "Họ và tên", "Số điện thoại", "Đơn vị", "Số lần hiến"),
    "health": ("Mã lượt", "Họ và tên", "Số CCCD", "Phiên bản phiếu", "Thời điểm trả lời", "Câu trả lời “có”",
               "Cần lưu ý", "Cân nặng (kg)", "Huyết áp tâm thu", "Huyết áp tâm trương", "Mạch (lần/phút)",
               "Hemoglobin (g/L)", "Nhiệt độ (°C)", "HBsAg", "Kết luận", "Lý do", "Lý do khác gợi ý",
               "Được hiến lại từ"),
}
TITLES = {"visits": "Lượt đăng ký", "screenings": "Khám sàng lọc", "donations": "Hiến máu",
          "health": "Dữ liệu sức khỏe - MẬT", "recognition": "Vinh danh người hiến nhiều lần",
          "on_call": "Người hiến máu dự bị theo nhóm máu"}
FILE_STEMS = {"visits": "luot-dang-ky", "screenings": "kham-sang-loc", "donations": "hien-mau",
              "health": "suc-khoe-MAT", "recognition": "vinh-danh", "on_call": "du-bi-nhom-mau"}


@dataclass(frozen=True)
class Export:
    kind: str
    drive_id: int
    columns: tuple[str, ...]
    rows: list[list[Any]]  # dates as dt.date, times as local dt.datetime, numbers as numbers

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    def filename(self, fmt: str, drive_date: dt.date) -> str:
        return f"{FILE_STEMS[self.kind]}-{drive_date.isoformat()}-dot{self.drive_id}.{fmt}"


def _local(value: Optional[dt.datetime], zone: ZoneInfo) -> Optional[dt.datetime]:
    # Stored as naive UTC; exported as the drive's local wall-clock time, without a zone (Excel has none).
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).astimezone(zone).replace(tzinfo=None)


def build_export(session: Session, drive: Drive, kind: str, zone: ZoneInfo,
                 questionnaire: Optional[Questionnaire] = None,
                 thresholds: tuple[int, ...] = recognition.DEFAULT_THRESHOLDS) -> Export:
    """questionnaire: the current one (the health export reads each donor's answers under the
    version they were given in); by default the packaged current version. thresholds: the
    recognition list's."""
    if kind not in KINDS:
        raise ValueError(kind)
    if kind == "recognition":
        rows = [[r.full_name, r.department, r.phone, r.blood_group, r.count, r.threshold]
                for r in recognition.reached_at_drive(session, drive.id, thresholds)]
        return Export(kind, drive.id, COLUMNS[kind], rows)
    if kind == "health":
        return Export(kind, drive.id, COLUMNS[kind],
                      _health(session, drive.id, zone, questionnaire or load_questionnaire()))
    builder = {"visits": _visits, "screenings": _screenings, "donations": _donations, "on_call": _on_call}[kind]
    return Export(kind, drive.id, COLUMNS[kind], builder(session, drive.id, zone))


def _on_call(session: Session, drive_id: int, zone: ZoneInfo) -> list[list[Any]]:
    return [[d.blood_group, d.full_name, d.phone, d.department, d.count]
            for d in recognition.on_call(session, drive_id)]


def _visit_query(drive_id: int):
    return (sa.select(Visit, Donor, Department.name, Site.code)
            .join(Donor, Visit.donor_id == Donor.id)
            .outerjoin(Department, Donor.department_id == Department.id)
            .outerjoin(Site, Visit.site_id == Site.id)
            .where(Visit.drive_id == drive_id))


def _visits(session: Session, drive_id: int, zone: ZoneInfo) -> list[list[Any]]:
    sexes, statuses, vias = (labels.vietnamese(labels.SEX), labels.vietnamese(labels.VISIT_STATUS),
                             labels.vietnamese(labels.REGISTERED_VIA))
    rows = []
    visits = session.execute(_visit_query(drive_id).order_by(Visit.id)).all()
    history = donation_history(session, [donor for _v, donor, _d, _s in visits])
    for visit, donor, department, site in visits:
        rows.append([donor.full_name, donor.date_of_birth, sexes.get(donor.sex, donor.sex), donor.id_number,
                     donor.phone, department or "", donor.rank, donor.blood_group, visit.id, site or "",
                     statuses.get(visit.status.value, visit.status.value),
                     vias.get(visit.registered_via, visit.registered_via), visit.queue_number,
                     _local(visit.checked_in_at, zone), _local(visit.screened_at, zone),
                     _local(visit.finished_at, zone), *history[donor.id]])
    return rows


def donation_history(session: Session, donors: list[Donor]) -> dict[int, tuple[Optional[dt.date], int]]:
    """Each donor's last donation date and times donated, as a roster gives them ("Lần hiến gần
    nhất", "Số lần hiến"), so the visits export is next year's roster: the last completed donation
    the app recorded (its drive's date), else the roster's; the roster's count plus those recorded."""
    recorded = {row.donor_id: row for row in session.execute(
        sa.select(Visit.donor_id, sa.func.max(Drive.drive_date).label("last"), sa.func.count(Donation.id).label("count"))
        .join(Donation, Donation.visit_id == Visit.id).join(Drive, Drive.id == Donation.drive_id)
        .where(Visit.donor_id.in_([donor.id for donor in donors]),
               Donation.outcome == DonationOutcome.COMPLETED.value, Donation.voided.is_(False))
        .group_by(Visit.donor_id))} if donors else {}
    history = {}
    for donor in donors:
        row = recorded.get(donor.id)
        history[donor.id] = (row.last if row else donor.last_donation_date,
                             (donor.prior_donations or 0) + (row.count if row else 0))
    return history


def _screenings(session: Session, drive_id: int, zone: ZoneInfo) -> list[list[Any]]:
    nurse = aliased(Staff)
    query = (sa.select(Screening, Visit, Donor, Department.name, Site.code, nurse.display_name)
             .join(Visit, Screening.visit_id == Visit.id)
             .join(Donor, Visit.donor_id == Donor.id)
             .outerjoin(Department, Donor.department_id == Department.id)
             .outerjoin(Site, Visit.site_id == Site.id)
             .outerjoin(nurse, Screening.nurse_id == nurse.id)
             .where(Visit.drive_id == drive_id).order_by(Screening.id))
    decisions = labels.vietnamese(labels.DECISION)
    return [[s.id, visit.id, donor.full_name, donor.id_number, department or "", site or "",
             decisions.get(s.decision, s.decision), s.volume_ml, s.deferral_until, nurse_name or "",
             _local(s.created_at, zone), yes_cell(s.voided)]
            for s, visit, donor, department, site, nurse_name in session.execute(query)]


def _donations(session: Session, drive_id: int, zone: ZoneInfo) -> list[list[Any]]:
    nurse = aliased(Staff)
    query = (sa.select(Donation, Visit, Donor, Department.name, Site.code, nurse.display_name)
             .join(Visit, Donation.visit_id == Visit.id)
             .join(Donor, Visit.donor_id == Donor.id)
             .outerjoin(Department, Donor.department_id == Department.id)
             .outerjoin(Site, Visit.site_id == Site.id)
             .outerjoin(nurse, Donation.nurse_id == nurse.id)
             .where(Donation.drive_id == drive_id).order_by(Donation.id))
    outcomes, reactions = labels.vietnamese(labels.OUTCOME), labels.vietnamese(labels.REACTION)
    return [[d.id, visit.id, donor.full_name, donor.id_number, department or "", site or "", d.bag_number,
             d.volume_ml, outcomes.get(d.outcome, d.outcome), reactions.get(d.reaction, d.reaction),
             nurse_name or "", _local(d.created_at, zone), yes_cell(d.voided), d.void_reason,
             d.certificate_serial]
            for d, visit, donor, department, site, nurse_name in session.execute(query)]


def _health(session: Session, drive_id: int, zone: ZoneInfo, current: Questionnaire) -> list[list[Any]]:
    visits = session.execute(
        sa.select(Visit.id, Donor.full_name, Donor.id_number).join(Donor, Visit.donor_id == Donor.id)
        .where(Visit.drive_id == drive_id, Visit.checked_in_at.is_not(None)).order_by(Visit.id)).all()
    ids = [v.id for v in visits]
    answers: dict[int, QuestionnaireResponse] = {}
    screenings: dict[int, Screening] = {}
    if ids:
        # The latest answers and the latest screening not voided, per visit.
        for response in session.scalars(sa.select(QuestionnaireResponse).where(QuestionnaireResponse.visit_id.in_(ids))
                                        .order_by(QuestionnaireResponse.submitted_at, QuestionnaireResponse.id)):
            answers[response.visit_id] = response
        for screening in session.scalars(sa.select(Screening).where(Screening.visit_id.in_(ids),
                                                                    Screening.voided.is_(False))
                                         .order_by(Screening.id)):
            screenings[screening.visit_id] = screening
    decisions = labels.vietnamese(labels.DECISION)
    rows = []
    for visit_id, full_name, id_number in visits:
        response, screening = answers.get(visit_id), screenings.get(visit_id)
        questionnaire = questionnaire_for(response.questionnaire_version, current) if response else current
        details = (response.details or {}) if response else {}
        yes = "; ".join(_question(questionnaire, item_id, details) for item_id in sorted(
            (k for k, v in (response.answers if response else {}).items() if v), key=_item_order(questionnaire)))
        flags = "; ".join(_question(questionnaire, str(f.get("item", "")), details)
                          for f in (response.flags if response else []) or [])
        rows.append([visit_id, full_name, id_number,
                     response.questionnaire_version if response else "",
                     _local(response.submitted_at, zone) if response else None, yes, flags,
                     *(getattr(screening, name) if screening else None
                       for name in ("weight_kg", "systolic_mmhg", "diastolic_mmhg", "pulse_per_min",
                                    "haemoglobin_g_l", "temperature_c", "hbsag")),
                     decisions.get(screening.decision, screening.decision) if screening else "",
                     screening.reason if screening else "", screening.override_reason if screening else "",
                     screening.deferral_until if screening else None])
    return rows


def _item_order(questionnaire: Questionnaire):
    """Items in the order the form asks them; an id the form does not know, after, by its number."""
    order = {item.id: index for index, item in enumerate(i for g in questionnaire.groups for i in g.items)}

    def key(item_id: str) -> tuple[int, int, str]:
        digits = "".join(c for c in item_id if c.isdigit())
        return (order.get(item_id, len(order)), int(digits) if digits else 0, item_id)
    return key


def _question(questionnaire: Questionnaire, item_id: str, details: dict[str, Any]) -> str:
    """A question as the donor read it (in Vietnamese), with what they added: a kind chosen, a
    note, a date."""
    try:
        item = questionnaire.item(item_id)
    except KeyError:
        return item_id  # a question this version does not have: its id rather than nothing
    text = item.text.get("vi") or next(iter(item.text.values()), item_id)
    added = []
    detail = details.get(item_id)
    if detail:
        choice = item.choice(str(detail)) if item.detail == "choice" else None
        added.append(choice.text.get("vi", choice.id) if choice else str(detail))
    when = details.get(item_id + "#date")
    if when:
        try:
            added.append(dt.date.fromisoformat(str(when)).strftime(DATE_FORMAT))
        except ValueError:
            pass
    return f"{text} ({', '.join(added)})" if added else text


def yes_cell(flag: bool) -> str:
    return YES if flag else ""


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, dt.date):
        return value.strftime(DATE_FORMAT)
    if isinstance(value, bool):
        return yes_cell(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)  # a number, not text that Excel could run
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(export: Export) -> bytes:
    """UTF-8 with a BOM and CRLF line ends, as Excel's own "CSV UTF-8" writes them."""
    buffer = io.StringIO()
    buffer.write(BOM)
    # Every field quoted: Excel in a ";"-separator locale would split an unquoted "a;=1+2".
    writer = csv.writer(buffer, dialect="excel", quoting=csv.QUOTE_ALL)
    writer.writerow(export.columns)
    for row in export.rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def to_xlsx(export: Export) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = export.title[:31]
    sheet.append(list(export.columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in export.rows:
        # Control characters an .xlsx cannot hold (openpyxl would refuse the whole file) are dropped.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    # Text that Excel would read as a formula stays text: typed as a string, with Excel's own
    # "quote prefix" style (shown without the quote, and it stays text when edited).
    for row_cells in sheet.iter_rows(min_row=2):
        for cell in row_cells:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.data_type = "s"
                cell.quotePrefix = True
    for index, column in enumerate(export.columns, start=1):
        cell = sheet.cell(row=1, column=index)
        sheet.column_dimensions[cell.column_letter].width = column_width(column, (r[index - 1] for r in export.rows))
        sample = next((r[index - 1] for r in export.rows if r[index - 1] is not None), None)
        if isinstance(sample, dt.date):
            number_format = "DD/MM/YYYY HH:MM" if isinstance(sample, dt.datetime) else "DD/MM/YYYY"
            for row_cells in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                row_cells[0].number_format = number_format
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def column_width(header: str, values) -> float:
    """A width, in Excel's characters, that fits the header (in bold) and the longest value."""
    longest = max((len(csv_cell(value)) for value in values), default=0)
    return float(min(max(longest, round(len(header) * 1.1)) + 2, XLSX_MAX_WIDTH))


def record_health_export(session: Session, *, drive_id: int, staff_id: int, fmt: str) -> None:
    """The health export is confidential: who took it, and when, goes in the audit log (committed)."""
    with write_transaction(session):
        record_audit(session, "health_export", staff_id=staff_id, entity="drive", entity_id=drive_id,
                     drive_id=drive_id, new={"format": fmt})
