"""The same-day health questionnaire: content from a data file, not code.

A hospital can edit and translate kiosk/data/questionnaire.json (or point
QUESTIONNAIRE_PATH at its own); every set of answers is stored with the file's version."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "questionnaire.json"


@dataclass(frozen=True)
class Item:
    id: str
    text: dict[str, str]
    if_yes: dict[str, Any]  # {"kind": "none"|"nurse_review"|"permanent"|"days"|"months", ...}
    flag: bool  # a "yes" is shown to the nurse
    must_be_yes: bool  # the final confirmation


@dataclass(frozen=True)
class Group:
    id: str
    title: dict[str, str]
    items: tuple[Item, ...]
    only_sex: Optional[str]


@dataclass(frozen=True)
class Questionnaire:
    version: str
    groups: tuple[Group, ...]

    def groups_for(self, sex: str) -> list[Group]:
        """The screens a donor sees: the women-only group only for women."""
        return [g for g in self.groups if g.only_sex in (None, sex)]

    def items_for(self, sex: str) -> list[Item]:
        return [item for group in self.groups_for(sex) for item in group.items]

    def item(self, item_id: str) -> Item:
        for group in self.groups:
            for item in group.items:
                if item.id == item_id:
                    return item
        raise KeyError(item_id)


class IncompleteAnswers(ValueError):
    def __init__(self, missing: list[str], unconfirmed: list[str]):
        super().__init__(missing, unconfirmed)
        self.missing = missing
        self.unconfirmed = unconfirmed


def validate_answers(questionnaire: Questionnaire, sex: str, answers: dict[str, bool]) -> dict[str, bool]:
    """Every item for this donor answered yes or no, the confirmation given; nothing else kept."""
    items = questionnaire.items_for(sex)
    missing = [i.id for i in items if not isinstance(answers.get(i.id), bool)]
    unconfirmed = [i.id for i in items if i.must_be_yes and answers.get(i.id) is not True]
    if missing or unconfirmed:
        raise IncompleteAnswers(missing, unconfirmed)
    return {i.id: answers[i.id] for i in items}


def flags_for(questionnaire: Questionnaire, answers: dict[str, bool]) -> list[dict[str, Any]]:
    """The "yes" answers the nurse must see, each with its suggested deferral."""
    flags = []
    for item_id, answer in answers.items():
        item = questionnaire.item(item_id)
        if answer and item.flag:
            flags.append({"item": item.id, **item.if_yes})
    return flags


def load_questionnaire(path: Path | str | None = None) -> Questionnaire:
    return _load(str(path or DEFAULT_PATH))


@lru_cache(maxsize=4)
def _load(path: str) -> Questionnaire:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    items = {
        item_id: Item(id=item_id, text=spec["text"], if_yes=spec.get("if_yes", {"kind": "none"}),
                      flag=bool(spec.get("flag", False)), must_be_yes=bool(spec.get("must_be_yes", False)))
        for item_id, spec in data["items"].items()
    }
    groups = tuple(
        Group(id=g["id"], title=g["title"], items=tuple(items[i] for i in g["items"]), only_sex=g.get("only_sex"))
        for g in data["groups"]
    )
    return Questionnaire(version=data["version"], groups=groups)
