"""The README's table of the questionnaire's waits, generated from the current questionnaire file:
one line per row of the notes' table (shared/domain/screening-rules.md, "Deferrals (Art. 5),
counted from the event"), in the same order, each "yes" that leads to it with its source (the
Circular's article, or NIHBT practice). tools/rules_table.py writes it into README.md; a test
checks that the README says what the file says."""
from __future__ import annotations

from typing import Any, Iterator

from kiosk.screening.questionnaire import Questionnaire

START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"
# The notes' rows, in their order; then what no row of theirs holds.
ROWS = (("permanent", "permanent"), ("12_months", "12 months"), ("6_months", "6 months"),
        ("4_weeks", "4 weeks (28 days)"), ("7_days", "7 days"),
        ("12_hours", "12 hours before certain work (advice, not a deferral)"),
        ("nurse_sets_date", "the nurse sets the date"), ("nurse_review", "the nurse decides"))


def _row_of(rule: dict[str, Any]) -> str:
    if rule.get("kind") in ("nurse_sets_date", "nurse_review"):
        return rule["kind"]
    return rule.get("row") or rule.get("kind", "")


def _answers(questionnaire: Questionnaire) -> Iterator[tuple[str, str, str]]:
    """(row, what was answered, source) for every "yes" that has a consequence."""
    for item in questionnaire.items_for("F"):
        number = questionnaire.group_of(item.id).number
        words = (f"{number}. " if number else "") + item.text["en"].rstrip("?")
        if item.choices:
            for choice in item.choices:
                yield _row_of(choice.if_yes), f"{words}: {choice.text['en']}", choice.if_yes.get("source", "")
        elif item.if_yes.get("kind") not in ("none",):
            yield _row_of(item.if_yes), words, item.if_yes.get("source", "")


def markdown(questionnaire: Questionnaire) -> str:
    by_row: dict[str, list[str]] = {code: [] for code, _words in ROWS}
    for row, words, source in _answers(questionnaire):
        by_row.setdefault(row, []).append(f"{words} ({source or 'NIHBT'})")
    lines = [f"Questionnaire {questionnaire.version}: what a “yes” leads to, and where the rule comes from.", "",
             "| wait | after a “yes” to (source) |", "|---|---|"]
    for code, words in ROWS:
        lines.append(f"| {words} | {'; '.join(by_row.get(code) or ['—'])} |")
    return "\n".join(lines)


def replaced(text: str, table: str) -> str:
    """`text` (the README) with the table between its markers replaced."""
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"
