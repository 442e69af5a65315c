"""The screening engine's reasons in words, in the user's language (kiosk.screening.engine gives codes
and numbers; the numbers in every sentence come from the reason's params, so from configuration)."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Mapping, Optional, Union


from flask_babel import gettext as _
from flask_babel import ngettext

from kiosk.formatting import current_locale, format_number
from kiosk.screening.engine import Reason

QUESTIONNAIRE_PREFIX = "questionnaire:"


def number(value: Any) -> str:
    """41.9 -> "41,9" in Vietnamese; a value not measured -> "?"."""
    if value is None:
        return "?"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value, None)
    return str(value)


def question_number(item_id: str) -> str:
    """"q5" or "q5.tattoo" -> "5": the number the donor saw beside the question."""
    head = item_id.split(".", 1)[0]
    return head[1:] if head[:1] == "q" and head[1:].isdigit() else item_id


def _localised(words: Optional[Mapping[str, str]]) -> str:
    if not words:
        return ""
    return words.get(current_locale()) or words.get("vi", "")


@lru_cache(maxsize=1)
def _questionnaires() -> tuple:
    """Newest first: the current file, then every version's file by name, latest version first.
    Read once: every reason sentence on the nurse's page looks items up here."""
    from kiosk.screening.questionnaire import DATA, load_questionnaire

    return (load_questionnaire(), *(load_questionnaire(path)
                                    for path in sorted(DATA.glob("questionnaire-*.json"), reverse=True)))


def _find(item_id: str):
    """The item and its group, in the current questionnaire or an older version that asked it
    (a reason stored under the 2026-11 file names "q4", which the current one splits)."""
    for questionnaire in _questionnaires():
        try:
            return questionnaire.item(item_id), questionnaire.group_of(item_id), questionnaire
        except KeyError:
            continue
    return None, None, None


def _question_group_title(item_id: str) -> str:
    item, group, _questionnaire = _find(item_id)
    if group is None:
        return ""
    return _localised(group.window) or _localised(group.title)


def item_text(item_id: str) -> str:
    """The sub-item's own words ("Been vaccinated?"), or "" for a question asked as a whole."""
    item, group, _questionnaire = _find(item_id)
    if item is None or "." not in item_id:
        return ""
    return _localised(item.text)


def choice_text(item_id: str, choice_id: Optional[str]) -> str:
    item, _group, _questionnaire = _find(item_id)
    chosen = item.choice(choice_id) if item is not None and choice_id else None
    return _localised(chosen.text) if chosen else ""


def row_text(row: Optional[str]) -> str:
    """Art. 5's row in words ("4 weeks"), from the questionnaire file."""
    for questionnaire in _questionnaires():
        words = (questionnaire.rows or {}).get(row or "")
        if words:
            return _localised(words)
    return row or ""


# "Art." is English: a Vietnamese screen cites an article as "Điều" ("TT 26/2013 Điều 5").
ARTICLE = re.compile(r"\bArt\.\s*")


# "Art. 5.2.a" -> "khoản 2 điểm a Điều 5", as Vietnamese cites a clause of an article.
CLAUSE = re.compile(r"\bArt\.\s*(\d+)\.(\d+)(?:\.([a-zđ]))?\b")


def source_label(source: Optional[str]) -> str:
    """A rule's source in the user's language: the Circular's article ("TT 26/2013 Art. 5.2" ->
    "TT 26/2013 khoản 2 Điều 5"), or NIHBT practice said to be so, not passed off as the Circular."""
    if not source:
        return ""
    if source.startswith("NIHBT"):
        return _("NIHBT practice, not the Circular") + source[len("NIHBT"):]
    if current_locale() == "en":
        return source
    cited = CLAUSE.sub(lambda m: (f"điểm {m.group(3)} " if m.group(3) else "") + f"khoản {m.group(2)} Điều {m.group(1)}",
                       source)
    return ARTICLE.sub("Điều ", cited)


def rule_label(rule: str) -> str:
    if rule.startswith(QUESTIONNAIRE_PREFIX):
        item_id = rule[len(QUESTIONNAIRE_PREFIX):]
        group = _question_group_title(item_id)
        if not question_number(item_id).isdigit():
            # Not one of NIHBT's numbered questions (the work question, the consent): its own words.
            item, _group, _questionnaire = _find(item_id)
            return _localised(item.text) if item is not None else _("Health questionnaire")
        if group:
            # "Question 7 (In the last 14 days)": a number alone means nothing on a report.
            return _("Question %(number)s (%(group)s)", number=question_number(item_id), group=group)
        return _("Question %(number)s", number=question_number(item_id))
    return {
        "age": _("Age"), "weight": _("Weight"), "volume": _("Volume"), "interval": _("Interval since last donation"),
        "haemoglobin": _("Haemoglobin"), "hbsag": _("HBsAg"), "blood_pressure": _("Blood pressure"),
        "pulse": _("Pulse"), "temperature": _("Temperature"), "pregnancy": _("Pregnancy"),
        "questionnaire": _("Health questionnaire"), "vitals": _("Measurements"),
    }.get(rule, rule)


def vital_label(name: str) -> str:
    return {
        "weight_kg": _("weight"), "systolic_mmhg": _("systolic pressure"), "diastolic_mmhg": _("diastolic pressure"),
        "pulse_per_min": _("pulse"), "haemoglobin_g_l": _("haemoglobin"), "temperature_c": _("temperature"),
    }.get(name, name)


def donation_type_label(donation_type: str) -> str:
    return {
        "whole_blood": _("whole blood"), "red_cells": _("red cells"), "plasma": _("plasma"),
        "platelets": _("platelets"),
    }.get(donation_type, donation_type)


def _joined(values: list[str]) -> str:
    return ", ".join(values)


def _too_young(p: Mapping[str, Any]) -> str:
    return _("Not yet %(min_years)s years old (%(age)s on the drive date)",
             min_years=number(p.get("min_years")), age=number(p.get("age")))


def _too_old(p: Mapping[str, Any]) -> str:
    return _("Over %(max_years)s years old (%(age)s on the drive date)",
             max_years=number(p.get("max_years")), age=number(p.get("age")))


def _underweight(p: Mapping[str, Any]) -> str:
    return _("Weight %(weight)s kg, below %(min)s kg", weight=number(p.get("weight_kg")), min=number(p.get("min_kg")))


def _volume_limited_by_weight(p: Mapping[str, Any]) -> str:
    return _("At %(weight)s kg, at most %(max)s ml", weight=number(p.get("weight_kg")), max=number(p.get("max_ml")))


def _no_allowed_volume(p: Mapping[str, Any]) -> str:
    return _("No bag size is allowed for this weight and haemoglobin")


def _interval_too_short(p: Mapping[str, Any]) -> str:
    days_since = p.get("days_since")
    kind = donation_type_label(str(p.get("donation_type", "")))
    if isinstance(days_since, int) and days_since < 0:
        return _("The last donation (%(kind)s) is recorded after the drive date", kind=kind)
    return _("Last donation (%(kind)s) %(days)s days ago; at least %(min)s days are needed",
             kind=kind, days=number(days_since), min=number(p.get("min_days")))


def _last_donation_unknown(p: Mapping[str, Any]) -> str:
    return _("Has donated before: ask the date and type of the last donation")


def _hb_low(p: Mapping[str, Any]) -> str:
    return _("Hb %(hb)s g/L, below %(min)s g/L", hb=number(p.get("haemoglobin_g_l")), min=number(p.get("min_g_l")))


def _hb_low_for_volume(p: Mapping[str, Any]) -> str:
    return _("Hb %(hb)s g/L, below %(min)s g/L: only bags under %(from_ml)s ml",
             hb=number(p.get("haemoglobin_g_l")), min=number(p.get("min_g_l")), from_ml=number(p.get("from_ml")))


def _hbsag_positive(p: Mapping[str, Any]) -> str:
    return _("HBsAg rapid test positive")


def _bp_out_of_range(p: Mapping[str, Any]) -> str:
    return _("Blood pressure %(systolic)s/%(diastolic)s mmHg, outside %(systolic_min)s–%(systolic_max)s/"
             "%(diastolic_min)s–%(diastolic_max)s mmHg",
             systolic=number(p.get("systolic")), diastolic=number(p.get("diastolic")),
             systolic_min=number(p.get("systolic_min")), systolic_max=number(p.get("systolic_max")),
             diastolic_min=number(p.get("diastolic_min")), diastolic_max=number(p.get("diastolic_max")))


def _pulse_out_of_range(p: Mapping[str, Any]) -> str:
    return _("Pulse %(pulse)s/min, outside %(min)s–%(max)s/min",
             pulse=number(p.get("pulse_per_min")), min=number(p.get("min")), max=number(p.get("max")))


def _fever(p: Mapping[str, Any]) -> str:
    return _("Temperature %(temperature)s °C, above %(max)s °C",
             temperature=number(p.get("temperature_c")), max=number(p.get("max_c")))


def _pregnancy(p: Mapping[str, Any]) -> str:
    months = int(p.get("months", 0))
    return ngettext("Pregnant, nursing or a recent pregnancy (question %(question)s): deferred %(num)d month",
                    "Pregnant, nursing or a recent pregnancy (question %(question)s): deferred %(num)d months",
                    months, question=question_number(str(p.get("item", ""))))


def _answer(p: Mapping[str, Any]) -> str:
    """What the donor said yes to: the question's number, the sub-item and the detail given."""
    item_id = str(p.get("item", ""))
    words = [item_text(item_id)]
    if p.get("choice"):
        words.append(f"({choice_text(item_id, str(p['choice']))})")
    elif p.get("detail"):
        words.append(f"(“{p['detail']}”)")
    said = " ".join(w for w in words if w)
    if not question_number(item_id).isdigit():
        return said or rule_label(QUESTIONNAIRE_PREFIX + item_id)
    if said:
        return _("question %(question)s: %(answer)s", question=question_number(item_id), answer=said)
    return _("question %(question)s", question=question_number(item_id))


def _row(text: str, p: Mapping[str, Any]) -> str:
    """The Art. 5 row a wait comes from, so the nurse can check it."""
    if not p.get("row"):
        return text
    return _("%(text)s (Art. 5: %(row)s)", text=text, row=row_text(str(p["row"])))


def _deferral(p: Mapping[str, Any]) -> str:
    """What a "yes" means, without the answer: "deferred 4 weeks (28 days) (Art. 5: 4 weeks)"."""
    if "months" in p:
        text = ngettext("deferred %(num)d month", "deferred %(num)d months", int(p["months"]))
    elif "weeks" in p:
        weeks = int(p["weeks"])
        text = ngettext("deferred %(num)d week (%(days)d days)", "deferred %(num)d weeks (%(days)d days)", weeks,
                        days=weeks * 7)
    else:
        text = ngettext("deferred %(num)d day", "deferred %(num)d days", int(p.get("days", 0)))
    if p.get("review"):
        text = _("%(text)s; the nurse checks the date", text=text)
    return _with_note(_row(text, p), p)


# What a "yes" leads to, apart from what was answered: the nurse's card of answers names the
# answer already, so it shows only this; the suggestion's list says both.
CONSEQUENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "questionnaire_permanent": lambda p: _row(_("permanent deferral"), p),
    "questionnaire_deferral": _deferral,
    "questionnaire_review": lambda p: _with_note(_("the nurse decides"), p),
    "questionnaire_nurse_sets_date": lambda p: _row(_("not today; the nurse sets the return date"), p),
    "pregnancy": _deferral,
}


def _answered_yes(code: str) -> Callable[[Mapping[str, Any]], str]:
    consequence = CONSEQUENCES[code]
    return lambda p: _("Answered yes to %(answer)s: %(consequence)s", answer=_answer(p), consequence=consequence(p))


def _questionnaire_advice(p: Mapping[str, Any]) -> str:
    return _("Work that needs 12 hours of rest after donating: donate on a day off, or do this work at least "
             "12 hours after donating (advice, not a deferral)")


def _with_note(text: str, p: Mapping[str, Any]) -> str:
    """The questionnaire file's own note (both languages in the data, e.g. "Vaccines: nurse review")."""
    note = p.get("note")
    if not isinstance(note, Mapping):
        return text
    words = note.get(current_locale()) or note.get("vi") or ""
    return f"{text} ({words})" if words else text


def _not_confirmed(p: Mapping[str, Any]) -> str:
    return _("Consent to donate and to the blood tests not given (question %(question)s)",
             question=question_number(str(p.get("item", ""))))


def _questionnaire_missing(p: Mapping[str, Any]) -> str:
    return _("The health questionnaire has not been answered")


def _questionnaire_incomplete(p: Mapping[str, Any]) -> str:
    refs: list[str] = []
    for item_id in p.get("items", []):
        ref = question_number(str(item_id))
        if not ref.isdigit():
            _item, group, _questionnaire = _find(str(item_id))
            ref = _localised(group.title) if group is not None else ref
        if ref not in refs:
            refs.append(ref)
    return _("Questions not answered: %(questions)s", questions=_joined(refs))


def _vitals_missing(p: Mapping[str, Any]) -> str:
    return _("Not measured yet: %(fields)s", fields=_joined([vital_label(str(f)) for f in p.get("fields", [])]))


def _vitals_implausible(p: Mapping[str, Any]) -> str:
    return _("Impossible values, not used: %(fields)s",
             fields=_joined([vital_label(str(f)) for f in p.get("fields", [])]))


DESCRIBERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "too_young": _too_young, "too_old": _too_old, "underweight": _underweight,
    "volume_limited_by_weight": _volume_limited_by_weight, "no_allowed_volume": _no_allowed_volume,
    "interval_too_short": _interval_too_short, "last_donation_unknown": _last_donation_unknown,
    "hb_low": _hb_low, "hb_low_for_volume": _hb_low_for_volume, "hbsag_positive": _hbsag_positive,
    "bp_out_of_range": _bp_out_of_range, "pulse_out_of_range": _pulse_out_of_range, "fever": _fever,
    "pregnancy": _pregnancy, "questionnaire_permanent": _answered_yes("questionnaire_permanent"),
    "questionnaire_deferral": _answered_yes("questionnaire_deferral"),
    "questionnaire_review": _answered_yes("questionnaire_review"),
    "questionnaire_nurse_sets_date": _answered_yes("questionnaire_nurse_sets_date"),
    "questionnaire_advice": _questionnaire_advice,
    "not_confirmed": _not_confirmed, "questionnaire_missing": _questionnaire_missing,
    "questionnaire_incomplete": _questionnaire_incomplete, "vitals_missing": _vitals_missing,
    "vitals_implausible": _vitals_implausible,
}


def describe_reason(reason: Union[Reason, Mapping[str, Any]]) -> str:
    """One sentence for a reason (a Reason, or its stored dict), in the current language."""
    if not isinstance(reason, Reason):
        reason = Reason.from_dict(reason)
    describer = DESCRIBERS.get(reason.code)
    if describer is None:  # a code from a newer version of the rules: still say which rule
        return f"{rule_label(reason.rule)}: {reason.code}"
    return describer(reason.params or {})


def describe_consequence(reason: Union[Reason, Mapping[str, Any]]) -> str:
    """What the reason means for today, for a place that already shows what was answered: "Deferred
    4 weeks (28 days) (Art. 5: 4 weeks)". The whole sentence for reasons that are not about an answer."""
    if not isinstance(reason, Reason):
        reason = Reason.from_dict(reason)
    consequence = CONSEQUENCES.get(reason.code)
    if consequence is None:
        return describe_reason(reason)
    text = consequence(reason.params or {})
    return text[:1].upper() + text[1:]
