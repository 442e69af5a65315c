"""Every reason the rules engine can give has a sentence in Vietnamese and in English, with its numbers."""
from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from kiosk.screening.questionnaire import load_version
from kiosk.screening.rules import ALL_REASON_CODES, REASON_CODES, DonorFacts, Vitals, load_rules
from kiosk.screening.engine import Reason, suggest
from kiosk.screening.messages import describe_consequence, describe_reason, rule_label, vital_label


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)

RULES = load_rules()
QUESTIONNAIRE = load_version("2026-12-vi-2")
# The 2026-11 questionnaire (one yes/no per question): its stored answers must still read well.
QUESTIONNAIRE_V1 = load_version("2026-11-vi-1")
QUESTIONNAIRE_V3 = load_version("2026-12-vi-3")
DRIVE = dt.date(2026, 11, 14)
LANGUAGES = ("vi", "en")


def born(years_old: int, days_later: int = 0) -> dt.date:
    return DRIVE.replace(year=DRIVE.year - years_old) + dt.timedelta(days=days_later)


def answers(sex: str, questionnaire=None, **yes) -> dict:
    values = {item.id: item.must_be_yes for item in (questionnaire or QUESTIONNAIRE).items_for(sex)}
    values.update(yes)
    return values


def vitals(**changes) -> Vitals:
    values = dict(weight_kg=65, systolic_mmhg=120, diastolic_mmhg=80, pulse_per_min=75, haemoglobin_g_l=140,
                  temperature_c=36.6, hbsag="negative")
    values.update(changes)
    return Vitals(**values)


def sample_reasons() -> dict[str, Reason]:
    """One real reason per code, from the engine itself."""
    v1 = QUESTIONNAIRE_V1
    scenarios = [
        (DonorFacts(born(18, 1), "F"), answers("F", v1, q1=True, q2=True, q4=True, q9=True),
         vitals(weight_kg=41.9, haemoglobin_g_l=119, systolic_mmhg=170, pulse_per_min=110, temperature_c=38.2,
                hbsag="positive"), RULES, v1, None),
        (DonorFacts(born(61), "M", DRIVE - dt.timedelta(days=83), "whole_blood"),
         answers("M", v1, q3=True, q5=True, q6=True, q7=True, q8=True, q10=False), vitals(weight_kg=47.5,
                                                                                        haemoglobin_g_l=122),
         RULES, v1, None),
        (DonorFacts(born(30), "M"), None, Vitals(pulse_per_min=900), RULES, QUESTIONNAIRE, None),
        (DonorFacts(born(30), "F"), answers("F"), vitals(weight_kg=43), load_rules({"volume.bag_sizes_ml": [450]}),
         QUESTIONNAIRE, None),
        (DonorFacts(born(30), "F"), answers("F"), vitals(weight_kg=43), RULES, QUESTIONNAIRE, None),
        (DonorFacts(born(30), "F"), {"consent": True}, vitals(), RULES, QUESTIONNAIRE, None),
        (DonorFacts(born(30), "F"), answers("F", **{"q9.pregnant_or_nursing": True, "work.12_hours": True}), vitals(),
         RULES, QUESTIONNAIRE, None),
        (DonorFacts(born(30), "F"), answers("F", QUESTIONNAIRE_V3, **{"q9.pregnancy_ended": True}), vitals(),
         RULES, QUESTIONNAIRE_V3, {"q9.pregnancy_ended#date": "2026-03"}),
    ]
    found: dict[str, Reason] = {}
    for donor, given, measured, rules, questionnaire, details in scenarios:
        for reason in suggest(donor, DRIVE, given, measured, rules, questionnaire, details).reasons:
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
        assert "y tá kiểm tra lại ngày" in describe_reason(SAMPLES["questionnaire_deferral"])
    with force_locale("en"):
        assert describe_reason(SAMPLES["too_young"]) == "Not yet 18 years old (17 on the drive date)"
        assert describe_reason(SAMPLES["hb_low"]) == "Hb 119 g/L, below 120 g/L"
        assert describe_reason(SAMPLES["hb_low_for_volume"]) == "Hb 122 g/L, below 125 g/L: only bags under 350 ml"
        assert describe_reason(SAMPLES["questionnaire_deferral"]).endswith("the nurse checks the date (Art. 5: 6 months)")
        assert describe_reason(SAMPLES["pregnancy"]).endswith("deferred 12 months")


def test_the_numbers_follow_the_configuration(app_ctx):
    rules = load_rules({"haemoglobin.min_g_l": 125})
    reason = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M"), vitals(haemoglobin_g_l=122), rules,
                     QUESTIONNAIRE).reasons[0]
    with force_locale("vi"):
        assert describe_reason(reason) == "Hb 122 g/L, dưới 125 g/L"


@pytest.mark.parametrize("item, months_or_days, english", [
    # Issue 21: the 2026-11 form's answers take today's waits (4 weeks, not a month; 7 days, not 14).
    ("q6", "weeks", "Answered yes to question 6: deferred 4 weeks (28 days); the nurse checks the date "
                    "(Art. 5: 4 weeks)"),
    ("q5", "months", "Answered yes to question 5: deferred 6 months; the nurse checks the date (Art. 5: 6 months)"),
    ("q7", "days", "Answered yes to question 7: deferred 7 days; the nurse checks the date (Art. 5: 7 days)"),
])
def test_questionnaire_deferrals_in_english_are_plural_aware(app_ctx, item, months_or_days, english):
    reasons = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M", QUESTIONNAIRE_V1, **{item: True}), vitals(),
                      RULES, QUESTIONNAIRE_V1).reasons
    with force_locale("en"):
        assert [describe_reason(r) for r in reasons] == [english]
    with force_locale("vi"):
        assert describe_reason(reasons[0]).startswith(f"Trả lời “có” ở câu {item[1:]}")


@pytest.mark.parametrize("item, details, english, vietnamese", [
    ("q4.vaccine", {"q4.vaccine": "live"},
     "Answered yes to question 4: Been vaccinated? (Rubella, measles, typhoid, cholera, mumps, chickenpox, BCG): "
     "deferred 4 weeks (28 days) (Art. 5: 4 weeks)",
     "Trả lời “có” ở câu 4: Tiêm vắc-xin? (Rubella, sởi, thương hàn, tả, quai bị, thủy đậu, BCG): "
     "hoãn hiến 4 tuần (28 ngày) (Điều 5: 4 tuần)"),
    ("q4.vaccine", {"q4.vaccine": "other"},
     "Answered yes to question 4: Been vaccinated? (Another vaccine (flu, COVID-19, hepatitis B, tetanus…)): "
     "deferred 7 days (Art. 5: 7 days)", None),
    ("q7.cold", None, "Answered yes to question 7: Flu, a cold, a cough, a headache, a fever or a sore throat?: "
     "deferred 7 days (Art. 5: 7 days)", None),
    ("q5.tattoo", None, "Answered yes to question 5: Had a tattoo, or a piercing of the ears, nose or elsewhere?: "
     "deferred 6 months (Art. 5: 6 months)", None),
])
def test_a_sub_item_is_named_with_its_wait_and_its_row(app_ctx, item, details, english, vietnamese):
    reasons = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M", **{item: True}), vitals(), RULES,
                      QUESTIONNAIRE, details).reasons
    with force_locale("en"):
        assert [describe_reason(r) for r in reasons] == [english]
    if vietnamese:
        with force_locale("vi"):
            assert [describe_reason(r) for r in reasons] == [vietnamese]


def test_the_nurses_card_of_answers_gets_the_consequence_without_the_answer_again(app_ctx):
    """The card names the answer (question 4, the vaccine, its kind) above the rule line: that line
    says only what it means today, so the nurse does not read the sub-item twice."""
    reasons = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M", **{"q4.vaccine": True}), vitals(), RULES,
                      QUESTIONNAIRE, {"q4.vaccine": "live"}).reasons
    with force_locale("vi"):
        assert describe_consequence(reasons[0]) == "Hoãn hiến 4 tuần (28 ngày) (Điều 5: 4 tuần)"
        assert describe_reason(reasons[0]).endswith(": hoãn hiến 4 tuần (28 ngày) (Điều 5: 4 tuần)")
    with force_locale("en"):
        assert describe_consequence(reasons[0]) == "Deferred 4 weeks (28 days) (Art. 5: 4 weeks)"
    other = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M", **{"q3.other": True}), vitals(), RULES,
                    QUESTIONNAIRE, {"q3.other": "gout"}).reasons
    with force_locale("en"):
        assert describe_consequence(other[0]) == "The nurse decides"
        # a reason that is not about an answer keeps its whole sentence
        underweight = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M"), vitals(weight_kg=40), RULES,
                              QUESTIONNAIRE).reasons
        assert describe_consequence(underweight[0]) == describe_reason(underweight[0])


def test_a_free_text_detail_is_quoted_for_the_nurse(app_ctx):
    reasons = suggest(DonorFacts(born(30), "M"), DRIVE, answers("M", **{"q3.other": True}), vitals(), RULES,
                      QUESTIONNAIRE, {"q3.other": "gout"}).reasons
    with force_locale("en"):
        assert describe_reason(reasons[0]) == "Answered yes to question 3: Another illness (“gout”): the nurse decides"


@pytest.mark.parametrize("rule", sorted(REASON_CODES) + ["questionnaire:q5", "questionnaire:q5.tattoo",
                                                         "questionnaire:work.12_hours"])
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


def test_a_source_says_dieu_in_vietnamese_and_art_in_english(app_ctx):
    """Issue 19: the nurse's Vietnamese page read "(TT 26/2013 Art. 5)" beside "(Điều 5: …)"."""
    from kiosk.screening.messages import source_label

    with force_locale("vi"):
        assert source_label("TT 26/2013 Art. 5") == "TT 26/2013 Điều 5"
        assert source_label("TT 26/2013 Art. 4.2a (NIHBT: 45 kg for both)") == "TT 26/2013 Điều 4.2a (NIHBT: 45 kg for both)"
        assert source_label("") == "" and source_label(None) == ""
        # Issue 21, item 6: a clause cited as Vietnamese does, and practice said to be practice.
        assert source_label("TT 26/2013 Art. 5.2") == "TT 26/2013 khoản 2 Điều 5"
        assert source_label("TT 26/2013 Art. 5.1.d") == "TT 26/2013 điểm d khoản 1 Điều 5"
        assert source_label("NIHBT") == "thực hành của NIHBT, không phải quy định của Thông tư"
    with force_locale("en"):
        assert source_label("TT 26/2013 Art. 5") == "TT 26/2013 Art. 5"
        assert source_label("NIHBT") == "NIHBT practice, not the Circular"
    for source in {rule.source for rule in vars(RULES).values() if hasattr(rule, "source")}:
        with force_locale("vi"):
            assert "Art." not in source_label(source), source
