"""What the nurse's desk shows about a visit: the queue, the suggestion for the vitals typed so
far, the latest questionnaire answers and the ones flagged for review, the last donation the
interval rule counts from, the visit's decisions, donations and history.

Plain domain code (no Flask): the rules and the questionnaire are passed in, and so is the
language a question's text is wanted in; the views put everything into words."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from kiosk.donor_search import LastDonation, last_donation_for
from kiosk.models import AuditLog, Donation, Donor, QuestionnaireResponse, Screening, Visit
from kiosk.screening.engine import Reason, Suggestion, suggest
from kiosk.screening.questionnaire import Questionnaire
from kiosk.screening.rules import DonorFacts, Rules, Vitals


def queue(session: Session, drive_id: int, site_id: int) -> list[Visit]:
    """The donors checked in at a site for a drive, by queue number."""
    return list(session.scalars(
        sa.select(Visit).where(Visit.drive_id == drive_id, Visit.site_id == site_id, Visit.queue_number.is_not(None))
        .options(joinedload(Visit.donor), joinedload(Visit.opened_by))
        .order_by(Visit.queue_number)))


def latest_response(session: Session, visit_id: int) -> Optional[QuestionnaireResponse]:
    """The answers that count: the last ones given (at the kiosk, or on the phone before)."""
    return session.scalars(sa.select(QuestionnaireResponse).where(QuestionnaireResponse.visit_id == visit_id)
                           .order_by(QuestionnaireResponse.submitted_at.desc(), QuestionnaireResponse.id.desc())
                           .limit(1)).first()


def flag_counts(session: Session, visit_ids: list[int]) -> dict[int, int]:
    """How many "yes" answers each visit's latest questionnaire flags for the nurse."""
    if not visit_ids:
        return {}
    counts: dict[int, int] = {}
    rows = session.execute(sa.select(QuestionnaireResponse.visit_id, QuestionnaireResponse.flags)
                           .where(QuestionnaireResponse.visit_id.in_(visit_ids))
                           .order_by(QuestionnaireResponse.submitted_at, QuestionnaireResponse.id))
    for visit_id, flags in rows:
        counts[visit_id] = len(flags or [])  # the latest response wins: later rows overwrite
    return counts


def last_donation(session: Session, visit: Visit) -> Optional[LastDonation]:
    """What the interval rule counts from: a donation recorded at an earlier drive, or the roster's date."""
    return last_donation_for(session, visit.donor_id, before=visit.drive.drive_date)


def donor_facts(donor: Donor, last: Optional[LastDonation]) -> DonorFacts:
    return DonorFacts(date_of_birth=donor.date_of_birth, sex=donor.sex,
                      last_donation_date=last.date if last else None, last_donation_type=last.type if last else None)


def suggestion_for(session: Session, visit: Visit, vitals: Optional[Vitals], rules: Rules,
                   questionnaire: Questionnaire) -> Suggestion:
    """What the rules say about this visit's donor today, with these vitals (None: none measured)."""
    response = latest_response(session, visit.id)
    facts = donor_facts(visit.donor, last_donation(session, visit))
    return suggest(facts, visit.drive.drive_date, dict(response.answers) if response else None, vitals, rules,
                   questionnaire)


@dataclass(frozen=True)
class FlagRow:
    """A "yes" answer for the nurse to review, with the engine's reason for it if it gave one."""
    item: str  # "q5"
    number: str  # "5", as the donor saw it
    text: str  # the question, in the language asked for
    reason: Optional[Reason]
    flag: dict[str, Any]  # the flag as the check-in stored it: its kind, months or days, note
    note: str  # the questionnaire's note for the nurse, in the language asked for


def flag_rows(response: Optional[QuestionnaireResponse], suggestion: Suggestion, questionnaire: Questionnaire,
              language: str) -> list[FlagRow]:
    """The donor's "yes" answers, each with the rule (and deferral) it touches. language: "vi" or "en"."""
    if response is None:
        return []
    by_rule = {r.rule: r for r in suggestion.reasons}
    rows = []
    for flag in response.flags or []:
        item_id = flag.get("item", "")
        try:
            item = questionnaire.item(item_id)
            text = item.text.get(language) or item.text.get("vi", item_id)
        except KeyError:
            text = item_id
        note = flag.get("note")
        rows.append(FlagRow(item=item_id, number=item_id.lstrip("q"), text=text,
                            reason=by_rule.get(f"questionnaire:{item_id}"), flag=dict(flag),
                            note=note.get(language, "") if isinstance(note, dict) else ""))
    return rows


def screenings_of(session: Session, visit_id: int) -> list[Screening]:
    """Every decision on the visit, voided ones included, oldest first."""
    return list(session.scalars(sa.select(Screening).where(Screening.visit_id == visit_id).order_by(Screening.id)))


def donations_of(session: Session, visit_id: int) -> list[Donation]:
    """Every donation recorded for the visit, voided ones included, oldest first."""
    return list(session.scalars(sa.select(Donation).where(Donation.visit_id == visit_id).order_by(Donation.id)))


def history(session: Session, visit: Visit, screening_ids: list[int], donation_ids: list[int]) -> list[AuditLog]:
    """The audit entries of the visit, its decisions and its donations, newest first."""
    conditions = [sa.and_(AuditLog.entity == "visit", AuditLog.entity_id == visit.id)]
    if screening_ids:
        conditions.append(sa.and_(AuditLog.entity == "screening", AuditLog.entity_id.in_(screening_ids)))
    if donation_ids:
        conditions.append(sa.and_(AuditLog.entity == "donation", AuditLog.entity_id.in_(donation_ids)))
    return list(session.scalars(sa.select(AuditLog).where(sa.or_(*conditions))
                                .options(joinedload(AuditLog.staff)).order_by(AuditLog.id.desc())))
