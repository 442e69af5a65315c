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
