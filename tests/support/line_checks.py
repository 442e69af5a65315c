"""What the database must hold after a line of donors (tests/support/browser/line.py), given what
the kiosks and the nurse desks showed: each donor checked in once, with exactly the answers given,
numbered in the order of arrival; each decision and donation once, by the nurse who made it; the
counters equal to the rows (tests/support/invariants.py). And what the morning achieved, from the
server's own timestamps."""
from __future__ import annotations

import sqlalchemy as sa

from tests.support.donors import answers_for
from tests.support.flows import NurseResult
from tests.support.invariants import session_problems


def line_problems(session, drive_id: int, line, site: str) -> list[str]:
    donations = {d.bag: NurseResult(visit_id=d.visit_id, bag_number=d.bag, volume_ml=350, decided=True, donated=True)
                 for d in line.donors if d.bag}
    problems = session_problems(session, drive_id, checked_in={d.token: (site, d.queue_number) for d in line.donors},
                                donations=donations, decided={d.visit_id for d in line.donors})
    return (problems + _answer_problems(session, line) + _order_problems(session, line)
            + _audit_problems(session, line) + _nurse_problems(session, line))


def _answer_problems(session, line) -> list[str]:
    """One questionnaire response a donor, with exactly the answers and details given."""
    from kiosk.models import QuestionnaireResponse

    problems = []
    for donor in line.donors:
        rows = session.scalars(sa.select(QuestionnaireResponse).where(
            QuestionnaireResponse.visit_id == donor.visit_id)).all()
        if len(rows) != 1:
            problems.append(f"{donor.name}: {len(rows)} questionnaire responses")
            continue
        row, expected = rows[0], answers_for(donor.sex, tuple(donor.yes))
        if row.answers != expected:
            wrong = sorted(k for k in set(row.answers) | set(expected) if row.answers.get(k) != expected.get(k))
            problems.append(f"{donor.name}: answers differ from those given at {wrong}")
        if (row.details or {}) != donor.expected_details():
            problems.append(f"{donor.name}: details {row.details}, given {donor.expected_details()}")
        channel = "phone" if donor.phone_taps else "kiosk"
        if row.channel != channel:
            problems.append(f"{donor.name}: answered on the {channel}, recorded as {row.channel}")
    return problems


def _order_problems(session, line) -> list[str]:
    """The numbers in the order the kiosks gave the tickets, and in the order of the check-in times."""
    from kiosk.models import Visit

    problems = []
    seen = [d.queue_number for d in line.tickets]
    if seen != list(range(1, len(line.donors) + 1)):
        problems.append(f"tickets given in the order {seen}")
    ids = [d.visit_id for d in line.donors]
    by_time = session.scalars(sa.select(Visit.queue_number).where(Visit.id.in_(ids))
                              .order_by(Visit.checked_in_at, Visit.id)).all()
    if by_time != sorted(by_time):
        problems.append(f"queue numbers by check-in time: {by_time}")
    return problems


def _audit_problems(session, line) -> list[str]:
    """The audit: one check-in a donor, one decision a screening, one donation recorded a bag."""
    from kiosk.models import AuditLog, Donation, Screening

    problems = []
    ids = [d.visit_id for d in line.donors]
    counted = dict(session.execute(sa.select(AuditLog.entity_id, sa.func.count()).where(
        AuditLog.action == "checked_in", AuditLog.entity == "visit").group_by(AuditLog.entity_id)).all())
    problems += [f"visit {i}: {counted.get(i, 0)} check-ins audited" for i in ids if counted.get(i, 0) != 1]
    for action, model in (("screening_decision", Screening), ("donation_recorded", Donation)):
        rows = session.scalars(sa.select(model.id).where(model.visit_id.in_(ids))).all()
        audited = dict(session.execute(sa.select(AuditLog.entity_id, sa.func.count()).where(
            AuditLog.action == action).group_by(AuditLog.entity_id)).all())
        problems += [f"{model.__name__} {i}: {audited.get(i, 0)} × {action}" for i in rows if audited.get(i, 0) != 1]
    return problems


def _nurse_problems(session, line) -> list[str]:
    """Each decision is the one the nurse chose, made by her."""
    from kiosk.models import Screening, Staff

    problems = []
    nurses = dict(session.execute(sa.select(Staff.id, Staff.username)).all())
    for donor in line.donors:
        screening = session.scalars(sa.select(Screening).where(Screening.visit_id == donor.visit_id)).one()
        wanted = "deferred_temporary" if donor.deferred else "accepted"
        if (screening.decision, nurses.get(screening.nurse_id)) != (wanted, donor.nurse):
            problems.append(f"{donor.name}: {screening.decision} by {nurses.get(screening.nurse_id)}, "
                            f"the desk saved {wanted} by {donor.nurse}")
    return problems


def donors_per_hour(session, line) -> dict[str, float]:
    """Each kiosk's donors an hour, by the server's clock: the check-ins after its first one over the
    time from its first check-in to its last (the pace of a line that never runs dry)."""
    from kiosk.models import Visit

    rates = {}
    for kiosk in sorted({d.kiosk for d in line.donors}):
        ids = [d.visit_id for d in line.donors if d.kiosk == kiosk]
        first, last = session.execute(sa.select(sa.func.min(Visit.checked_in_at), sa.func.max(Visit.checked_in_at))
                                      .where(Visit.id.in_(ids))).one()
        rates[kiosk] = (len(ids) - 1) / max((last - first).total_seconds(), 1e-3) * 3600
    return rates
