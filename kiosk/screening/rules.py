"""The screening rules engine: a donor's facts, answers and vitals in, a suggestion out.

Pure Python, no Flask: the nurse's page calls suggest() and shows the result, and the nurse
decides (an override needs a reason). Every number comes from kiosk/data/screening_rules.json,
overridable per instance (app.config["SCREENING_RULES"], merged key by key), because hospitals
differ and rules change: this module holds no threshold of its own.

A suggestion lists every reason, each with the rule and source it comes from. A reason is
"blocking" when it stops a donation today; the others restrict the volume or ask the nurse to
look (needs_review). Permanent wins over everything; otherwise the return date is the latest
date among the temporary deferrals.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import math
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional


DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "screening_rules.json"

DONATION_TYPES = ("whole_blood", "red_cells", "plasma", "platelets")
VITAL_FIELDS = ("weight_kg", "systolic_mmhg", "diastolic_mmhg", "pulse_per_min", "haemoglobin_g_l",
                "temperature_c")

# Every code suggest() can give, by the rule that gives it (rule "questionnaire:<item>" for one
# question). kiosk/screening/messages.py has a sentence for each.
REASON_CODES = {
    "age": ("too_young", "too_old"),
    "weight": ("underweight", "volume_limited_by_weight"),
    "volume": ("no_allowed_volume",),
    "interval": ("interval_too_short", "last_donation_unknown"),
    "haemoglobin": ("hb_low", "hb_low_for_volume"),
    "hbsag": ("hbsag_positive",),
    "blood_pressure": ("bp_out_of_range",),
    "pulse": ("pulse_out_of_range",),
    "temperature": ("fever",),
    "pregnancy": ("pregnancy",),
    "questionnaire": ("questionnaire_missing", "questionnaire_incomplete", "questionnaire_permanent",
                      "questionnaire_deferral", "questionnaire_review", "questionnaire_nurse_sets_date",
                      "questionnaire_advice", "not_confirmed"),
    "vitals": ("vitals_missing", "vitals_implausible"),
}
ALL_REASON_CODES = frozenset(code for codes in REASON_CODES.values() for code in codes)


# --- inputs -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DonorFacts:
    date_of_birth: dt.date
    sex: str  # "M" or "F"
    last_donation_date: Optional[dt.date] = None
    last_donation_type: Optional[str] = None  # one of DONATION_TYPES; None: taken as the configured default


@dataclass(frozen=True)
class Vitals:
    weight_kg: Optional[float] = None
    systolic_mmhg: Optional[int] = None
    diastolic_mmhg: Optional[int] = None
    pulse_per_min: Optional[int] = None
    haemoglobin_g_l: Optional[int] = None
    temperature_c: Optional[float] = None
    hbsag: Optional[str] = None  # "negative", "positive", None = not done on site


# --- the rules ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AgeRule:
    min_years: int
    max_years: int
    source: str


@dataclass(frozen=True)
class WeightRule:
    min_kg: dict[str, float]
    defer_days: Optional[int]
    source: str


@dataclass(frozen=True)
class VolumeRule:
    bag_sizes_ml: tuple[int, ...]
    small_band_max_ml: int
    full_band_from_kg: float
    ml_per_kg: float
    max_ml: int
    source: str


@dataclass(frozen=True)
class IntervalRule:
    days: dict[str, int]
    unknown_type_as: str
    asked_by_item: str
    source: str
    incomplete_starts_interval: bool = False  # an incomplete donation (bag not filled) counts as the last one


@dataclass(frozen=True)
class HaemoglobinRule:
    min_g_l: int
    min_g_l_from_volume: int
    large_volume_from_ml: int
    defer_days: Optional[int]
    source: str


@dataclass(frozen=True)
class HbsagRule:
    source: str


@dataclass(frozen=True)
class BloodPressureRule:
    systolic_min: int
    systolic_max: int
    diastolic_min: int
    diastolic_max: int
    retest_days: int
    source: str


@dataclass(frozen=True)
class PulseRule:
    min: int
    max: int
    retest_days: int
    source: str


@dataclass(frozen=True)
class TemperatureRule:
    max_c: float
    retest_days: int
    source: str


@dataclass(frozen=True)
class PregnancyRule:
    item: str
    months: int
    source: str


@dataclass(frozen=True)
class QuestionnaireRule:
    source: str
    confirmation_source: str


@dataclass(frozen=True)
class Rules:
    version: str
    notes: tuple[str, ...]
    age: AgeRule
    weight: WeightRule
    volume: VolumeRule
    interval: IntervalRule
    haemoglobin: HaemoglobinRule
    hbsag: HbsagRule
    blood_pressure: BloodPressureRule
    pulse: PulseRule
    temperature: TemperatureRule
    pregnancy: PregnancyRule
    questionnaire: QuestionnaireRule
    required_vitals: tuple[str, ...]
    plausible: dict[str, tuple[float, float]]
    data: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The merged configuration, as JSON: for the organiser's page and the audit."""
        return copy.deepcopy(self.data)


_SECTIONS = {
    "age": AgeRule, "weight": WeightRule, "volume": VolumeRule, "interval": IntervalRule,
    "haemoglobin": HaemoglobinRule, "hbsag": HbsagRule, "blood_pressure": BloodPressureRule,
    "pulse": PulseRule, "temperature": TemperatureRule, "pregnancy": PregnancyRule,
    "questionnaire": QuestionnaireRule,
}


class RulesError(ValueError):
    """A bad override: an unknown key or a value of the wrong kind. Raised at start-up, not mid-drive."""


def load_rules(overrides: Optional[Mapping[str, Any]] = None, path: Path | str | None = None) -> Rules:
    """The default rules with `overrides` merged key by key (nested dicts, or dotted keys
    such as "weight.min_kg.M"). Built once per set of overrides: a nurse's every form and
    decision asks for them, and building them (a deep copy and a check of the whole file) took a
    tenth of a donation save's time. Rules are frozen, so one object serves every request."""
    key = (str(path or DEFAULT_PATH), json.dumps(dict(overrides or {}), sort_keys=True, default=str))
    rules = _BUILT.get(key)
    if rules is None:
        rules = _BUILT[key] = _load_rules(overrides, key[0])
    return rules


# An instance has one set of overrides (a test run, a few hundred): the dict stays small.
_BUILT: dict[tuple[str, str], Rules] = {}


def _load_rules(overrides: Optional[Mapping[str, Any]], path: str) -> Rules:
    defaults = _read_defaults(path)
    merged = _merge(defaults, _expand_dotted(dict(overrides or {})), "")
    if overrides and "version" not in overrides:
        # Suggestions store the version: a local change must not pass for the defaults.
        merged["version"] = f"{defaults['version']}+instance"
    _check_consistency(merged)
    return _build(merged)


@lru_cache
def _read_defaults_cached(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _read_defaults(path: str) -> dict[str, Any]:
    return json.loads(_read_defaults_cached(path))


def _expand_dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    expanded: dict[str, Any] = {}
    for key, value in overrides.items():
        target = expanded
        *parents, last = str(key).split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise RulesError(f"screening rule {key!r} conflicts with another override")
        if isinstance(value, Mapping):
            value = _expand_dotted(dict(value))
            if isinstance(target.get(last), dict):
                target[last].update(value)
                continue
        target[last] = value
    return expanded


def _merge(base: dict[str, Any], override: dict[str, Any], path: str) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        where = f"{path}{key}"
        if key not in base:
            raise RulesError(f"unknown screening rule: {where}")
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, Mapping):
                raise RulesError(f"screening rule {where} must be a mapping")
            merged[key] = _merge(default, dict(value), f"{where}.")
        else:
            _check_kind(default, value, where)
            merged[key] = copy.deepcopy(value)
    return merged


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_kind(default: Any, value: Any, where: str) -> None:
    if default is None:
        ok = value is None or (is_number(value) and value >= 0)
    elif is_number(default):
        ok = is_number(value) and value >= 0
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, (list, tuple)) and all(
            (is_number(v) if default and is_number(default[0]) else isinstance(v, str)) for v in value)
    else:
        ok = type(value) is type(default)
    if not ok:
        raise RulesError(f"screening rule {where} has a value of the wrong kind: {value!r}")


def _check_consistency(data: dict[str, Any]) -> None:
    problems = []
    if data["age"]["min_years"] > data["age"]["max_years"]:
        problems.append("age.min_years > age.max_years")
    if not data["volume"]["bag_sizes_ml"]:
        problems.append("volume.bag_sizes_ml is empty")
    for name, bounds in data["plausible"].items():
        if bounds["lowest"] > bounds["highest"]:
            problems.append(f"plausible.{name}: lowest > highest")
    unknown_vitals = (set(data["required_vitals"]) | set(data["plausible"])) - set(VITAL_FIELDS)
    if unknown_vitals:
        problems.append(f"required_vitals or plausible: unknown {sorted(unknown_vitals)}")
    if data["interval"]["unknown_type_as"] not in data["interval"]["days"]:
        problems.append("interval.unknown_type_as is not a donation type")
    if problems:
        raise RulesError("; ".join(problems))


def _build(data: dict[str, Any]) -> Rules:
    sections = {}
    for name, cls in _SECTIONS.items():
        values = dict(data[name])
        for f in fields(cls):
            if isinstance(values.get(f.name), list):
                values[f.name] = tuple(values[f.name])
        sections[name] = cls(**values)
    return Rules(
        version=data["version"], notes=tuple(data.get("notes", ())), required_vitals=tuple(data["required_vitals"]),
        plausible={name: (bounds["lowest"], bounds["highest"]) for name, bounds in data["plausible"].items()},
        data=data, **sections,
    )
