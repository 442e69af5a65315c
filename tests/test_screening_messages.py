"""Every reason the rules engine can give has a sentence in Vietnamese and in English, with its numbers."""
from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from kiosk.screening.questionnaire import load_questionnaire
from kiosk.screening.rules import ALL_REASON_CODES, REASON_CODES, DonorFacts, Vitals, load_rules
from kiosk.screening.engine import Reason, suggest
from kiosk.screening.messages import describe_reason, rule_label, vital_label

RULES = load_rules()
QUESTIONNAIRE = load_questionnaire()
DRIVE = dt.date(2026, 11, 14)
LANGUAGES = ("vi", "en")


def born(years_old: int, days_later: int = 0) -> dt.date:
    return DRIVE.replace(year=DRIVE.year - years_old) + dt.timedelta(days=days_later)


def answers(sex: str, **yes) -> dict:
    values = {item.id: item.must_be_yes for item in QUESTIONNAIRE.items_for(sex)}
    values.update(yes)
    return values


def vitals(**changes) -> Vitals:
    values = dict(weight_kg=65, systolic_mmhg=120, diastolic_mmhg=80, pulse_per_min=75, haemoglobin_g_l=140,
                  temperature_c=36.6, hbsag="negative")
    values.update(changes)
    return Vitals(**values)


def sample_reasons() -> dict[str, Reason]:
    """One real reason per code, from the engine itself."""
    scenarios = [
        (DonorFacts(born(18, 1), "F"), answers("F", q1=True, q2=True, q4=True, q9=True),
         vitals(weight_kg=41.9, haemoglobin_g_l=119, systolic_mmhg=170, pulse_per_min=110, temperature_c=38.2,
                hbsag="positive"), RULES),
        (DonorFacts(born(61), "M", DRIVE - dt.timedelta(days=83), "whole_blood"),
         answers("M", q3=True, q5=True, q6=True, q7=True, q8=True, q10=False), vitals(weight_kg=47.5,
                                                                                    haemoglobin_g_l=122), RULES),
        (DonorFacts(born(30), "M"), None, Vitals(pulse_per_min=900), RULES),
        (DonorFacts(born(30), "F"), answers("F"), vitals(weight_kg=43), load_rules({"volume.bag_sizes_ml": [450]})),
        (DonorFacts(born(30), "F"), answers("F"), vitals(weight_kg=43), RULES),
        (DonorFacts(born(30), "F"), {"q10": True}, vitals(), RULES),
    ]
    found: dict[str, Reason] = {}
    for donor, given, measured, rules in scenarios:
        for reason in suggest(donor, DRIVE, given, measured, rules, QUESTIONNAIRE).reasons:
            found.setdefault(reason.code, reason)
    return found


SAMPLES = sample_reasons()


def test_the_samples_cover_every_code_the_engine_can_give():
    assert set(SAMPLES) == ALL_REASON_CODES


@pytest.mark.parametrize("code", sorted(ALL_REASON_CODES))
def test_every_code_has_a_sentence_in_both_languages(app_ctx, code):
    reason = SAMPLES[code]
    texts = {}
    for language in LANGUAGES:
        with force_locale(language):
            texts[language] = describe_reason(reason)
            assert describe_reason(reason.to_dict()) == texts[language]
    for text in texts.values():
        assert text and text != code
        assert "%(" not in text and "_" not in text
    assert texts["vi"] != texts["en"]


def test_the_sentences_carry_the_numbers(app_ctx):
    with force_locale("vi"):
        assert describe_reason(SAMPLES["too_young"]) == "Chưa đủ 18 tuổi (17 tuổi vào ngày hiến)"
        assert describe_reason(SAMPLES["hb_low"]) == "Hb 119 g/L, dưới 120 g/L"
        assert describe_reason(SAMPLES["underweight"]) == "Cân nặng 41,9 kg, dưới 42 kg"
        assert describe_reason(SAMPLES["too_old"]) == "Quá 60 tuổi (61 tuổi vào ngày hiến)"
        assert "83" in describe_reason(SAMPLES["interval_too_short"])
        assert "84" in describe_reason(SAMPLES["interval_too_short"])
        assert "170/80" in describe_reason(SAMPLES["bp_out_of_range"])
        assert "Vắc-xin: y tá xem xét" in describe_reason(SAMPLES["questionnaire_deferral"])
    with force_locale("en"):
        assert describe_reason(SAMPLES["too_young"]) == "Not yet 18 years old (17 on the drive date)"
        assert describe_reason(SAMPLES["hb_low"]) == "Hb 119 g/L, below 120 g/L"
        assert describe_reason(SAMPLES["hb_low_for_volume"]) == "Hb 122 g/L, below 125 g/L: only bags under 350 ml"
        assert describe_reason(SAMPLES["questionnaire_deferral"]).endswith("(Vaccines: nurse review)")


def test_the_numbers_follow_the_configuration(app_ctx):
    rules = load_rules({"haemoglobin.min_g_l": 125})
    reason = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M"), vitals(haemoglobin_g_l=122), rules,
                     QUESTIONNAIRE).reasons[0]
    with force_locale("vi"):
        assert describe_reason(reason) == "Hb 122 g/L, dưới 125 g/L"


@pytest.mark.parametrize("item, months_or_days, english", [
    ("q6", "months", "Answered yes to question 6: deferred 1 month"),
    ("q5", "months", "Answered yes to question 5: deferred 6 months"),
    ("q7", "days", "Answered yes to question 7: deferred 14 days"),
])
def test_questionnaire_deferrals_in_english_are_plural_aware(app_ctx, item, months_or_days, english):
    reasons = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M", **{item: True}), vitals(), RULES,
                      QUESTIONNAIRE).reasons
    with force_locale("en"):
        assert [describe_reason(r) for r in reasons] == [english]
    with force_locale("vi"):
        assert describe_reason(reasons[0]).startswith(f"Trả lời “có” ở câu {item[1:]}")


@pytest.mark.parametrize("rule", sorted(REASON_CODES) + ["questionnaire:q5"])
def test_every_rule_has_a_label(app_ctx, rule):
    with force_locale("vi"):
        vi = rule_label(rule)
    with force_locale("en"):
        en = rule_label(rule)
    assert vi and en and vi != rule and (vi != en or rule == "hbsag")


def test_question_rule_label(app_ctx):
    with force_locale("vi"):
        assert rule_label("questionnaire:q5") == "Câu 5 (Trong 6 tháng gần đây)"
        assert rule_label("questionnaire:q99") == "Câu 99"  # not in the questionnaire file
    with force_locale("en"):
        assert rule_label("questionnaire:q5") == "Question 5 (In the last 6 months)"


@pytest.mark.parametrize("name", ["weight_kg", "systolic_mmhg", "diastolic_mmhg", "pulse_per_min",
                                  "haemoglobin_g_l", "temperature_c"])
def test_every_vital_has_a_label(app_ctx, name):
    with force_locale("vi"):
        assert vital_label(name) != name


def test_a_code_from_a_newer_version_still_names_its_rule(app_ctx):
    reason = Reason("haemoglobin", "ferritin_low", {}, None, False, "NIHBT")
    with force_locale("vi"):
        assert describe_reason(reason) == f"{rule_label('haemoglobin')}: ferritin_low"
        assert rule_label("haemoglobin") != "haemoglobin"
