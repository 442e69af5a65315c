"""Issue 21, items 6 and 7: the README's table of waits is the questionnaire file's, row by row
in the notes' order, every "yes" with its source; the README states the date convention."""
from pathlib import Path

import pytest

from kiosk.screening.questionnaire import load_questionnaire
from kiosk.screening.rules_table import END, START, markdown
from tests.conftest import SHARED

pytestmark = pytest.mark.database_free

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
NOTES = SHARED / "domain" / "screening-rules.md"


def _notes_rows() -> list[str]:
    """The first column of the notes' table of waits ("| wait | after |"), in its order."""
    lines = NOTES.read_text(encoding="utf-8").splitlines()
    start = lines.index("| wait | after |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1].strip())
    return rows


# The rows as they stood when the table was written (2026-12-07), so a change to the notes shows.
NOTES_ROWS = ["permanent", "12 months", "6 months", "4 weeks (28 days)", "7 days", "12 hours before certain work"]
# What each row's wait is, as the questionnaire file must give it.
WAITS = {"12_months": {"months": 12}, "6_months": {"months": 6}, "4_weeks": {"weeks": 4}, "7_days": {"days": 7}}


def test_the_readme_table_is_the_questionnaire_files():
    """Run `python tools/rules_table.py` after changing the questionnaire file."""
    between = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert between == markdown(load_questionnaire())


def test_the_table_has_the_notes_rows_in_their_order():
    """The README's rows are the notes' rows (../shared/domain/screening-rules.md, read here), line
    by line, in their order."""
    assert _notes_rows() == NOTES_ROWS
    table = markdown(load_questionnaire()).splitlines()[4:]
    first_cells = [line.split(" | ")[0].lstrip("| ").split(" (advice")[0] for line in table]
    assert first_cells[:len(NOTES_ROWS)] == _notes_rows()


def test_every_wait_is_its_rows_length_and_names_a_source():
    questionnaire = load_questionnaire()
    for item in questionnaire.items_for("F"):
        for rule in [item.if_yes, *(choice.if_yes for choice in item.choices)]:
            assert rule.get("source"), item.id
            if rule.get("kind") == "wait":
                expected = WAITS[rule["row"]]
                assert {k: rule[k] for k in expected} == expected, item.id


def test_the_readme_states_the_return_date_convention_and_the_incomplete_setting():
    assert "first day the donor may give again" in README
    assert "Được hiến lại từ <date>" in README
    assert "interval.incomplete_starts_interval" in README
