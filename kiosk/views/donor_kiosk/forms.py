"""The kiosk's forms: a scanned pass, finding oneself by ID number, walk-in registration, and the
answers posted from a screen of the questionnaire (on the kiosk or on the donor's phone)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional as OptionalValue, ValidationError

from kiosk.checkin import departments_for_walk_in
from kiosk.extensions import db
from kiosk.idempotency import InvalidNonce, check_nonce
from kiosk.inputs import clean_name
from kiosk.roster.parser import ID_NUMBER
from kiosk.screening.engine import age_on
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


class WalkInForm(CleanForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter your full name.")),
                                                         Length(min=2, max=120, message=_l("Enter your full name."))])
    date_of_birth = DateTextField(_l("Date of birth"), validators=[DataRequired(_l("Enter your date of birth."))],
                                  message=DATE_MESSAGE)
    sex = RadioField(_l("Sex"), choices=[SelectChoice("M", _l("Male")), SelectChoice("F", _l("Female"))],
                     validators=[DataRequired(_l("Choose male or female."))])
    id_number = StringField(_l("ID number (CCCD)"), validators=[DataRequired(_l("Enter your ID number.")),
                                                                 _id_number_check], filters=[digits_filter])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(_l("Enter your mobile phone number."))],
                        filters=[digits_filter])
    department_id = SelectField(_l("Unit"), coerce=int, validators=[OptionalValue()])
    rank = StringField(_l("Rank"), validators=[Length(max=60, message=_l("Too long."))])
    blood_group = SelectField(_l("Blood group"), choices=BLOOD_GROUP_CHOICES, validators=[OptionalValue()])
    last_donation = DateTextField(_l("Last donation (if any)"), validators=[OptionalValue()], message=DATE_MESSAGE)
    nonce = HiddenField(validators=[_nonce_check])

    def __init__(self, *args, drive_date: dt.date, age_rule: AgeRule, **kwargs):
        """`age_rule`: the screening rules' age limits, this instance's overrides included, so
        the form refuses no one the nurse would accept, and accepts no one the rules refuse."""
        super().__init__(*args, **kwargs)
        self.drive_date = drive_date
        self.age_rule = age_rule
        self.department_id.choices = [SelectChoice(0, _("Other / not listed"))] + [
            SelectChoice(d.id, d.name) for d in departments_for_walk_in(db.session)]

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
        age, rule = age_on(born, self.drive_date), self.age_rule
        if age < rule.min_years or age > rule.max_years:
            raise ValidationError(_("Donors must be from %(min)d to %(max)d years old (you are %(age)d).",
                                    min=rule.min_years, max=rule.max_years, age=max(age, 0)))

    def validate_phone(self, field):
        phone = re.sub(r"[\s.\-]", "", field.data or "")
        if phone.startswith("+84"):
            phone = "0" + phone[3:]
        if not VIETNAMESE_MOBILE.match(phone):
            raise ValidationError(_("Enter a Vietnamese mobile number: 10 digits starting with 03, 05, 07, 08 or 09."))
        field.data = phone

    def validate_last_donation(self, field):
        donated = field.data
        if donated is not None and donated > self.drive_date:
            raise ValidationError(_("This date is in the future."))


# ----- a screen of the questionnaire -----

def screen_problem(group, answers: dict[str, bool]) -> Optional[str]:
    """Why the donor cannot leave this screen of the questionnaire yet, if they cannot."""
    if any(item.id not in answers for item in group.items):
        return _("Please answer every question on this screen.")
    if any(item.must_be_yes and not answers.get(item.id) for item in group.items):
        return _("To donate, you need to agree and confirm your answers. If you do not agree, please tell the "
                 "staff at the desk.")
    return None


def answers_from_form(items) -> dict[str, bool]:
    answers = {}
    for item in items:
        value = request.form.get(item.id)
        if value in ("yes", "no"):
            answers[item.id] = value == "yes"
    return answers
