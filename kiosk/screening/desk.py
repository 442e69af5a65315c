"""What the nurse's desk shows about a visit: the queue, the suggestion for the vitals typed so
far, the latest questionnaire answers and the ones flagged for review, the last donation the
interval rule counts from, the visit's decisions, donations and history (visit_record: all the
donor's page reads, once).

Plain domain code (no Flask): the rules and the questionnaire are passed in, and so is the
language a question's text is wanted in; the views put everything into words."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from kiosk.donor_search import LastDonation, last_donation_for
from kiosk.models import AuditLog, Donation, Donor, QuestionnaireResponse, Screening, Visit
from kiosk.screening.engine import Reason, Suggestion, suggest
from kiosk.screening.questionnaire import Questionnaire, event_date, event_when, questionnaire_for
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


def advice_for(session: Session, visit_id: int, current: Questionnaire) -> list[dict[str, str]]:
    """The advice the donor's latest answers call for (work within 12 hours of donating), in both
    languages as the questionnaire file words it: for the ticket and the phone, not a deferral."""
    response = latest_response(session, visit_id)
    if response is None:
        return []
    asked = questionnaire_for(response.questionnaire_version, current)
    advice = []
    for item_id, answer in (response.answers or {}).items():
        try:
            rule = asked.item(item_id).if_yes
        except KeyError:
            continue
        if answer is True and rule.get("kind") == "advice" and rule.get("advice"):
            advice.append(dict(rule["advice"]))
    return advice


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


def donor_facts(donor: Donor, last: Optional[LastDonation]) -> DonorFacts:
    return DonorFacts(date_of_birth=donor.date_of_birth, sex=donor.sex,
                      last_donation_date=last.date if last else None, last_donation_type=last.type if last else None)


def suggestion_for(session: Session, visit: Visit, vitals: Optional[Vitals], rules: Rules,
                   questionnaire: Questionnaire) -> Suggestion:
    """What the rules say about this visit's donor today, with these vitals (None: none measured);
    the interval rule counts from the last donation before the drive's date.

    The answers are read with the questionnaire they were given under, with their details
    (which vaccine, which illness, when)."""
    last = last_donation_for(session, visit.donor, before=visit.drive.drive_date, interval=rules.interval)
    return suggestion_from(visit, latest_response(session, visit.id), last, vitals, rules, questionnaire)


def suggestion_from(visit: Visit, response: Optional[QuestionnaireResponse], last: Optional[LastDonation],
                    vitals: Optional[Vitals], rules: Rules, questionnaire: Questionnaire) -> Suggestion:
    """suggestion_for with the answers and the last donation already read."""
    facts = donor_facts(visit.donor, last)
    if response is None:
        return suggest(facts, visit.drive.drive_date, None, vitals, rules, questionnaire)
    return suggest(facts, visit.drive.drive_date, dict(response.answers), vitals, rules,
                   questionnaire_for(response.questionnaire_version, questionnaire), dict(response.details or {}))


@dataclass(frozen=True)
class FlagRow:
    """A "yes" answer for the nurse to review, with the engine's reason for it if it gave one."""
    item: str  # "q5" or "q4.vaccine"
    number: str  # "5" or "4", as the donor saw it; "" for an unnumbered question (the work question)
    text: str  # the question or sub-item, in the language asked for
    reason: Optional[Reason]
    flag: dict[str, Any]  # the flag as the check-in stored it: its kind, months or days, note
    note: str  # the questionnaire's note for the nurse, in the language asked for
    choice: str = ""  # the kind the donor chose (which vaccine), in words
    detail: str = ""  # the donor's own words ("which illness?"): plain text, shown escaped
    event_date: Optional[dt.date] = None  # when it happened, if the donor said (a month: its last day)
    event_month: bool = False  # the donor gave a month and year, not a day
    advice: bool = False  # advice (work 12 hours after donating), not a deferral


def _words(words: Optional[dict[str, str]], language: str, fallback: str = "") -> str:
    return (words or {}).get(language) or (words or {}).get("vi") or fallback


def question_number(item_id: str) -> str:
    """"q5" or "q4.vaccine" -> "5"/"4"; "" for an item that is not a numbered question."""
    head = item_id.split(".", 1)[0]
    return head[1:] if head[:1] == "q" and head[1:].isdigit() else ""


def flag_rows(response: Optional[QuestionnaireResponse], suggestion: Suggestion, questionnaire: Questionnaire,
              language: str) -> list[FlagRow]:
    """The donor's "yes" answers, each with the rule (and deferral) it touches, in the words of the
    questionnaire version they were given under (an unknown version or item shows its id, never
    fails). language: "vi" or "en"."""
    if response is None:
        return []
    asked = questionnaire_for(response.questionnaire_version, questionnaire)
    details = dict(response.details or {})
    by_rule = {r.rule: r for r in suggestion.reasons}
    rows = []
    for flag in response.flags or []:
        item_id = str(flag.get("item", ""))
        value = details.get(item_id, flag.get("detail"))
        choice = detail = ""
        try:
            item = asked.item(item_id)
        except KeyError:
            item = None
        if item is not None:
            text = _words(item.text, language, item_id)
            chosen = item.choice(str(value)) if item.detail == "choice" and value else None
            if chosen is not None:
                choice = _words(chosen.text, language)
            elif item.detail == "text" and value:
                detail = str(value)
        else:
            text = item_id
        note = flag.get("note")
        reason = by_rule.get(f"questionnaire:{item_id}")
        if reason is None and item is not None:
            reason = by_rule.get("pregnancy") if by_rule.get("pregnancy") and \
                by_rule["pregnancy"].params.get("item") == item_id else None
        rows.append(FlagRow(item=item_id, number=question_number(item_id), text=text, reason=reason,
                            flag=dict(flag), note=note.get(language, "") if isinstance(note, dict) else "",
                            choice=choice, detail=detail, event_date=event_date(details, item_id),
                            event_month=not (event_when(details, item_id) or (None, True))[1],
                            advice=flag.get("kind") == "advice"))
    return rows


def screenings_of(session: Session, visit_id: int) -> list[Screening]:
    """Every decision on the visit, voided ones included, oldest first."""
    return list(session.scalars(sa.select(Screening).where(Screening.visit_id == visit_id).order_by(Screening.id)))


def donations_of(session: Session, visit_id: int) -> list[Donation]:
    """Every donation recorded for the visit, voided ones included, oldest first."""
    return list(session.scalars(sa.select(Donation).where(Donation.visit_id == visit_id).order_by(Donation.id)))


# Who opened the page is kept for the console's activity page; on the nurse's page it would bury
# what happened to the donor under one "opened" line per look.
ACCESS_ENTRIES = ("donor_page_viewed",)


def history(session: Session, visit: Visit, screening_ids: list[int], donation_ids: list[int]) -> list[AuditLog]:
    """The audit entries of the visit, its decisions and its donations, newest first; not who looked."""
    conditions = [sa.and_(AuditLog.entity == "visit", AuditLog.entity_id == visit.id)]
    if screening_ids:
        conditions.append(sa.and_(AuditLog.entity == "screening", AuditLog.entity_id.in_(screening_ids)))
    if donation_ids:
        conditions.append(sa.and_(AuditLog.entity == "donation", AuditLog.entity_id.in_(donation_ids)))
    return list(session.scalars(sa.select(AuditLog).where(sa.or_(*conditions), AuditLog.action.not_in(ACCESS_ENTRIES))
                                .options(joinedload(AuditLog.staff)).order_by(AuditLog.id.desc())))


@dataclass(frozen=True)
class VisitRecord:
    """Everything the donor's page shows from the database, read once per page."""
    response: Optional[QuestionnaireResponse]  # the answers that count
    screenings: list[Screening]  # every decision, voided ones included, oldest first
    screening: Optional[Screening]  # the decision that counts: the latest not voided
    donations: list[Donation]  # voided ones included, oldest first
    donation: Optional[Donation]  # the latest not voided
    last_donation: Optional[LastDonation]  # before this drive: what the interval rule counts from
    history: list[AuditLog]


def visit_record(session: Session, visit: Visit) -> VisitRecord:
    """The donor's page's reads: the answers, the decisions, the donations, the last donation
    before this drive, and the audit history."""
    screenings = screenings_of(session, visit.id)
    donations = donations_of(session, visit.id)
    return VisitRecord(
        response=latest_response(session, visit.id), screenings=screenings,
        screening=next((s for s in reversed(screenings) if not s.voided), None), donations=donations,
        donation=next((d for d in reversed(donations) if not d.voided), None),
        last_donation=last_donation_for(session, visit.donor, before=visit.drive.drive_date),
        history=history(session, visit, [s.id for s in screenings], [d.id for d in donations]))
