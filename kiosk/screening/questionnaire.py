"""The same-day health questionnaire: content from a data file, not code.

Each version is a file, kiosk/data/questionnaire-<version>.json; CURRENT_VERSION names the one
new answers are given under. A hospital can edit and translate it (or point QUESTIONNAIRE_PATH
at its own); every set of answers is stored with its version and read again with that
version's own file, so answers given under an older version keep their own wording.

From version 2026-12-vi-2 the questions are NIHBT's: a group is one numbered question (one
screen), its items are the ticked sub-items, each with a stable id ("q4.vaccine") and its own
rule. An item may ask for a detail: a free text ("which illness?") or a choice (which kind of
vaccine, required on a "yes"), and a choice carries its own rule.

From 2026-12-vi-3 an item whose wait counts from an event asks when (asks_date): a month and
year ("2026-03"), a date ("2026-03-10"), or nothing (not remembered); a group may share
another's screen (screen_with: the women's question shows with question 8, so a woman taps no
more than a man); and every rule names its source, the Circular's article or NIHBT practice.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional

from kiosk.inputs import parse_date

DATA = Path(__file__).resolve().parent.parent / "data"
# The version a new set of answers is given under; every version's file stays, by its name.
CURRENT_VERSION = "2026-12-vi-3"
DEFAULT_PATH = DATA / f"questionnaire-{CURRENT_VERSION}.json"
# An event's date is a detail under the item's id and this suffix ("q9.pregnancy_ended#date"),
# as an ISO date ("2026-03-10") or an ISO month ("2026-03"), never after the drive.
DATE_SUFFIX = "#date"
# A free-text detail ("which illness?") is a short note for the nurse, not a medical history.
MAX_DETAIL_LENGTH = 200
# What a "yes" can mean (Item.if_yes["kind"]); "months"/"days" are the 2026-11 file's kinds.
RULE_KINDS = ("none", "permanent", "wait", "nurse_review", "nurse_sets_date", "advice", "months", "days")


@dataclass(frozen=True)
class Choice:
    id: str
    text: dict[str, str]
    if_yes: dict[str, Any]


@dataclass(frozen=True)
class Item:
    id: str
    text: dict[str, str]
    if_yes: dict[str, Any]  # {"kind": one of RULE_KINDS, "days"|"weeks"|"months": n, "row": ..., "review": bool}
    flag: bool  # a "yes" is shown to the nurse
    must_be_yes: bool  # the final confirmation
    detail: Optional[str] = None  # "text" or "choice": what a "yes" asks for next
    detail_label: Optional[dict[str, str]] = None
    choices: tuple[Choice, ...] = ()
    asks_date: bool = False  # when it happened: a wait is counted from that day, not the drive date
    detail_required: bool = False  # a "yes" needs its detail (the vaccine's kind decides its wait)
    date_label: Optional[dict[str, str]] = None

    def choice(self, choice_id: Optional[str]) -> Optional[Choice]:
        return next((c for c in self.choices if c.id == choice_id), None)

    def rule_for(self, detail: Optional[str]) -> dict[str, Any]:
        """The rule a "yes" applies: the chosen kind's own rule, else the item's."""
        chosen = self.choice(detail) if self.detail == "choice" else None
        return chosen.if_yes if chosen else self.if_yes


@dataclass(frozen=True)
class Group:
    id: str
    title: dict[str, str]
    items: tuple[Item, ...]
    only_sex: Optional[str]
    number: Optional[str] = None  # the question's number on NIHBT's form
    window: Optional[dict[str, str]] = None  # "In the last 12 months", for a reason's wording
    screen_with: Optional[str] = None  # shown on the screen of this other group, when both are asked
    parts: tuple["Group", ...] = ()  # a screen of several groups: each, with its own title

    @property
    def sections(self) -> tuple["Group", ...]:
        """The numbered questions on this screen, in order (itself, for a screen of one)."""
        return self.parts or (self,)


@dataclass(frozen=True)
class Questionnaire:
    version: str
    groups: tuple[Group, ...]
    rows: Mapping[str, dict[str, str]] = None  # Art. 5's rows in words, by the code items cite

    def groups_for(self, sex: str) -> list[Group]:
        """The screens a donor sees: the women-only group only for women, a group with
        screen_with on the screen of that group (a screen of two groups has both as parts)."""
        screens: list[Group] = []
        for group in (g for g in self.groups if g.only_sex in (None, sex)):
            host = next((i for i, s in enumerate(screens) if group.screen_with in {p.id for p in s.sections}), None)
            if host is None:
                screens.append(group)
                continue
            first = screens[host]
            screens[host] = replace(first, items=first.items + group.items, only_sex=None,
                                    parts=first.sections + (group,))
        return screens

    def items_for(self, sex: str) -> list[Item]:
        return [item for group in self.groups_for(sex) for item in group.items]

    def item(self, item_id: str) -> Item:
        for group in self.groups:
            for item in group.items:
                if item.id == item_id:
                    return item
        raise KeyError(item_id)

    def group_of(self, item_id: str) -> Group:
        for group in self.groups:
            if any(item.id == item_id for item in group.items):
                return group
        raise KeyError(item_id)


class IncompleteAnswers(ValueError):
    def __init__(self, missing: list[str], unconfirmed: list[str], unknown: Optional[list[str]] = None,
                 bad_details: Optional[list[str]] = None):
        super().__init__(missing, unconfirmed, unknown, bad_details)
        self.missing = missing
        self.unconfirmed = unconfirmed
        self.unknown = unknown or []  # ids this questionnaire does not ask
        self.bad_details = bad_details or []  # a detail too long, or a choice not offered


def clean_detail(text: Any) -> str:
    """A free-text detail as stored: NFC, one line, no control or invisible characters."""
    text = unicodedata.normalize("NFC", str(text or ""))
    kept = "".join(" " if c in "\r\n\t" else c for c in text if unicodedata.category(c)[0] != "C" or c in "\r\n\t")
    return " ".join(kept.split())


def validate_answers(questionnaire: Questionnaire, sex: str, answers: Mapping[str, Any],
                     details: Optional[Mapping[str, Any]] = None) -> dict[str, bool]:
    """Every item for this donor answered yes or no, the confirmation given, no id it does not
    ask; the answers kept, nothing else. validate_details() checks the details."""
    items = questionnaire.items_for(sex)
    known = {i.id for i in items}
    missing = [i.id for i in items if not isinstance(answers.get(i.id), bool)]
    unconfirmed = [i.id for i in items if i.must_be_yes and answers.get(i.id) is not True]
    unknown = sorted(set(answers) - known)
    bad_details = _bad_details(questionnaire, sex, answers, details or {})
    if missing or unconfirmed or unknown or bad_details:
        raise IncompleteAnswers(missing, unconfirmed, unknown, bad_details)
    return {i.id: answers[i.id] for i in items}


def validate_details(questionnaire: Questionnaire, sex: str, answers: Mapping[str, bool],
                     details: Optional[Mapping[str, Any]]) -> dict[str, str]:
    """The details kept: only for an item answered "yes" that asks for one, cleaned."""
    kept = {}
    for item in questionnaire.items_for(sex):
        if answers.get(item.id) is not True:
            continue
        value = (details or {}).get(item.id)
        if item.detail and value not in (None, ""):
            kept[item.id] = clean_detail(value) if item.detail == "text" else str(value)
        when = event_when(details, item.id)
        if item.asks_date and when is not None:
            day, exact = when
            kept[item.id + DATE_SUFFIX] = day.isoformat() if exact else day.isoformat()[:7]
    return kept


def event_date(details: Optional[Mapping[str, Any]], item_id: str) -> Optional[dt.date]:
    """The date the donor gave for an item's event, if any and well-formed; a month alone gives
    its last day (the latest the event can have been: a wait never ends early because the donor
    gave only the month)."""
    when = event_when(details, item_id)
    return when[0] if when else None


def event_when(details: Optional[Mapping[str, Any]], item_id: str) -> Optional[tuple[dt.date, bool]]:
    """(the date, True) for a date given; (the month's last day, False) for a month and year."""
    value = (details or {}).get(item_id + DATE_SUFFIX)
    if isinstance(value, dt.date):
        return value, True
    text = str(value or "")
    try:
        if len(text) == 7:
            year, month = int(text[:4]), int(text[5:])
            if text[4] != "-" or not text[:4].isdigit() or not text[5:].isdigit():
                return None
            return dt.date(year, month, calendar.monthrange(year, month)[1]), False
        return (dt.date.fromisoformat(text), True) if text else None
    except ValueError:
        return None


MONTH_AND_YEAR = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{4})|(\d{2})(\d{4})", re.ASCII)


def parse_when(typed: Any, today: Optional[dt.date] = None) -> Optional[str]:
    """What the donor typed under "khi nào?", as stored: "2026-03" for a month and year (03/2026,
    3/2026, 032026), "2026-03-10" for a date (10/03/2026, 10032026), None for nothing (not
    remembered). ValueError for anything else, or for a month or date after `today`."""
    today = today or dt.date.max
    text = unicodedata.normalize("NFKC", str(typed or "")).strip()
    if not text:
        return None
    match = MONTH_AND_YEAR.fullmatch(text)
    if match:
        month, year = (int(match.group(1) or match.group(3)), int(match.group(2) or match.group(4)))
        first = dt.date(year, month, 1)  # ValueError for month 13
        if first > today:
            raise ValueError(text)
        return first.isoformat()[:7]
    day = parse_date(text)
    if day is None or day > today:
        raise ValueError(text)
    return day.isoformat()


def _bad_details(questionnaire: Questionnaire, sex: str, answers: Mapping[str, Any],
                 details: Mapping[str, Any]) -> list[str]:
    items = {i.id: i for i in questionnaire.items_for(sex)}
    bad = []
    for key, value in details.items():
        item_id, is_date = (key[:-len(DATE_SUFFIX)], True) if key.endswith(DATE_SUFFIX) else (key, False)
        item = items.get(item_id)
        if is_date:
            if item is None or not item.asks_date or (value not in (None, "") and event_date(details, item_id) is None):
                bad.append(key)
        elif item is None or not item.detail:
            bad.append(key)
        elif item.detail == "text" and len(clean_detail(value)) > MAX_DETAIL_LENGTH:
            bad.append(key)
        elif item.detail == "choice" and value not in (None, "") and item.choice(str(value)) is None:
            bad.append(key)
    # A "yes" whose detail decides its wait, given without it (the vaccine's kind: "Không nhớ" is one).
    bad += [item.id for item in items.values() if item.detail_required and answers.get(item.id) is True
            and not (details.get(item.id) and (item.detail != "choice" or item.choice(str(details[item.id]))))
            and item.id not in bad]
    return sorted(bad)


def flags_for(questionnaire: Questionnaire, answers: Mapping[str, bool],
              details: Optional[Mapping[str, str]] = None) -> list[dict[str, Any]]:
    """The "yes" answers the nurse must see, each with its suggested deferral."""
    flags = []
    for item_id, answer in answers.items():
        item = questionnaire.item(item_id)
        if answer and item.flag:
            detail = (details or {}).get(item_id)
            flag = {"item": item.id, **item.rule_for(detail)}
            if detail:
                flag["detail"] = detail
            flags.append(flag)
    return flags


def load_questionnaire(path: Path | str | None = None) -> Questionnaire:
    return _load(str(path or DEFAULT_PATH))


def load_version(version: str) -> Questionnaire:
    """A questionnaire by its version, from kiosk/data/questionnaire-<version>.json."""
    return _load(str(DATA / f"questionnaire-{version}.json"))


def questionnaire_for(version: str, current: Questionnaire) -> Questionnaire:
    """The questionnaire that a set of answers was given under: the current one, or an older
    version's own file. Unknown versions fall back to the current one (the caller shows what
    it can; it never fails a page)."""
    if version == current.version:
        return current
    path = DATA / f"questionnaire-{version}.json"
    if path.is_file():
        return _load(str(path))
    return current


@lru_cache(maxsize=8)
def _load(path: str) -> Questionnaire:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    items = {}
    for item_id, spec in data["items"].items():
        if_yes = spec.get("if_yes", {"kind": "none"})
        if if_yes.get("kind") not in RULE_KINDS:
            raise ValueError(f"{path}: {item_id}: unknown rule kind {if_yes.get('kind')!r}")
        items[item_id] = Item(
            id=item_id, text=spec["text"], if_yes=if_yes, flag=bool(spec.get("flag", False)),
            must_be_yes=bool(spec.get("must_be_yes", False)), detail=spec.get("detail"),
            detail_label=spec.get("detail_label"),
            choices=tuple(Choice(c["id"], c["text"], c["if_yes"]) for c in spec.get("choices", ())),
            asks_date=bool(spec.get("asks_date", False)), date_label=spec.get("date_label"),
            detail_required=bool(spec.get("detail_required", False)))
    groups = tuple(
        Group(id=g["id"], title=g["title"], items=tuple(items[i] for i in g["items"]), only_sex=g.get("only_sex"),
              number=g.get("number"), window=g.get("window"), screen_with=g.get("screen_with"))
        for g in data["groups"]
    )
    return Questionnaire(version=data["version"], groups=groups, rows=data.get("rows", {}))
