"""Issue 21, item 4: every setting in kiosk/data/screening_rules.json does what it says. For each
leaf of the file a donor is built whose suggestion depends on it; the setting is changed and the
suggestion must change. A setting added to the file without a line here fails the last test."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from kiosk.screening.engine import suggest
from kiosk.screening.questionnaire import load_questionnaire
from kiosk.screening.rules import DEFAULT_PATH, DonorFacts, Vitals, load_rules

pytestmark = pytest.mark.database_free

DRIVE = dt.date(2026, 11, 14)
Q = load_questionnaire()
HEALTHY = dict(weight_kg=60, systolic_mmhg=120, diastolic_mmhg=80, pulse_per_min=72, haemoglobin_g_l=140,
               temperature_c=36.6, hbsag="negative")


def donor(sex="M", age=30, last_days_ago=None, last_type="whole_blood", yes=(), details=None, answers=True,
          **vitals) -> dict:
    """A donor's inputs: a healthy 30-year-old with every answer "no" unless told."""
    answered = None
    if answers:
        answered = {item.id: item.must_be_yes for item in Q.items_for(sex)}
        answered.update({item: (item != "consent") for item in yes})
        if "consent" in yes:
            answered["consent"] = False
    last = DRIVE - dt.timedelta(days=last_days_ago) if last_days_ago is not None else None
    return dict(facts=DonorFacts(DRIVE.replace(year=DRIVE.year - age), sex, last, last_type if last else None),
                answers=answered, details=details, vitals=Vitals(**{**HEALTHY, **vitals}))


def suggestion(inputs: dict, overrides=None) -> dict:
    rules = load_rules(dict(overrides or {}, version="test"))
    return suggest(inputs["facts"], DRIVE, inputs["answers"], inputs["vitals"], rules, Q,
                   inputs["details"]).to_dict()


# setting -> (a value other than the default, the donor whose suggestion it decides)
SETTINGS = {
    "age.min_years": (19, donor(age=18)),
    "age.max_years": (59, donor(age=60)),
    "age.source": ("x", donor(age=17)),
    "weight.min_kg.M": (46, donor(weight_kg=45)),
    "weight.min_kg.F": (43, donor(sex="F", weight_kg=42)),
    "weight.defer_days": (7, donor(weight_kg=40)),
    "weight.source": ("x", donor(weight_kg=40)),
    "volume.bag_sizes_ml": ([250], donor()),
    "volume.small_band_max_ml": (350, donor(sex="F", weight_kg=43)),
    "volume.full_band_from_kg": (47, donor(weight_kg=46)),
    "volume.ml_per_kg": (10, donor(weight_kg=46)),
    "volume.max_ml": (400, donor()),
    "volume.source": ("x", donor(weight_kg=46)),
    "interval.days.whole_blood": (85, donor(last_days_ago=84)),
    "interval.days.red_cells": (85, donor(last_days_ago=84, last_type="red_cells")),
    "interval.days.plasma": (15, donor(last_days_ago=14, last_type="plasma")),
    "interval.days.platelets": (15, donor(last_days_ago=14, last_type="platelets")),
    "interval.unknown_type_as": ("plasma", donor(last_days_ago=20, last_type="bone marrow")),
    "interval.asked_by_item": ("q2", donor(yes={"q1"})),
    "interval.source": ("x", donor(last_days_ago=1)),
    "haemoglobin.min_g_l": (121, donor(haemoglobin_g_l=120)),
    "haemoglobin.min_g_l_from_volume": (126, donor(haemoglobin_g_l=125)),
    "haemoglobin.large_volume_from_ml": (450, donor(haemoglobin_g_l=120)),
    "haemoglobin.defer_days": (7, donor(haemoglobin_g_l=100)),
    "haemoglobin.source": ("x", donor(haemoglobin_g_l=100)),
    "hbsag.source": ("x", donor(hbsag="positive")),
    "blood_pressure.systolic_min": (101, donor(systolic_mmhg=100)),
    "blood_pressure.systolic_max": (159, donor(systolic_mmhg=160)),
    "blood_pressure.diastolic_min": (61, donor(diastolic_mmhg=60)),
    "blood_pressure.diastolic_max": (99, donor(diastolic_mmhg=100, systolic_mmhg=150)),
    "blood_pressure.retest_days": (2, donor(systolic_mmhg=170)),
    "blood_pressure.source": ("x", donor(systolic_mmhg=170)),
    "pulse.min": (61, donor(pulse_per_min=60)),
    "pulse.max": (99, donor(pulse_per_min=100)),
    "pulse.retest_days": (2, donor(pulse_per_min=120)),
    "pulse.source": ("x", donor(pulse_per_min=120)),
    "temperature.max_c": (37.4, donor(temperature_c=37.5)),
    "temperature.retest_days": (2, donor(temperature_c=38.5)),
    "temperature.source": ("x", donor(temperature_c=38.5)),
    "pregnancy.item": ("q9.pregnant_or_nursing", donor(sex="F", yes={"q9.pregnancy_ended"})),
    "pregnancy.months": (6, donor(sex="F", yes={"q9.pregnancy_ended"},
                                  details={"q9.pregnancy_ended#date": "2026-03-10"})),
    "pregnancy.source": ("x", donor(sex="F", yes={"q9.pregnancy_ended"})),
    "questionnaire.source": ("x", donor(answers=False)),
    "questionnaire.confirmation_source": ("x", donor(yes={"consent"})),
    "required_vitals": (["weight_kg"], donor(haemoglobin_g_l=None)),
    **{f"plausible.{name}.lowest": (low + 1, donor(**{name: low, **extra}))
       for name, low, extra in (("weight_kg", 20, {}), ("systolic_mmhg", 50, {"diastolic_mmhg": 40}),
                                ("diastolic_mmhg", 20, {}), ("pulse_per_min", 20, {}),
                                ("haemoglobin_g_l", 30, {}), ("temperature_c", 30, {}))},
    **{f"plausible.{name}.highest": (high - 1, donor(**{name: high, **extra}))
       for name, high, extra in (("weight_kg", 250, {}), ("systolic_mmhg", 300, {}),
                                 ("diastolic_mmhg", 200, {"systolic_mmhg": 250}), ("pulse_per_min", 250, {}),
                                 ("haemoglobin_g_l", 250, {}), ("temperature_c", 45, {}))},
}


# Settings that act before suggest() is called, with the test that proves it.
PROVEN_ELSEWHERE = {
    "interval.incomplete_starts_interval":
        "tests/test_donor_search.py::test_an_incomplete_donation_starts_the_interval_only_when_set",
}


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_changing_a_setting_changes_the_suggestion(setting):
    value, inputs = SETTINGS[setting]
    assert suggestion(inputs) != suggestion(inputs, {setting: value})


def _leaves(data: dict, prefix: str = "") -> set[str]:
    leaves = set()
    for key, value in data.items():
        if isinstance(value, dict) and value and not (key == "days" and prefix == "interval."):
            leaves |= _leaves(value, f"{prefix}{key}.")
        elif isinstance(value, dict):
            leaves |= {f"{prefix}{key}.{kind}" for kind in value}
        else:
            leaves.add(f"{prefix}{key}")
    return leaves


def test_every_setting_of_the_rules_file_is_proven_to_act():
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    settings = _leaves({k: v for k, v in data.items() if k not in ("version", "notes")})
    assert settings == set(SETTINGS) | set(PROVEN_ELSEWHERE)


def test_the_pregnancy_setting_names_an_item_the_questionnaire_asks():
    """It pointed at "q9", which the 2026-12 questionnaire no longer has: the months did nothing."""
    assert load_rules().pregnancy.item in {item.id for item in Q.items_for("F")}
