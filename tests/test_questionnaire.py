"""kiosk.screening.questionnaire: NIHBT's questions with sub-items, details, and older versions."""
from __future__ import annotations

import datetime as dt

import pytest

from kiosk.screening.questionnaire import (MAX_DETAIL_LENGTH, IncompleteAnswers, clean_detail, flags_for,
                                           load_version, questionnaire_for, validate_answers, validate_details)


pytestmark = pytest.mark.database_free  # the PostgreSQL pass leaves it out (tools/test.sh)

V2 = load_version("2026-12-vi-2")
V1 = load_version("2026-11-vi-1")


def all_no(sex: str, **yes) -> dict[str, bool]:
    answers = {item.id: item.must_be_yes for item in V2.items_for(sex)}
    answers.update(yes)
    return answers


def test_nine_numbered_questions_then_work_and_consent():
    numbers = [g.number for g in V2.groups if g.number]
    assert numbers == [str(n) for n in range(1, 10)]
    assert [g.id for g in V2.groups][-2:] == ["work", "consent"]
    # Every sub-item id says which question it belongs to.
    for group in V2.groups:
        for item in group.items:
            assert item.id == group.id or item.id.startswith(group.id + ".")
            assert item.text["vi"] and item.text["en"]


def test_the_womens_question_only_for_women():
    assert not any(i.id.startswith("q9") for i in V2.items_for("M"))
    assert {"q9.pregnant_or_nursing", "q9.pregnancy_ended"} <= {i.id for i in V2.items_for("F")}


def test_an_unknown_sub_item_is_refused_not_ignored():
    with pytest.raises(IncompleteAnswers) as error:
        validate_answers(V2, "M", all_no("M", **{"q4.smallpox": True}))
    assert error.value.unknown == ["q4.smallpox"]


def test_a_detail_must_be_one_the_item_asks_for():
    answers = all_no("M", **{"q4.vaccine": True})
    validate_answers(V2, "M", answers, {"q4.vaccine": "live"})
    for details in ({"q4.vaccine": "plague"}, {"q4.recovered": "text"}, {"q3.other": "x" * (MAX_DETAIL_LENGTH + 1)},
                    {"q9.pregnancy_ended#date": "2026-01-01"}, {"nowhere": "x"}):
        with pytest.raises(IncompleteAnswers) as error:
            validate_answers(V2, "M", answers, details)
        assert error.value.bad_details == sorted(details)


def test_an_event_date_must_be_a_date():
    answers = all_no("F", **{"q9.pregnancy_ended": True})
    validate_answers(V2, "F", answers, {"q9.pregnancy_ended#date": "2026-03-10"})
    with pytest.raises(IncompleteAnswers):
        validate_answers(V2, "F", answers, {"q9.pregnancy_ended#date": "10/03/2026x"})
    kept = validate_details(V2, "F", answers, {"q9.pregnancy_ended#date": dt.date(2026, 3, 10)})
    assert kept == {"q9.pregnancy_ended#date": "2026-03-10"}


def test_details_are_kept_only_for_a_yes_and_cleaned():
    answers = all_no("M", **{"q3.other": True})
    details = {"q3.other": " gout\u202e\u200b\n  again ", "q2": "not asked: q2 is no"}
    assert validate_details(V2, "M", answers, details) == {"q3.other": "gout again"}
    assert clean_detail("Nguye\u0302\u0303n") == "Nguyễn"  # NFC


def test_flags_carry_the_chosen_kind_and_its_rule():
    answers = validate_answers(V2, "M", all_no("M", **{"q4.vaccine": True, "q7.cold": True}), {"q4.vaccine": "live"})
    flags = {f["item"]: f for f in flags_for(V2, answers, {"q4.vaccine": "live"})}
    assert flags["q4.vaccine"]["weeks"] == 4 and flags["q4.vaccine"]["detail"] == "live"
    assert flags["q7.cold"]["days"] == 7
    assert "q1" not in flags


def test_answers_under_an_older_version_are_read_with_its_own_file():
    assert questionnaire_for("2026-11-vi-1", V2) is V1
    assert V1.item("q4").text["vi"].startswith("Trong 12 tháng gần đây")
    assert questionnaire_for("no-such-version", V2) is V2  # never fails a page


# ----- 2026-12-vi-3 (issue 21): "when?", the notes' wording, a woman's screens -----

V3 = load_version("2026-12-vi-3")


def test_the_current_version_is_v3_and_older_answers_keep_theirs():
    from kiosk.screening.questionnaire import CURRENT_VERSION

    assert CURRENT_VERSION == V3.version == "2026-12-vi-3"
    assert questionnaire_for("2026-12-vi-2", V3) is V2


def test_a_woman_sees_no_more_screens_than_a_man():
    """Question 9 shares question 8's screen (issue 19, item 5: at most 12 taps for a woman too)."""
    men, women = V3.groups_for("M"), V3.groups_for("F")
    assert len(men) == len(women) == 10
    shared = next(screen for screen in women if screen.id == "q8")
    assert [part.number for part in shared.sections] == ["8", "9"]
    assert [item.id for item in shared.items][-2:] == ["q9.pregnant_or_nursing", "q9.pregnancy_ended"]
    assert next(screen for screen in men if screen.id == "q8").sections == (V3.group_of("q8.medicine"),)
    assert len(V2.groups_for("F")) == 11  # before: a screen more for a woman


def test_the_wording_of_the_notes():
    assert "Sinh con" in V3.item("q9.pregnancy_ended").text["vi"]
    assert "có nguồn gốc từ máu" in V3.item("q4.transfusion").text["vi"]
    assert "nhổ răng" in V3.item("q5.procedure").text["vi"] and "chữa răng" not in V3.item("q5.procedure").text["vi"]
    assert "dị ứng mũi họng" in V3.item("q7.allergy").text["vi"]


def test_every_rule_names_its_source():
    for item in V3.items_for("F"):
        assert item.if_yes["source"] == "NIHBT" or item.if_yes["source"].startswith("TT 26/2013 Art. "), item.id
        for choice in item.choices:
            assert choice.if_yes["source"], (item.id, choice.id)


@pytest.mark.parametrize("typed, stored", [
    ("03/2026", "2026-03"), ("3/2026", "2026-03"), ("032026", "2026-03"), (" 3 / 2026 ", "2026-03"),
    ("10/03/2026", "2026-03-10"), ("10032026", "2026-03-10"), ("", None), ("  ", None), ("１１/2026", "2026-11"),
])
def test_when_is_a_month_and_year_or_a_date(typed, stored):
    from kiosk.screening.questionnaire import parse_when

    assert parse_when(typed, dt.date(2026, 11, 14)) == stored


@pytest.mark.parametrize("typed", ["13/2026", "12/2026", "15/11/2026", "last spring", "2026", "00/2026"])
def test_when_refuses_what_is_not_a_past_month_or_date(typed):
    from kiosk.screening.questionnaire import parse_when

    with pytest.raises(ValueError):
        parse_when(typed, dt.date(2026, 11, 14))


def test_a_month_and_year_is_kept_as_a_month():
    answers = {item.id: item.must_be_yes for item in V3.items_for("M")}
    answers["q7.cold"] = True
    details = {"q7.cold#date": "2026-10"}
    validate_answers(V3, "M", answers, details)
    assert validate_details(V3, "M", answers, details) == {"q7.cold#date": "2026-10"}
    with pytest.raises(IncompleteAnswers):
        validate_answers(V3, "M", answers, {"q7.cold#date": "2026-13"})


def test_the_vaccines_kind_is_required_on_a_yes():
    """Issue 21, item 2: an unanswered kind got the shortest wait; now a "yes" needs one."""
    answers = {item.id: item.must_be_yes for item in V3.items_for("M")}
    answers["q4.vaccine"] = True
    with pytest.raises(IncompleteAnswers) as error:
        validate_answers(V3, "M", answers, {})
    assert error.value.bad_details == ["q4.vaccine"]
    validate_answers(V3, "M", answers, {"q4.vaccine": "unknown"})
    validate_answers(V2, "M", {item.id: item.must_be_yes for item in V2.items_for("M")} | {"q4.vaccine": True}, {})
