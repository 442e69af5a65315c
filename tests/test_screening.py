"""The screening rules engine against a table of cases built from shared/domain/screening-rules.md.

Every boundary is read from the loaded rules (R), not written here, so the table tests the
configuration's numbers; the override tests show that changing a number changes the outcome."""
from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from kiosk.screening import engine as screening
from kiosk.screening.questionnaire import load_version
from kiosk.screening.rules import ALL_REASON_CODES, REASON_CODES, DonorFacts, RulesError, Vitals, load_rules
from kiosk.screening.engine import Reason, Suggestion, add_months, age_on, implausible_vitals, suggest


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)

R = load_rules()
# NIHBT's questionnaire with sub-items and "when?" (2026-12-vi-3); answers stored under the older
# ones are read with their own files.
Q = load_version("2026-12-vi-3")
Q_V2 = load_version("2026-12-vi-2")
Q_V1 = load_version("2026-11-vi-1")
DRIVE = dt.date(2026, 11, 14)
DAY = dt.timedelta(days=1)
BAGS = R.volume.bag_sizes_ml
SMALL_BAND = tuple(v for v in BAGS if v <= R.volume.small_band_max_ml)
# The weight from which the largest bag is allowed (450 ml / 9 ml/kg = 50 kg).
LARGEST_BAG_FROM_KG = BAGS[-1] / R.volume.ml_per_kg
BELOW_LARGE_VOLUME = tuple(v for v in BAGS if v < R.haemoglobin.large_volume_from_ml)
# A leap year, so that a donor born on 29 February reaches the minimum age in a common year.
LEAP_BIRTH_YEAR = 2008


def years_before(day: dt.date, years: int) -> dt.date:
    """The date of birth of someone whose `years`-th birthday is `day`."""
    return day.replace(year=day.year - years)


def healthy_vitals(**changes) -> Vitals:
    bp = R.blood_pressure
    values = dict(
        weight_kg=max(LARGEST_BAG_FROM_KG, R.volume.full_band_from_kg, *R.weight.min_kg.values()) + 10,
        systolic_mmhg=(bp.systolic_min + bp.systolic_max) // 2,
        diastolic_mmhg=(bp.diastolic_min + bp.diastolic_max) // 2,
        pulse_per_min=(R.pulse.min + R.pulse.max) // 2,
        haemoglobin_g_l=R.haemoglobin.min_g_l_from_volume + 10,
        temperature_c=R.temperature.max_c - 1,
        hbsag="negative",
    )
    values.update(changes)
    return Vitals(**values)


def all_no(sex: str, questionnaire=None, **yes) -> dict[str, bool]:
    answers = {item.id: item.must_be_yes for item in (questionnaire or Q).items_for(sex)}
    answers.update(yes)
    return answers


MISSING = object()


def case(id, *, expect_codes=(), eligible=True, volumes=BAGS, return_date=None, permanent=False,
         needs_review=False, sex="M", dob=None, drive=DRIVE, last=None, last_type=None, answers=None,
         vitals=None, rules=None, questionnaire=None, details=None):
    """One row: the inputs (a healthy 30-year-old man with no "yes" by default) and the expected
    suggestion. answers/vitals: a dict of changes, or MISSING for none given."""
    return pytest.param(dict(
        sex=sex, dob=dob or years_before(drive, 30), drive=drive, last=last, last_type=last_type,
        answers=answers, vitals=vitals, rules=rules, questionnaire=questionnaire, details=details,
        expect=dict(eligible=eligible, volumes=tuple(volumes) if eligible else (), codes=set(expect_codes),
                    return_date=return_date, permanent=permanent, needs_review=needs_review),
    ), id=id)


def run_case(row) -> Suggestion:
    rules = load_rules(row["rules"]) if row["rules"] else R
    donor = DonorFacts(row["dob"], row["sex"], row["last"], row["last_type"])
    questionnaire = row.get("questionnaire") or Q
    answers = None if row["answers"] is MISSING else all_no(row["sex"], questionnaire, **(row["answers"] or {}))
    vitals = None if row["vitals"] is MISSING else healthy_vitals(**(row["vitals"] or {}))
    return suggest(donor, row["drive"], answers, vitals, rules, questionnaire, row.get("details"))


def interval(kind: str) -> int:
    return R.interval.days[kind]


# The current questionnaire (2026-12-vi-3), sub-item by sub-item, with the waits of Art. 5 as the
# notes give them (written out here, not read from the data file, so a wrong file fails): 12
# months, 6 months, 4 weeks = 28 days, 7 days. An item that asks "when?": with no date, the wait
# counts from the drive and the nurse checks; with a date, from that date (a month: from its last
# day), and a wait already over defers no one.
MONTHS, DAYS = "months", "days"
DATED_WAITS = {"q4.recovered": (MONTHS, 12), "q4.transfusion": (MONTHS, 12), "q5.recovered": (MONTHS, 6),
               "q5.procedure": (MONTHS, 6), "q5.tattoo": (MONTHS, 6), "q6.recovered": (DAYS, 28),
               "q6.epidemic_area": (DAYS, 28), "q7.cold": (DAYS, 7), "q7.allergy": (DAYS, 7),
               "q8.medicine": (DAYS, 7), "q9.pregnancy_ended": (MONTHS, 12)}
VACCINE_WAITS = {"other": (DAYS, 7), "live": (DAYS, 28), "rabies_bite": (MONTHS, 12)}
UNDATED_6_MONTHS = ("q5.drugs", "q5.blood_contact", "q5.hbv_household", "q5.risky_partner", "q5.same_sex_partner")


def after(day: dt.date, wait: tuple[str, int]) -> dt.date:
    unit, size = wait
    return add_months(day, size) if unit == MONTHS else day + size * DAY


def before(day: dt.date, wait: tuple[str, int]) -> dt.date:
    """The event date whose wait ends exactly on `day`."""
    unit, size = wait
    return add_months(day, -size) if unit == MONTHS else day - size * DAY


def dated_cases(item: str, wait: tuple[str, int], details=None) -> list:
    """An item's "yes": no date; a date whose wait ends on the drive date (not deferred); the day
    after (deferred to the day after the drive); a month and year (counted from its last day)."""
    sex = "F" if item.startswith("q9") else "M"
    code = "pregnancy" if item == R.pregnancy.item else "questionnaire_deferral"
    name = item + ("_" + details[item] if details else "")
    given = lambda when: {**(details or {}), f"{item}#date": when}  # noqa: E731
    ends_today = before(DRIVE, wait)
    month = "2026-10"
    return [
        case(f"{name}_no_date_from_the_drive_and_the_nurse_checks", sex=sex, answers={item: True}, details=details,
             expect_codes={code}, eligible=False, return_date=after(DRIVE, wait), needs_review=True),
        case(f"{name}_wait_ends_on_the_drive_date", sex=sex, answers={item: True},
             details=given(ends_today.isoformat()), expect_codes={"questionnaire_review"}, needs_review=True),
        case(f"{name}_wait_ends_the_day_after_the_drive", sex=sex, answers={item: True},
             details=given((ends_today + DAY).isoformat()), expect_codes={code}, eligible=False,
             return_date=DRIVE + DAY),
        case(f"{name}_month_and_year_from_its_last_day", sex=sex, answers={item: True}, details=given(month),
             expect_codes={code} if after(dt.date(2026, 10, 31), wait) > DRIVE else {"questionnaire_review"},
             eligible=after(dt.date(2026, 10, 31), wait) <= DRIVE,
             return_date=after(dt.date(2026, 10, 31), wait) if after(dt.date(2026, 10, 31), wait) > DRIVE else None,
             needs_review=after(dt.date(2026, 10, 31), wait) <= DRIVE),
    ]


CURRENT_CASES = [
    case("q1_donated_before_date_unknown", answers={"q1": True}, expect_codes={"last_donation_unknown"},
         needs_review=True),
    case("q2_ill_now", answers={"q2": True}, details={"q2": "viêm họng"},
         expect_codes={"questionnaire_review"}, needs_review=True),
    case("q3_listed_is_permanent", answers={"q3.listed": True}, expect_codes={"questionnaire_permanent"},
         eligible=False, permanent=True),
    case("q3_other_illness", answers={"q3.other": True}, details={"q3.other": "gout"},
         expect_codes={"questionnaire_review"}, needs_review=True),
    *[row for item, wait in DATED_WAITS.items() for row in dated_cases(item, wait)],
    *[row for kind, wait in VACCINE_WAITS.items()
      for row in dated_cases("q4.vaccine", wait, {"q4.vaccine": kind})],
    # The vaccine's kind not remembered: no date can be computed, with or without when.
    case("q4_vaccine_kind_unknown_the_nurse_sets_the_date", answers={"q4.vaccine": True},
         details={"q4.vaccine": "unknown"}, expect_codes={"questionnaire_nurse_sets_date"}, eligible=False,
         needs_review=True),
    case("q4_vaccine_kind_unknown_dated_the_nurse_sets_the_date", answers={"q4.vaccine": True},
         details={"q4.vaccine": "unknown", "q4.vaccine#date": "2026-11-01"},
         expect_codes={"questionnaire_nurse_sets_date"}, eligible=False, needs_review=True),
    case("q4_vaccine_kind_not_given_the_nurse_sets_the_date", answers={"q4.vaccine": True},
         expect_codes={"questionnaire_nurse_sets_date"}, eligible=False, needs_review=True),
    *[case(f"{item}_6_months_from_the_drive", answers={item: True}, expect_codes={"questionnaire_deferral"},
           eligible=False, return_date=dt.date(2027, 5, 14))
      for item in UNDATED_6_MONTHS],
    *[case(f"{item}_nurse_review", answers={item: True}, expect_codes={"questionnaire_review"},
           needs_review=True)
      for item in ("q5.weight_loss", "q5.lymph_nodes", "q7.other", "q8.other")],
    # Date boundaries: 28 days across a month's end, a leap day, a month not over yet.
    case("q6_28_days_across_the_end_of_october", answers={"q6.recovered": True},
         details={"q6.recovered#date": "2026-10-25"}, expect_codes={"questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2026, 11, 22)),
    case("q6_from_31_january_no_date_is_28_days_not_a_month", drive=dt.date(2027, 1, 31),
         answers={"q6.recovered": True}, expect_codes={"questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2027, 2, 28), needs_review=True),
    case("q7_7_days_over_a_leap_day", drive=dt.date(2028, 3, 1), answers={"q7.cold": True},
         details={"q7.cold#date": "2028-02-25"}, expect_codes={"questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2028, 3, 3)),
    case("q4_12_months_from_a_leap_day_end_on_28_february", drive=dt.date(2028, 6, 1),
         answers={"q4.recovered": True}, details={"q4.recovered#date": "2028-02-29"},
         expect_codes={"questionnaire_deferral"}, eligible=False, return_date=dt.date(2029, 2, 28)),
    case("q4_leap_month_counts_from_29_february", drive=dt.date(2028, 3, 5), answers={"q7.cold": True},
         details={"q7.cold#date": "2028-02"}, expect_codes={"questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2028, 3, 7)),
    case("q7_this_month_counts_from_the_drive_date", answers={"q7.cold": True},
         details={"q7.cold#date": "2026-11"}, expect_codes={"questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2026, 11, 21)),
    case("q7_a_month_after_the_drive_counts_from_the_drive", answers={"q7.cold": True},
         details={"q7.cold#date": "2026-12"}, expect_codes={"questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2026, 11, 21), needs_review=True),
    case("q9_a_date_after_the_drive_counts_from_the_drive", sex="F", answers={"q9.pregnancy_ended": True},
         details={"q9.pregnancy_ended#date": "2026-12-01"}, expect_codes={"pregnancy"}, eligible=False,
         return_date=dt.date(2027, 11, 14), needs_review=True),
    case("q9_pregnant_nurse_sets_the_date", sex="F", answers={"q9.pregnant_or_nursing": True},
         expect_codes={"questionnaire_nurse_sets_date"}, eligible=False, needs_review=True),
    case("q9_not_asked_of_a_man", answers={"q9.pregnant_or_nursing": True, "q9.pregnancy_ended": True}),
    case("work_within_12_hours_is_advice_not_deferral", answers={"work.12_hours": True},
         expect_codes={"questionnaire_advice"}),
    case("consent_refused", answers={"consent": False}, expect_codes={"not_confirmed"}, eligible=False,
         return_date=DRIVE),
]


CASES = [
    case("healthy_man_all_bags"),
    case("healthy_woman_all_bags", sex="F"),
    # Age: full years on the drive date, 18 to 60 inclusive.
    case("age_18th_birthday_is_the_drive_date", dob=years_before(DRIVE, R.age.min_years)),
    case("age_18th_birthday_is_tomorrow", dob=years_before(DRIVE, R.age.min_years) + DAY,
         expect_codes={"too_young"}, eligible=False, return_date=DRIVE + DAY),
    case("age_born_29_feb_is_18_on_1_march", dob=dt.date(LEAP_BIRTH_YEAR, 2, 29),
         drive=dt.date(LEAP_BIRTH_YEAR + R.age.min_years, 3, 1)),
    case("age_born_29_feb_is_17_on_28_feb", dob=dt.date(LEAP_BIRTH_YEAR, 2, 29),
         drive=dt.date(LEAP_BIRTH_YEAR + R.age.min_years, 2, 28), expect_codes={"too_young"}, eligible=False,
         return_date=dt.date(LEAP_BIRTH_YEAR + R.age.min_years, 3, 1)),
    case("age_60th_birthday_is_the_drive_date", dob=years_before(DRIVE, R.age.max_years)),
    case("age_60_the_day_before_61", dob=years_before(DRIVE, R.age.max_years + 1) + DAY),
    case("age_61st_birthday_is_the_drive_date", dob=years_before(DRIVE, R.age.max_years + 1),
         expect_codes={"too_old"}, eligible=False, permanent=True),
    # Weight: women's and men's minimum, the 250-ml-only band, 9 ml/kg.
    case("woman_at_minimum_weight_250_only", sex="F", vitals={"weight_kg": R.weight.min_kg["F"]},
         volumes=SMALL_BAND, expect_codes={"volume_limited_by_weight"}),
    case("woman_just_under_minimum_weight", sex="F", vitals={"weight_kg": R.weight.min_kg["F"] - 0.1},
         expect_codes={"underweight"}, eligible=False),
    case("woman_just_under_full_band_250_only", sex="F",
         vitals={"weight_kg": R.volume.full_band_from_kg - 0.1}, volumes=SMALL_BAND,
         expect_codes={"volume_limited_by_weight"}),
    case("woman_at_full_band_9_ml_per_kg", sex="F", vitals={"weight_kg": R.volume.full_band_from_kg},
         volumes=BAGS[:-1], expect_codes={"volume_limited_by_weight"}),
    case("man_just_under_minimum_weight", vitals={"weight_kg": R.weight.min_kg["M"] - 0.1},
         expect_codes={"underweight"}, eligible=False),
    case("man_at_minimum_weight", vitals={"weight_kg": R.weight.min_kg["M"]}, volumes=BAGS[:-1],
         expect_codes={"volume_limited_by_weight"}),
    case("just_under_the_weight_for_the_largest_bag", vitals={"weight_kg": LARGEST_BAG_FROM_KG - 0.1},
         volumes=BAGS[:-1], expect_codes={"volume_limited_by_weight"}),
    case("at_the_weight_for_the_largest_bag", vitals={"weight_kg": LARGEST_BAG_FROM_KG}),
    case("no_bag_size_fits", sex="F", vitals={"weight_kg": R.weight.min_kg["F"]},
         rules={"volume.bag_sizes_ml": [BAGS[-1]]}, expect_codes={"no_allowed_volume"}, eligible=False),
    # Interval since the last donation, by its type.
    case("whole_blood_day_before_interval_ends", last=DRIVE - (interval("whole_blood") - 1) * DAY,
         last_type="whole_blood", expect_codes={"interval_too_short"}, eligible=False, return_date=DRIVE + DAY),
    case("whole_blood_interval_ends_on_drive_date", last=DRIVE - interval("whole_blood") * DAY,
         last_type="whole_blood"),
    case("red_cells_day_before_interval_ends", last=DRIVE - (interval("red_cells") - 1) * DAY,
         last_type="red_cells", expect_codes={"interval_too_short"}, eligible=False, return_date=DRIVE + DAY),
    case("red_cells_interval_ends_on_drive_date", last=DRIVE - interval("red_cells") * DAY, last_type="red_cells"),
    case("plasma_day_before_interval_ends", last=DRIVE - (interval("plasma") - 1) * DAY, last_type="plasma",
         expect_codes={"interval_too_short"}, eligible=False, return_date=DRIVE + DAY),
    case("plasma_interval_ends_on_drive_date", last=DRIVE - interval("plasma") * DAY, last_type="plasma"),
    case("platelets_day_before_interval_ends", last=DRIVE - (interval("platelets") - 1) * DAY,
         last_type="platelets", expect_codes={"interval_too_short"}, eligible=False, return_date=DRIVE + DAY),
    case("platelets_interval_ends_on_drive_date", last=DRIVE - interval("platelets") * DAY, last_type="platelets"),
    case("unknown_type_counts_as_whole_blood", last=DRIVE - interval(R.interval.unknown_type_as) * DAY + DAY,
         expect_codes={"interval_too_short"}, eligible=False, return_date=DRIVE + DAY),
    # Haemoglobin: 120, and 125 for 350 ml or more.
    case("hb_just_under_minimum", vitals={"haemoglobin_g_l": R.haemoglobin.min_g_l - 1},
         expect_codes={"hb_low"}, eligible=False),
    case("hb_at_minimum_small_bags_only", vitals={"haemoglobin_g_l": R.haemoglobin.min_g_l},
         volumes=BELOW_LARGE_VOLUME, expect_codes={"hb_low_for_volume"}),
    case("hb_just_under_large_volume_minimum",
         vitals={"haemoglobin_g_l": R.haemoglobin.min_g_l_from_volume - 1}, volumes=BELOW_LARGE_VOLUME,
         expect_codes={"hb_low_for_volume"}),
    case("hb_at_large_volume_minimum", vitals={"haemoglobin_g_l": R.haemoglobin.min_g_l_from_volume}),
    case("hb_limit_removes_nothing_from_the_250_band", sex="F",
         vitals={"weight_kg": R.weight.min_kg["F"], "haemoglobin_g_l": R.haemoglobin.min_g_l},
         volumes=SMALL_BAND, expect_codes={"volume_limited_by_weight"}),
    # HBsAg (NIHBT): positive is permanent; not done is not a reason.
    case("hbsag_positive_is_permanent", vitals={"hbsag": "positive"}, expect_codes={"hbsag_positive"},
         eligible=False, permanent=True),
    case("hbsag_not_done", vitals={"hbsag": None}),
    # Blood pressure and pulse: inclusive ranges; out of range means measured again tomorrow.
    case("systolic_at_maximum", vitals={"systolic_mmhg": R.blood_pressure.systolic_max}),
    case("systolic_above_maximum", vitals={"systolic_mmhg": R.blood_pressure.systolic_max + 1},
         expect_codes={"bp_out_of_range"}, eligible=False, return_date=DRIVE + R.blood_pressure.retest_days * DAY),
    case("systolic_at_minimum", vitals={"systolic_mmhg": R.blood_pressure.systolic_min}),
    case("systolic_below_minimum", vitals={"systolic_mmhg": R.blood_pressure.systolic_min - 1},
         expect_codes={"bp_out_of_range"}, eligible=False, return_date=DRIVE + R.blood_pressure.retest_days * DAY),
    case("diastolic_at_maximum", vitals={"diastolic_mmhg": R.blood_pressure.diastolic_max,
                                         "systolic_mmhg": R.blood_pressure.systolic_max}),
    case("diastolic_above_maximum", vitals={"diastolic_mmhg": R.blood_pressure.diastolic_max + 1,
                                            "systolic_mmhg": R.blood_pressure.systolic_max},
         expect_codes={"bp_out_of_range"}, eligible=False, return_date=DRIVE + R.blood_pressure.retest_days * DAY),
    case("diastolic_at_minimum", vitals={"diastolic_mmhg": R.blood_pressure.diastolic_min}),
    case("diastolic_below_minimum", vitals={"diastolic_mmhg": R.blood_pressure.diastolic_min - 1},
         expect_codes={"bp_out_of_range"}, eligible=False, return_date=DRIVE + R.blood_pressure.retest_days * DAY),
    case("pulse_at_minimum", vitals={"pulse_per_min": R.pulse.min}),
    case("pulse_below_minimum", vitals={"pulse_per_min": R.pulse.min - 1}, expect_codes={"pulse_out_of_range"},
         eligible=False, return_date=DRIVE + R.pulse.retest_days * DAY),
    case("pulse_at_maximum", vitals={"pulse_per_min": R.pulse.max}),
    case("pulse_above_maximum", vitals={"pulse_per_min": R.pulse.max + 1}, expect_codes={"pulse_out_of_range"},
         eligible=False, return_date=DRIVE + R.pulse.retest_days * DAY),
    case("temperature_at_maximum", vitals={"temperature_c": R.temperature.max_c}),
    case("temperature_above_maximum", vitals={"temperature_c": R.temperature.max_c + 0.1},
         expect_codes={"fever"}, eligible=False, return_date=DRIVE + R.temperature.retest_days * DAY),
    # Answers stored under the 2026-11 questionnaire (one yes/no per question) take today's waits
    # (4 weeks, not a month; 7 days after a cold, not 14; never "any vaccine 12 months"): counted
    # from the drive date, as no date was asked, and the nurse checks; where one "yes" covers waits
    # of different lengths (question 4, question 9) the nurse sets the date.
    case("v1_q1_donated_before_with_known_date", questionnaire=Q_V1, answers={"q1": True},
         last=DRIVE - interval("whole_blood") * DAY, last_type="whole_blood"),
    case("v1_q1_donated_before_date_unknown", questionnaire=Q_V1, answers={"q1": True},
         expect_codes={"last_donation_unknown"}, needs_review=True),
    case("v1_q2_ill_now_nurse_review", questionnaire=Q_V1, answers={"q2": True}, expect_codes={"questionnaire_review"},
         needs_review=True),
    case("v1_q3_ever_had_is_permanent", questionnaire=Q_V1, answers={"q3": True},
         expect_codes={"questionnaire_permanent"}, eligible=False, permanent=True),
    case("v1_q4_last_12_months_the_nurse_sets_the_date", questionnaire=Q_V1, answers={"q4": True},
         expect_codes={"questionnaire_nurse_sets_date"}, eligible=False, needs_review=True),
    case("v1_q5_last_6_months", questionnaire=Q_V1, answers={"q5": True}, expect_codes={"questionnaire_deferral"},
         eligible=False, return_date=dt.date(2027, 5, 14), needs_review=True),
    case("v1_q6_last_month_is_28_days_not_a_month", questionnaire=Q_V1, answers={"q6": True},
         expect_codes={"questionnaire_deferral"}, eligible=False, return_date=dt.date(2026, 12, 12),
         needs_review=True),
    case("v1_q7_last_14_days_is_7_days_not_14", questionnaire=Q_V1, answers={"q7": True},
         expect_codes={"questionnaire_deferral"}, eligible=False, return_date=dt.date(2026, 11, 21),
         needs_review=True),
    case("v1_q8_last_7_days", questionnaire=Q_V1, answers={"q8": True}, expect_codes={"questionnaire_deferral"},
         eligible=False, return_date=dt.date(2026, 11, 21), needs_review=True),
    case("v1_q9_pregnancy_the_nurse_sets_the_date", questionnaire=Q_V1, sex="F", answers={"q9": True},
         expect_codes={"questionnaire_nurse_sets_date"}, eligible=False, needs_review=True),
    case("v1_q9_ignored_for_a_man", questionnaire=Q_V1, answers={"q9": True}),
    case("v1_q10_confirmation_refused", questionnaire=Q_V1, answers={"q10": False}, expect_codes={"not_confirmed"},
         eligible=False, return_date=DRIVE),
    case("no_answers_yet", answers=MISSING, expect_codes={"questionnaire_missing"}, eligible=False,
         return_date=DRIVE, needs_review=True),
    case("answers_of_another_version_miss_an_item", questionnaire=Q_V1, answers={"q7": None},
         expect_codes={"questionnaire_incomplete"}, eligible=False, return_date=DRIVE, needs_review=True),
    # Missing vitals: a review, no volume restriction, deferrals still apply.
    case("no_vitals_yet", vitals=MISSING, expect_codes={"vitals_missing"}, needs_review=True,
         volumes=tuple(v for v in BAGS if v <= R.volume.max_ml)),
    case("no_vitals_yet_but_too_young", vitals=MISSING, dob=years_before(DRIVE, R.age.min_years) + DAY,
         expect_codes={"vitals_missing", "too_young"}, eligible=False, return_date=DRIVE + DAY, needs_review=True),
    case("no_vitals_yet_but_interval", vitals=MISSING, last=DRIVE - DAY, last_type="whole_blood",
         expect_codes={"vitals_missing", "interval_too_short"}, eligible=False,
         return_date=DRIVE - DAY + interval("whole_blood") * DAY, needs_review=True),
    case("no_vitals_yet_but_q5", vitals=MISSING, answers={"q5.drugs": True},
         expect_codes={"vitals_missing", "questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2027, 5, 14), needs_review=True),
    case("hb_not_measured_weight_still_limits", vitals={"haemoglobin_g_l": None,
                                                         "weight_kg": R.volume.full_band_from_kg},
         volumes=BAGS[:-1], expect_codes={"vitals_missing", "volume_limited_by_weight"}, needs_review=True),
    case("implausible_pulse_is_not_used", vitals={"pulse_per_min": 900}, expect_codes={"vitals_implausible"},
         needs_review=True),
    # Several reasons: the latest temporary date; permanent wins.
    case("latest_temporary_deferral_wins", answers={"q7.cold": True, "q5.tattoo": True},
         details={"q5.tattoo#date": "2026-06"}, last=DRIVE - DAY, last_type="whole_blood",
         vitals={"pulse_per_min": R.pulse.max + 1},
         expect_codes={"questionnaire_deferral", "interval_too_short", "pulse_out_of_range"}, eligible=False,
         return_date=DRIVE - DAY + interval("whole_blood") * DAY, needs_review=True),
    case("permanent_wins_over_temporary", answers={"q3.listed": True, "q5.drugs": True},
         vitals={"systolic_mmhg": R.blood_pressure.systolic_max + 1},
         expect_codes={"questionnaire_permanent", "questionnaire_deferral", "bp_out_of_range"}, eligible=False,
         permanent=True),
    *CURRENT_CASES,
    # The 2026-12-vi-2 questionnaire's answers keep their own rules (no date was asked but of a
    # pregnancy; an unknown vaccine: 7 days and the nurse looks).
    case("v2_q4_vaccine_kind_unknown_7_days_and_review", questionnaire=Q_V2, answers={"q4.vaccine": True},
         details={"q4.vaccine": "unknown"}, expect_codes={"questionnaire_deferral"}, eligible=False,
         return_date=dt.date(2026, 11, 21), needs_review=True),
    case("v2_q5_tattoo_6_months_from_the_drive", questionnaire=Q_V2, answers={"q5.tattoo": True},
         expect_codes={"questionnaire_deferral"}, eligible=False, return_date=dt.date(2027, 5, 14)),
    case("v2_q9_pregnancy_ended_12_months_from_its_date", questionnaire=Q_V2, sex="F",
         answers={"q9.pregnancy_ended": True}, details={"q9.pregnancy_ended#date": "2026-03-10"},
         expect_codes={"pregnancy"}, eligible=False, return_date=dt.date(2027, 3, 10), needs_review=True),
]


def case_named(name: str) -> dict:
    return next(row.values[0] for row in CASES if row.id == name)


@pytest.mark.parametrize("row", CASES)
def test_rules_engine_case_table(row):
    result = run_case(row)
    expect = row["expect"]
    assert {r.code for r in result.reasons} == expect["codes"]
    assert result.eligible is expect["eligible"]
    assert result.allowed_volumes == expect["volumes"]
    assert result.return_date == expect["return_date"]
    assert result.permanent is expect["permanent"]
    assert result.needs_review is expect["needs_review"]


def test_the_table_covers_every_sub_item_of_the_current_questionnaire():
    answered = {item for row in CASES
                if row.values[0]["questionnaire"] is None and isinstance(row.values[0]["answers"], dict)
                for item in row.values[0]["answers"]}
    assert {item.id for item in Q.items_for("F")} <= answered


def test_every_choice_of_a_sub_item_is_in_the_table():
    chosen = {(item, value) for row in CASES for item, value in (row.values[0]["details"] or {}).items()}
    for item in Q.items_for("F"):
        for choice in item.choices:
            assert (item.id, choice.id) in chosen


def test_the_table_reaches_every_reason_code():
    produced = {r.code for row in CASES for r in run_case(row.values[0]).reasons}
    assert produced == ALL_REASON_CODES


@pytest.mark.parametrize("row", CASES)
def test_every_reason_names_its_rule_and_source(row):
    for reason in run_case(row).reasons:
        rule = reason.rule.split(":")[0]
        assert reason.code in REASON_CODES[rule], reason
        if rule != "vitals":
            assert reason.source, reason
        if reason.permanent:
            assert reason.until is None


def test_reasons_come_permanent_first_then_blocking_then_notes():
    row = dict(case_named("permanent_wins_over_temporary"), answers={"q3": True, "q5": True, "q2": True},
               questionnaire=Q_V1)
    reasons = run_case(row).reasons
    order = [(not r.permanent, not r.blocking) for r in reasons]
    assert order == sorted(order) and reasons[0].code == "questionnaire_permanent"
    assert reasons[-1].code == "questionnaire_review"


def test_hbsag_positive_is_marked_as_nihbt_practice():
    donor = DonorFacts(years_before(DRIVE, 30), "M")
    result = suggest(donor, DRIVE, all_no("M"), healthy_vitals(hbsag="positive"), R, Q)
    assert [(r.rule, r.permanent, r.source) for r in result.reasons] == [("hbsag", True, "NIHBT")]


# --- the numbers come from configuration ----------------------------------------------------------

def decide(rules, sex="M", **vitals):
    return suggest(DonorFacts(years_before(DRIVE, 30), sex), DRIVE, all_no(sex), healthy_vitals(**vitals),
                   rules, Q)


def test_overriding_mens_minimum_weight_changes_the_outcome():
    weight = R.weight.min_kg["M"] + 1
    assert decide(R, weight_kg=weight).eligible
    stricter = load_rules({"weight": {"min_kg": {"M": weight + 2}}})
    assert stricter.weight.min_kg == {"F": R.weight.min_kg["F"], "M": weight + 2}  # merged key by key
    result = decide(stricter, weight_kg=weight)
    assert not result.eligible and [r.code for r in result.reasons] == ["underweight"]
    assert result.reasons[0].params == {"weight_kg": weight, "min_kg": weight + 2}


def test_overriding_the_haemoglobin_minimum_changes_the_outcome():
    hb = R.haemoglobin.min_g_l + 2
    assert decide(R, haemoglobin_g_l=hb).eligible
    stricter = load_rules({"haemoglobin.min_g_l": R.haemoglobin.min_g_l_from_volume})
    assert not decide(stricter, haemoglobin_g_l=hb).eligible


def test_overriding_the_interval_and_bag_sizes():
    rules = load_rules({"interval": {"days": {"whole_blood": interval("whole_blood") + 7}},
                        "volume": {"bag_sizes_ml": [200, 300]}})
    donor = DonorFacts(years_before(DRIVE, 30), "M", DRIVE - interval("whole_blood") * DAY, "whole_blood")
    result = suggest(donor, DRIVE, all_no("M"), healthy_vitals(), rules, Q)
    assert result.return_date == DRIVE + 7 * DAY
    assert decide(rules).allowed_volumes == (200, 300)
    assert rules.version.endswith("+instance") and decide(rules).rules_version == rules.version


def test_overriding_retest_days():
    rules = load_rules({"blood_pressure.retest_days": 3})
    assert decide(rules, systolic_mmhg=R.blood_pressure.systolic_max + 1).return_date == DRIVE + 3 * DAY


@pytest.mark.parametrize("overrides", [
    {"weight": {"min_kgs": {"M": 48}}},
    {"haemoglobin.minimum": 125},
    {"age": {"min_years": "18"}},
    {"age": {"min_years": True}},
    {"age": 18},
    {"volume": {"bag_sizes_ml": ["250"]}},
    {"age": {"min_years": 61}},
    {"plausible": {"pulse_per_min": {"lowest": 300}}},
    {"required_vitals": ["blood_group"]},
    {"pulse": {"min": -1}},
])
def test_a_bad_override_is_refused_at_load(overrides):
    with pytest.raises(RulesError):
        load_rules(overrides)


@pytest.mark.parametrize("module", ["engine.py", "rules.py"])
def test_the_engine_has_no_numbers_of_its_own(module):
    """Only calendar arithmetic: 0, 1 and 12 months a year. Thresholds live in the JSON file."""
    tree = ast.parse((Path(screening.__file__).parent / module).read_text(encoding="utf-8"))
    numbers = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and type(node.value) in (int, float)}
    assert numbers <= {0, 1, 12}


def test_the_default_file_holds_the_documents_numbers():
    # A typo in the data file would move every boundary of the table with it: pin the document here.
    assert (R.age.min_years, R.age.max_years) == (18, 60)
    assert R.weight.min_kg == {"F": 42, "M": 45}
    assert (BAGS, R.volume.ml_per_kg, R.volume.max_ml, R.volume.full_band_from_kg) == ((250, 350, 450), 9, 500, 45)
    assert R.interval.days == {"whole_blood": 84, "red_cells": 84, "plasma": 14, "platelets": 14}
    assert (R.haemoglobin.min_g_l, R.haemoglobin.min_g_l_from_volume, R.haemoglobin.large_volume_from_ml) == (
        120, 125, 350)
    bp = R.blood_pressure
    assert (bp.systolic_min, bp.systolic_max, bp.diastolic_min, bp.diastolic_max) == (100, 160, 60, 100)
    assert (R.pulse.min, R.pulse.max, R.pregnancy.months) == (60, 100, 12)


# --- serialisation, plausibility, calendar ------------------------------------------------------------

def test_suggestion_round_trips_through_json():
    row = dict(case_named("latest_temporary_deferral_wins"), questionnaire=None,
               answers={"q4.recovered": True, "q7.cold": True, "q4.vaccine": True},
               details={"q4.vaccine": "live"})
    original = run_case(row)
    assert len(original.reasons) >= 3
    stored = json.loads(json.dumps(original.to_dict()))
    assert stored["return_date"] == original.return_date.isoformat()
    assert Suggestion.from_dict(stored) == original
    assert Suggestion.from_dict(stored).to_dict() == stored
    permanent = run_case(case_named("permanent_wins_over_temporary"))
    assert permanent.permanent
    assert Suggestion.from_dict(json.loads(json.dumps(permanent.to_dict()))) == permanent


def test_reason_from_an_older_stored_dict():
    reason = Reason.from_dict({"rule": "age", "code": "too_young", "params": {"age": 17}, "until": "2026-11-15",
                               "permanent": False, "source": "TT 26/2013 Art. 4.1"})
    assert reason.until == dt.date(2026, 11, 15) and reason.blocking


def test_results_are_frozen():
    result = run_case(CASES[0].values[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.eligible = False  # type: ignore[misc]


def test_implausible_vitals_names_the_impossible_fields():
    wrong = implausible_vitals(healthy_vitals(pulse_per_min=900, weight_kg=4000), R)
    assert wrong == {"pulse_per_min": R.plausible["pulse_per_min"], "weight_kg": R.plausible["weight_kg"]}
    assert implausible_vitals(healthy_vitals(), R) == {}
    assert implausible_vitals(Vitals(), R) == {}


def test_implausible_vitals_edges():
    lowest, highest = R.plausible["weight_kg"]
    assert implausible_vitals(Vitals(weight_kg=lowest), R) == {}
    assert implausible_vitals(Vitals(weight_kg=highest), R) == {}
    assert "weight_kg" in implausible_vitals(Vitals(weight_kg=highest + 0.1), R)
    assert "temperature_c" in implausible_vitals(Vitals(temperature_c=float("nan")), R)
    # Systolic and diastolic swapped.
    assert implausible_vitals(Vitals(systolic_mmhg=80, diastolic_mmhg=120), R) == {
        "diastolic_mmhg": (R.plausible["diastolic_mmhg"][0], 79)}


@pytest.mark.parametrize("born, day, age", [
    (dt.date(2008, 11, 14), dt.date(2026, 11, 14), 18),
    (dt.date(2008, 11, 15), dt.date(2026, 11, 14), 17),
    (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17),
    (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18),
    (dt.date(2008, 2, 29), dt.date(2028, 2, 29), 20),
    (dt.date(1966, 12, 31), dt.date(2026, 12, 31), 60),
])
def test_age_in_full_years(born, day, age):
    assert age_on(born, day) == age


@pytest.mark.parametrize("day, months, expected", [
    (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
    (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
    (dt.date(2026, 8, 31), 6, dt.date(2027, 2, 28)),
    (dt.date(2026, 11, 14), 12, dt.date(2027, 11, 14)),
    (dt.date(2028, 2, 29), 12, dt.date(2029, 2, 28)),
])
def test_add_months_by_calendar(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize("module", ["kiosk/screening/engine.py", "kiosk/screening/rules.py",
                                    "kiosk/screening/questionnaire.py"])
def test_the_engine_does_not_import_flask(module):
    tree = ast.parse((Path(screening.__file__).parent.parent.parent / module).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0].startswith("flask") for name in imported)
    assert imported & {"kiosk", "kiosk.views", "kiosk.extensions", "kiosk.models"} == set()


def test_a_drive_dated_in_the_year_9999_never_breaks_the_engine():
    """Issue 12: a drive dated 31/12/9999 broke the nurse's page (year 10000 is out of range)."""
    last_day = dt.date(9999, 12, 31)
    donor = DonorFacts(years_before(last_day, 30), "M", last_day - DAY, "whole_blood")
    answers = all_no("M", **{"q4.recovered": True, "q6.recovered": True, "q7.cold": True})
    result = suggest(donor, last_day, answers, healthy_vitals(pulse_per_min=R.pulse.max + 1), R, Q)
    assert not result.eligible and result.return_date == dt.date.max
    assert add_months(last_day, 12) == dt.date.max
