"""The screening engine: a donor's facts, answers and vitals in, a suggestion out.

The rules it applies, and every number in them, come from kiosk.screening.rules. A suggestion
lists every reason, each with the rule and source it comes from. A reason is "blocking" when it
stops a donation today; the others restrict the volume or ask the nurse to look (needs_review).
Permanent wins over everything; otherwise the return date is the latest date among the temporary
deferrals.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Optional

from kiosk.screening.dates import add_days, add_months, age_on, birthday_in, later  # noqa: F401 (importers)
from kiosk.screening.questionnaire import DATE_SUFFIX, Item, Questionnaire, event_when
from kiosk.screening.rules import VITAL_FIELDS, DonorFacts, Rules, Vitals, is_number

# --- the output ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reason:
    rule: str  # "age", "weight", ..., "questionnaire:q5"
    code: str  # one of ALL_REASON_CODES
    params: dict[str, Any]  # the numbers for the message (JSON-able)
    until: Optional[dt.date]  # the earliest date this reason allows a donation again
    permanent: bool
    source: str  # "TT 26/2013 Art. 4.1", "NIHBT", ...
    blocking: bool = True  # False: the reason restricts the volume or asks the nurse to look

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "code": self.code, "params": copy.deepcopy(self.params),
                "until": self.until.isoformat() if self.until else None, "permanent": self.permanent,
                "source": self.source, "blocking": self.blocking}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Reason":
        return cls(rule=data["rule"], code=data["code"], params=dict(data.get("params") or {}),
                   until=_date_or_none(data.get("until")), permanent=bool(data.get("permanent")),
                   source=data.get("source", ""), blocking=bool(data.get("blocking", True)))


@dataclass(frozen=True)
class Suggestion:
    eligible: bool
    allowed_volumes: tuple[int, ...]  # empty when not eligible
    reasons: tuple[Reason, ...]
    return_date: Optional[dt.date]  # None when eligible, permanent, or no date can be computed
    permanent: bool
    needs_review: bool
    rules_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"eligible": self.eligible, "allowed_volumes": list(self.allowed_volumes),
                "reasons": [r.to_dict() for r in self.reasons],
                "return_date": self.return_date.isoformat() if self.return_date else None,
                "permanent": self.permanent, "needs_review": self.needs_review,
                "rules_version": self.rules_version}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Suggestion":
        return cls(eligible=bool(data["eligible"]), allowed_volumes=tuple(data.get("allowed_volumes") or ()),
                   reasons=tuple(Reason.from_dict(r) for r in data.get("reasons") or ()),
                   return_date=_date_or_none(data.get("return_date")), permanent=bool(data.get("permanent")),
                   needs_review=bool(data.get("needs_review")), rules_version=data.get("rules_version", ""))


def _date_or_none(value: Any) -> Optional[dt.date]:
    if value in (None, ""):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


# --- the engine ---------------------------------------------------------------------------------

def implausible_vitals(vitals: Vitals, rules: Rules) -> dict[str, tuple[float, float]]:
    """Fields whose value no living donor can have (pulse 900, weight 4000): a typing error the form
    refuses on the spot, with the range it accepts."""
    wrong: dict[str, tuple[float, float]] = {}
    for name, (lowest, highest) in rules.plausible.items():
        value = getattr(vitals, name, None)
        if value is None:
            continue
        if not is_number(value) or not lowest <= value <= highest:
            wrong[name] = (lowest, highest)
    systolic, diastolic = vitals.systolic_mmhg, vitals.diastolic_mmhg
    # A diastolic at or above the systolic is two numbers swapped or mistyped.
    if ("systolic_mmhg" not in wrong and "diastolic_mmhg" not in wrong and is_number(systolic)
            and is_number(diastolic) and diastolic >= systolic):
        lowest = rules.plausible.get("diastolic_mmhg", (0, systolic))[0]
        wrong["diastolic_mmhg"] = (lowest, systolic - 1)
    return wrong


def suggest(donor: DonorFacts, drive_date: dt.date, answers: Optional[Mapping[str, bool]],
            vitals: Optional[Vitals], rules: Rules, questionnaire: Questionnaire,
            details: Optional[Mapping[str, str]] = None) -> Suggestion:
    """What the rules say about this donor on this drive date. The nurse decides. `details`
    are the answers' details (which vaccine, which illness), by item id."""
    reasons: list[Reason] = []
    needs_review = False

    reasons += _age_reasons(donor, drive_date, rules)
    reasons += _interval_reasons(donor, drive_date, rules)
    questionnaire_reasons, questionnaire_review = _questionnaire_reasons(donor, drive_date, answers, rules,
                                                                         questionnaire, details)
    reasons += questionnaire_reasons
    needs_review |= questionnaire_review

    vitals = vitals or Vitals()
    unusable = implausible_vitals(vitals, rules)
    if unusable:
        # The form should have refused them; if they got here, they count as not measured.
        reasons.append(Reason("vitals", "vitals_implausible", {"fields": sorted(unusable)}, None, False,
                              "", blocking=False))
        needs_review = True
    measured = {name: (None if name in unusable else getattr(vitals, name)) for name in VITAL_FIELDS}
    missing = [name for name in rules.required_vitals if measured[name] is None and name not in unusable]
    if missing:
        # Missing vitals restrict nothing: the nurse measures them and asks again.
        reasons.append(Reason("vitals", "vitals_missing", {"fields": missing}, None, False, "", blocking=False))
        needs_review = True

    volumes, vital_reasons = _vital_reasons(donor, drive_date, measured, vitals.hbsag, rules)
    reasons += vital_reasons

    blocking = [r for r in reasons if r.blocking]
    if not blocking and not volumes:
        reasons.append(Reason("volume", "no_allowed_volume", {}, None, False, rules.volume.source))
        blocking = reasons[-1:]
    eligible = not blocking
    permanent = any(r.permanent for r in reasons)
    dates = [r.until for r in blocking if r.until is not None]
    return_date = max(dates) if dates and not eligible and not permanent else None
    # Permanent first, then what stops a donation today, then restrictions and notes.
    reasons.sort(key=lambda r: (not r.permanent, not r.blocking))
    return Suggestion(eligible=eligible, allowed_volumes=tuple(volumes) if eligible else (),
                      reasons=tuple(reasons), return_date=return_date, permanent=permanent,
                      needs_review=needs_review, rules_version=rules.version)


def _age_reasons(donor: DonorFacts, drive_date: dt.date, rules: Rules) -> list[Reason]:
    rule = rules.age
    age = age_on(donor.date_of_birth, drive_date)
    if age < rule.min_years:
        comes_of_age = birthday_in(donor.date_of_birth, donor.date_of_birth.year + rule.min_years)
        return [Reason("age", "too_young", {"age": age, "min_years": rule.min_years}, comes_of_age, False,
                       rule.source)]
    if age > rule.max_years:
        return [Reason("age", "too_old", {"age": age, "max_years": rule.max_years}, None, True, rule.source)]
    return []


def _interval_reasons(donor: DonorFacts, drive_date: dt.date, rules: Rules) -> list[Reason]:
    rule = rules.interval
    if donor.last_donation_date is None:
        return []
    donation_type = donor.last_donation_type if donor.last_donation_type in rule.days else rule.unknown_type_as
    min_days = rule.days[donation_type]
    days_since = (drive_date - donor.last_donation_date).days
    if days_since >= min_days:
        return []
    return [Reason("interval", "interval_too_short",
                   {"days_since": days_since, "min_days": min_days, "donation_type": donation_type},
                   later(donor.last_donation_date, dt.timedelta(days=min_days)), False, rule.source)]


def _questionnaire_reasons(donor: DonorFacts, drive_date: dt.date, answers: Optional[Mapping[str, bool]],
                           rules: Rules, questionnaire: Questionnaire,
                           details: Optional[Mapping[str, str]] = None) -> tuple[list[Reason], bool]:
    source = rules.questionnaire.source
    # Unanswered questions could hide a deferral, and without them there is no consent: not
    # eligible until they are answered, which can be done today.
    if answers is None:
        return [Reason("questionnaire", "questionnaire_missing", {}, drive_date, False, source)], True
    reasons: list[Reason] = []
    review = False
    # Only the items this donor is asked: the women's group does not count for a man.
    items = questionnaire.items_for(donor.sex)
    unanswered = [item.id for item in items if not item.must_be_yes and not isinstance(answers.get(item.id), bool)]
    if unanswered:
        reasons.append(Reason("questionnaire", "questionnaire_incomplete", {"items": unanswered}, drive_date,
                              False, source))
        review = True
    for item in items:
        if item.must_be_yes:
            if answers.get(item.id) is not True:
                # Consent can be given at once: the donor may continue today once confirmed.
                reasons.append(Reason(f"questionnaire:{item.id}", "not_confirmed", {"item": item.id}, drive_date,
                                      False, rules.questionnaire.confirmation_source))
        elif answers.get(item.id) is True:
            reason, looks = _yes_reason(item, details, donor, drive_date, rules)
            reasons += [reason] if reason is not None else []
            review = review or looks
    return reasons, review


def _yes_reason(item: Item, details: Optional[Mapping[str, str]], donor: DonorFacts, drive_date: dt.date,
                rules: Rules) -> tuple[Optional[Reason], bool]:
    """The reason a "yes" to this item gives (None: none), and whether the nurse must look."""
    detail = (details or {}).get(item.id)
    rule = item.rule_for(detail)
    kind = rule.get("kind", "none")
    params, review = _yes_params(item, rule, detail)
    # The rule's own source (the Circular's article, or NIHBT practice), else the questionnaire's.
    rule_name = f"questionnaire:{item.id}"
    source = rule.get("source") or item.if_yes.get("source") or rules.questionnaire.source
    if item.id == rules.pregnancy.item:
        # The rules file's months, counted from the birth or the end of the pregnancy when given.
        reason, looks = _wait_reason(item, {"months": rules.pregnancy.months}, params, details, drive_date,
                                     rules.pregnancy.source)
        if reason.code == "questionnaire_deferral":
            reason = Reason("pregnancy", "pregnancy", reason.params, reason.until, False, reason.source)
        return reason, review or looks
    if kind == "permanent":
        return Reason(rule_name, "questionnaire_permanent", params, None, True, source), review
    if kind in ("wait", "months", "days"):
        reason, looks = _wait_reason(item, rule, params, details, drive_date, source)
        return reason, review or looks
    if kind == "nurse_sets_date":
        # No date the rules can compute (a pregnancy, a vaccine of unknown kind): not today, the nurse sets it.
        return Reason(rule_name, "questionnaire_nurse_sets_date", params, None, False, source), True
    if kind == "advice":
        # Work that needs 12 hours after donating: advice for the donor and the nurse, not a deferral.
        return Reason(rule_name, "questionnaire_advice", params, None, False, source, blocking=False), review
    if kind == "none":
        if item.id == rules.interval.asked_by_item and donor.last_donation_date is None:
            return Reason("interval", "last_donation_unknown", params, None, False, rules.interval.source,
                          blocking=False), True
        return None, review
    # "nurse_review", or a kind this version does not know: never silently ignored.
    return Reason(rule_name, "questionnaire_review", params, None, False, source, blocking=False), True


def _yes_params(item: Item, rule: Mapping[str, Any], detail: Optional[str]) -> tuple[dict[str, Any], bool]:
    """A "yes" reason's numbers for its message, and whether the nurse must look."""
    params: dict[str, Any] = {"item": item.id}
    review = False
    if rule.get("row"):
        params["row"] = rule["row"]
    if item.detail == "choice" and item.choice(detail) is not None:
        params["choice"] = detail
    elif item.detail == "text" and detail:
        params["detail"] = detail
    if item.if_yes.get("note"):
        params["note"] = dict(item.if_yes["note"])
        review = True
    if rule.get("review") or (item.detail == "choice" and item.choice(detail) is None):
        # A wait the donor could not pin down (which vaccine?): suggested, and the nurse looks.
        params["review"] = True
        review = True
    return params, review


def _wait_reason(item: Item, rule: Mapping[str, Any], params: dict[str, Any], details: Optional[Mapping[str, str]],
                 drive_date: dt.date, source: str) -> tuple[Reason, bool]:
    """A wait after a "yes", and whether the nurse must look. Counted from the event when the
    donor said when (a month counts from its last day, never after the drive); with no date,
    from the drive date, and the nurse checks the date."""
    when = event_when(details, item.id) if item.asks_date else None
    review = bool(rule.get("review"))
    # A date after the drive, or a month that starts after it, is no date the wait can count from.
    if when is not None and (when[0] if when[1] else when[0].replace(day=1)) <= drive_date:
        start = min(when[0], drive_date)
        params["since"] = str((details or {}).get(item.id + DATE_SUFFIX))
    else:
        start = drive_date
        if item.asks_date:
            params["review"] = review = True
    wait, until = _wait(rule, start)
    if until <= drive_date:
        # The date given ends the wait already, though the donor said "yes": not deferred; the
        # nurse sees the answer and the date.
        return Reason(f"questionnaire:{item.id}", "questionnaire_review", {**params, **wait}, None, False, source,
                      blocking=False), True
    return Reason(f"questionnaire:{item.id}", "questionnaire_deferral", {**params, **wait}, until, False,
                  source), review


def _wait(rule: Mapping[str, Any], drive_date: dt.date) -> tuple[dict[str, int], dt.date]:
    """A wait counted from the drive date: months by the calendar, weeks and days as days
    (4 weeks is 28 days, not a calendar month)."""
    if "months" in rule:
        months = int(rule["months"])
        return {"months": months}, add_months(drive_date, months)
    if "weeks" in rule:
        weeks = int(rule["weeks"])
        return {"weeks": weeks}, later(drive_date, dt.timedelta(weeks=weeks))
    days = int(rule["days"])
    return {"days": days}, later(drive_date, dt.timedelta(days=days))


def _vital_reasons(donor: DonorFacts, drive_date: dt.date, measured: dict[str, Any], hbsag: Optional[str],
                   rules: Rules) -> tuple[list[int], list[Reason]]:
    reasons: list[Reason] = []
    volumes = [v for v in rules.volume.bag_sizes_ml if v <= rules.volume.max_ml]
    volumes = _by_weight(donor, drive_date, measured["weight_kg"], rules, volumes, reasons)
    volumes = _by_haemoglobin(drive_date, measured["haemoglobin_g_l"], rules, volumes, reasons)
    if hbsag == "positive":
        reasons.append(Reason("hbsag", "hbsag_positive", {}, None, True, rules.hbsag.source))
    return volumes, reasons + _retest_reasons(drive_date, measured, rules)


def _by_weight(donor: DonorFacts, drive_date: dt.date, weight: Optional[float], rules: Rules, volumes: list[int],
               reasons: list[Reason]) -> list[int]:
    """The volumes the weight allows (none under the minimum), its reasons appended."""
    if weight is None:
        return volumes
    volume = rules.volume
    # The strictest minimum when the sex is not one the rules know.
    min_kg = rules.weight.min_kg.get(donor.sex, max(rules.weight.min_kg.values()))
    if weight < min_kg:
        reasons.append(Reason("weight", "underweight", {"weight_kg": weight, "min_kg": min_kg},
                              add_days(drive_date, rules.weight.defer_days), False, rules.weight.source))
        return []
    if weight < volume.full_band_from_kg:
        by_weight = [v for v in volumes if v <= volume.small_band_max_ml]
    else:
        # Decimal: 9 x 50.0 must be exactly 450, not 449.99999.
        limit = Decimal(str(volume.ml_per_kg)) * Decimal(str(weight))
        by_weight = [v for v in volumes if v <= limit]
    if by_weight and by_weight != volumes:
        reasons.append(Reason("weight", "volume_limited_by_weight", {"weight_kg": weight, "max_ml": max(by_weight)},
                              None, False, volume.source, blocking=False))
    return by_weight


def _by_haemoglobin(drive_date: dt.date, hb: Optional[float], rules: Rules, volumes: list[int],
                    reasons: list[Reason]) -> list[int]:
    """The volumes the haemoglobin allows, its reasons appended."""
    hb_rule = rules.haemoglobin
    if hb is None:
        return volumes
    if hb < hb_rule.min_g_l:
        reasons.append(Reason("haemoglobin", "hb_low", {"haemoglobin_g_l": hb, "min_g_l": hb_rule.min_g_l},
                              add_days(drive_date, hb_rule.defer_days), False, hb_rule.source))
        return volumes
    if hb >= hb_rule.min_g_l_from_volume:
        return volumes
    smaller = [v for v in volumes if v < hb_rule.large_volume_from_ml]
    if smaller != volumes:
        reasons.append(Reason("haemoglobin", "hb_low_for_volume",
                              {"haemoglobin_g_l": hb, "min_g_l": hb_rule.min_g_l_from_volume,
                               "from_ml": hb_rule.large_volume_from_ml}, None, False, hb_rule.source, blocking=False))
    return smaller


def _retest_reasons(drive_date: dt.date, measured: dict[str, Any], rules: Rules) -> list[Reason]:
    """Blood pressure, pulse or temperature out of range: not today, measured again from
    drive date + retest_days (1 by default: a nervous donor is often fine the next day)."""
    reasons: list[Reason] = []
    bp = rules.blood_pressure
    systolic, diastolic = measured["systolic_mmhg"], measured["diastolic_mmhg"]
    if ((systolic is not None and not bp.systolic_min <= systolic <= bp.systolic_max)
            or (diastolic is not None and not bp.diastolic_min <= diastolic <= bp.diastolic_max)):
        reasons.append(Reason("blood_pressure", "bp_out_of_range",
                              {"systolic": systolic, "diastolic": diastolic, "systolic_min": bp.systolic_min,
                               "systolic_max": bp.systolic_max, "diastolic_min": bp.diastolic_min,
                               "diastolic_max": bp.diastolic_max},
                              later(drive_date, dt.timedelta(days=bp.retest_days)), False, bp.source))
    pulse_rule = rules.pulse
    pulse = measured["pulse_per_min"]
    if pulse is not None and not pulse_rule.min <= pulse <= pulse_rule.max:
        reasons.append(Reason("pulse", "pulse_out_of_range",
                              {"pulse_per_min": pulse, "min": pulse_rule.min, "max": pulse_rule.max},
                              later(drive_date, dt.timedelta(days=pulse_rule.retest_days)), False, pulse_rule.source))
    temperature_rule = rules.temperature
    temperature = measured["temperature_c"]
    if temperature is not None and temperature > temperature_rule.max_c:
        reasons.append(Reason("temperature", "fever", {"temperature_c": temperature, "max_c": temperature_rule.max_c},
                              later(drive_date, dt.timedelta(days=temperature_rule.retest_days)), False,
                              temperature_rule.source))
    return reasons
