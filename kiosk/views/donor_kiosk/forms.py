"""The kiosk's forms: a scanned pass, finding oneself by ID number, walk-in registration, and the
answers posted from a screen of the questionnaire (on the kiosk or on the donor's phone)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Optional

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional as OptionalValue, ValidationError

from kiosk.checkin import departments_for_walk_in, repair_phone
from kiosk.extensions import db
from kiosk.formatting import current_locale
from kiosk.idempotency import InvalidNonce, check_nonce
from kiosk.inputs import clean_name
from kiosk.roster.parser import ID_NUMBER
from kiosk.screening.engine import age_on
from kiosk.screening.questionnaire import (DATE_SUFFIX, MAX_DETAIL_LENGTH, IncompleteAnswers, clean_detail,
                                          parse_when)
from kiosk.screening.rules import AgeRule
from kiosk.views.fields import CleanForm, DateTextField, digits_filter

VIETNAMESE_MOBILE = re.compile(r"^0(3|5|7|8|9)\d{8}$", re.ASCII)


def _nonce_check(form, field):
    try:
        check_nonce(field.data)
    except InvalidNonce:
        raise ValidationError(_("This page has expired. Please start again."))


class ScanForm(CleanForm):
    pass_code = StringField(_l("Pass code"), validators=[DataRequired(_l("Scan your pass.")), Length(max=500)])
    nonce = HiddenField(validators=[_nonce_check])


DATE_MESSAGE = _l("Enter the date as dd/mm/yyyy, for example 05/09/1990.")


def _id_number_check(form, field):
    # digits_filter made full-width digits ASCII; \d must still not take any other script's digits.
    if not (ID_NUMBER.match(field.data or "") and (field.data or "").isascii()):
        raise ValidationError(_("The ID number (CCCD) has 12 digits."))


class FindForm(CleanForm):
    id_number = StringField(_l("ID number (CCCD)"), validators=[DataRequired(_l("Enter your ID number.")),
                                                                 _id_number_check], filters=[digits_filter])
    date_of_birth = DateTextField(_l("Date of birth"), validators=[DataRequired(_l("Enter your date of birth."))],
                                  message=DATE_MESSAGE)
    nonce = HiddenField(validators=[_nonce_check])


BLOOD_GROUP_CHOICES = [SelectChoice("", _l("I don't know"))] + [
    SelectChoice(group) for group in ("O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-")]


def _unit_id(value) -> Optional[int]:
    """A unit's id as posted: "" (none chosen) and anything not ASCII digits ("²") are None."""
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


class WalkInForm(CleanForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter your full name.")),
                                                         Length(min=2, message=_l("Enter your full name.")),
                                                         Length(max=120, message=_l("Too long."))])
    date_of_birth = DateTextField(_l("Date of birth"), validators=[DataRequired(_l("Enter your date of birth."))],
                                  message=DATE_MESSAGE)
    sex = RadioField(_l("Sex"), choices=[SelectChoice("M", _l("Male")), SelectChoice("F", _l("Female"))],
                     validators=[DataRequired(_l("Choose male or female."))])
    id_number = StringField(_l("ID number (CCCD)"), validators=[DataRequired(_l("Enter your ID number.")),
                                                                 _id_number_check], filters=[digits_filter])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(_l("Enter your mobile phone number."))],
                        filters=[digits_filter])
    # "" until chosen; 0 "another unit"; else a department of the drive's list (checked below).
    department_id = SelectField(_l("Unit"), coerce=_unit_id,
                                validate_choice=False)
    rank = StringField(_l("Rank"), validators=[Length(max=60, message=_l("Too long."))])
    blood_group = SelectField(_l("Blood group"), choices=BLOOD_GROUP_CHOICES, validators=[OptionalValue()])
    last_donation = DateTextField(_l("Last donation (if any)"), validators=[OptionalValue()], message=DATE_MESSAGE)
    nonce = HiddenField(validators=[_nonce_check])

    def __init__(self, *args, drive_date: dt.date, age_rule: AgeRule, drive_id: Optional[int] = None, **kwargs):
        """`age_rule`: the screening rules' age limits, this instance's overrides included, so
        the form refuses no one the nurse would accept, and accepts no one the rules refuse.
        `drive_id`: the unit is chosen from the drive's departments (kiosk.checkin.walk_ins)."""
        super().__init__(*args, **kwargs)
        self.drive_date = drive_date
        self.age_rule = age_rule
        self.departments = departments_for_walk_in(db.session, drive_id)
        # No unit chosen for the donor: "Other" is a choice to make, not the default.
        self.department_id.choices = [SelectChoice("", _("Choose your unit"))] + [
            SelectChoice(d.id, d.name) for d in self.departments] + [SelectChoice(0, _("Other / not listed"))]

    def validate_department_id(self, field):
        if field.data is None:
            raise ValidationError(_("Choose your unit (or “Other / not listed”)."))
        if field.data and field.data not in {d.id for d in self.departments}:
            raise ValidationError(_("Choose your unit from the list."))

    def department_name(self) -> str:
        return next((d.name for d in self.departments if d.id == self.department_id.data), "")

    def validate_full_name(self, field):
        # Stored as a name is written, whatever the keyboard sent: "trần thị ngọc ánh" (NFD) is
        # greeted as "Ánh", and the queue, tickets and exports read "Trần Thị Ngọc Ánh".
        field.data = clean_name(field.data)
        if any(ch.isdigit() for ch in field.data) or "<" in field.data or ">" in field.data:
            raise ValidationError(_("Enter your name in letters only."))

    def validate_date_of_birth(self, field):
        born = field.data
        if born is None:
            return
        if born > self.drive_date:
            raise ValidationError(_("This date is in the future."))
        age, rule = age_on(born, self.drive_date), self.age_rule
        if age < rule.min_years or age > rule.max_years:
            raise ValidationError(_("Donors must be from %(min)d to %(max)d years old (you are %(age)d).",
                                    min=rule.min_years, max=rule.max_years, age=max(age, 0)))

    def validate_phone(self, field):
        phone = repair_phone(field.data)  # a number that lost its 0 is repaired, as in the roster
        if not VIETNAMESE_MOBILE.match(phone):
            raise ValidationError(_("Enter a Vietnamese mobile number: 10 digits starting with 03, 05, 07, 08 or 09."))
        field.data = phone

    def validate_last_donation(self, field):
        donated = field.data
        if donated is not None and donated > self.drive_date:
            raise ValidationError(_("This date is in the future."))
        born = self.date_of_birth.data
        if donated is not None and born is not None and donated <= born:
            raise ValidationError(_("This date is before your date of birth."))


# ----- a screen of the questionnaire -----
# The form's names: an answer under the item's id ("q4.vaccine": "yes" or "no"), what a "yes" asks
# for next under "<id>#detail" (a kind's id, or a short text), and the event's date as the donor
# typed it under "<id>#date". The answers of the other screens travel as hidden inputs, so every
# screen posts the whole set and nothing the browser keeps is trusted: each post is checked again.
DETAIL_SUFFIX = "#detail"


@dataclass
class QuestionnairePost:
    answers: dict[str, bool]
    details: dict[str, str]  # as typed, by form name: "q4.vaccine#detail", "q9.pregnancy_ended#date"
    unknown: list[str] = field(default_factory=list)  # names that answer nothing asked of this donor

    def answer_unanswered_no(self, group) -> None:
        """"None of these": the items of the screen not answered yet become "no". A "yes" already
        given stays, with its details: a tap out of habit must never erase a declared deferral."""
        for item in group.items:
            self.answers.setdefault(item.id, False)

    def for_domain(self, items) -> dict[str, str]:
        """The details of the "yes" answers, as kiosk.screening.questionnaire takes them."""
        details = {}
        for item in items:
            if self.answers.get(item.id) is not True:
                continue
            value = self.details.get(item.id + DETAIL_SUFFIX, "")
            if item.detail and value.strip():
                details[item.id] = value
            typed = self.details.get(item.id + DATE_SUFFIX, "")
            if item.asks_date and typed.strip():
                details[item.id + DATE_SUFFIX] = parse_when(typed)  # a month ("2026-03") or a date
        return details


def questionnaire_post(questionnaire, sex: str, form=None) -> QuestionnairePost:
    """The answers and details posted for the items this donor is asked, and any name that answers
    something this version does not ask at all. An item asked only of women, posted for a man,
    is dropped (a form that answers both is harmless); an id or a detail no item has is refused."""
    by_id = {item.id: item for item in questionnaire.items_for(sex)}
    everyone = {item.id for group in questionnaire.groups for item in group.items}
    post = QuestionnairePost({}, {})
    for name, value in (request.form if form is None else form).items():  # form: an offline tablet's upload
        base, suffix = _split_name(name)
        item = by_id.get(base)
        if item is None and base in everyone:
            continue
        if suffix == DETAIL_SUFFIX or suffix == DATE_SUFFIX:
            if item is None or not (item.detail if suffix == DETAIL_SUFFIX else item.asks_date):
                post.unknown.append(name)
            else:
                post.details[name] = value[:MAX_POSTED_LENGTH]
        elif item is not None:
            if value in ("yes", "no"):
                post.answers[name] = value == "yes"
        elif value in ("yes", "no"):
            post.unknown.append(name)
    return post


# Far more than any detail may hold: enough to say "too long", not enough to carry a payload around.
MAX_POSTED_LENGTH = 4 * MAX_DETAIL_LENGTH


def _split_name(name: str) -> tuple[str, str]:
    for suffix in (DETAIL_SUFFIX, DATE_SUFFIX):
        if name.endswith(suffix):
            return name[:-len(suffix)], suffix
    return name, ""


def _local(words: Optional[dict[str, str]]) -> str:
    words = words or {}
    return words.get(current_locale()) or words.get("vi") or ""


def _detail_problem(item, details: dict[str, str], today: dt.date) -> Optional[str]:
    value = details.get(item.id + DETAIL_SUFFIX, "")
    if item.detail == "text" and len(clean_detail(value)) > MAX_DETAIL_LENGTH:
        return _("Please write at most %(max)d characters for “%(label)s”.",
                 max=MAX_DETAIL_LENGTH, label=_local(item.detail_label))
    if item.detail == "choice" and item.choice(value) is None:
        # The kind decides the wait (7 days, 4 weeks, 12 months): one must be chosen, "I don't remember" included.
        return _("Please choose one of the kinds shown for “%(label)s”.", label=_local(item.detail_label))
    typed = details.get(item.id + DATE_SUFFIX, "")
    if item.asks_date and typed.strip():
        try:
            parse_when(typed)
        except ValueError:
            return _("Enter the month and year as mm/yyyy (03/2026), or the date as dd/mm/yyyy.")
        try:
            parse_when(typed, today)
        except ValueError:
            return _("This date is in the future.")
    return None


def screen_problem(group, post: QuestionnairePost, today: dt.date) -> Optional[str]:
    """Why the donor cannot leave this screen of the questionnaire yet, if they cannot."""
    if post.unknown:
        return _("This form answered a question we did not ask. Please check your answers on this screen "
                 "and send them again.")
    if any(item.id not in post.answers for item in group.items):
        return _("Please answer every question on this screen.")
    if any(item.must_be_yes and not post.answers.get(item.id) for item in group.items):
        return _("To donate, you need to agree and confirm your answers. If you do not agree, please tell the "
                 "staff at the desk.")
    for item in group.items:
        if post.answers.get(item.id) is True:
            problem = _detail_problem(item, post.details, today)
            if problem:
                return problem
    return None


@dataclass(frozen=True)
class ScreenMove:
    step: int  # the screen to show next
    error: Optional[str] = None
    finished: bool = False  # every screen answered and checked: the answers can be stored
    declined: bool = False  # "I do not agree" sent: the questionnaire ends here, nothing of it stored


def move_through_questionnaire(groups, step: int, action: str, post: QuestionnairePost,
                               today: dt.date) -> ScreenMove:
    """Where a post of screen `step` leads: back, on (after "None of these" too, which answers only
    what is still unanswered), the same screen with what is wrong, or, from the last screen, the
    first screen still wrong or the end; or "I do not agree" sent, which ends it at once."""
    step = max(0, min(step, len(groups) - 1))
    if action == "back":
        return ScreenMove(max(step - 1, 0))
    if action == "next" and any(item.must_be_yes and post.answers.get(item.id) is False for item in groups[step].items):
        return ScreenMove(step, declined=True)
    if action == "none" and not any(item.must_be_yes for item in groups[step].items):
        post.answer_unanswered_no(groups[step])
    problem = screen_problem(groups[step], post, today)
    if problem:
        return ScreenMove(step, problem)
    if step < len(groups) - 1:
        return ScreenMove(step + 1)
    for index, group in enumerate(groups):
        problem = screen_problem(group, post, today)
        if problem:
            return ScreenMove(index, problem)
    return ScreenMove(step, finished=True)


def questionnaire_context(groups, step: int, post: Optional[QuestionnairePost], error: Optional[str] = None) -> dict:
    """What templates/donor_kiosk/_questions.html needs, on the kiosk and on the phone."""
    post = post or QuestionnairePost({}, {})
    step = max(0, min(step, len(groups) - 1))
    group = groups[step]
    return dict(groups=groups, step=step, group=group, answers=post.answers, details=post.details, error=error,
                max_detail=MAX_DETAIL_LENGTH, detail_suffix=DETAIL_SUFFIX, date_suffix=DATE_SUFFIX,
                none_of_these=len(group.items) > 1 and not any(item.must_be_yes for item in group.items),
                yes_on_screen=any(post.answers.get(item.id) is True for item in group.items))


def incomplete_answers_text(error: IncompleteAnswers) -> str:
    """The words for what the domain refused at the end (the screens' checks should have caught it)."""
    if error.unknown:
        return _("This form answered a question we did not ask. Please check your answers on this screen "
                 "and send them again.")
    if error.bad_details:
        return _("Please check the details you gave on this screen.")
    return _("Please answer every question on this screen.")


def first_screen_of(groups, ids: list[str]) -> int:
    return next((index for index, group in enumerate(groups)
                 if any(item.id in ids or any(i.startswith(item.id + "#") for i in ids) for item in group.items)), 0)
