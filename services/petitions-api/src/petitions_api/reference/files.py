"""Reading and checking the reference data files (YAML). No database here."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from petitions_api.reference.models import UnitLevel

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
TOWN_TOKEN = "@town"  # noqa: S105 - a routing token, not a secret


class UnitEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: str = Field(min_length=1, max_length=100)
    short: str | None = Field(default=None, max_length=50)
    level: UnitLevel
    parent: Code | None = None


class OrgUnitsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(pattern="^org_units$")
    version: str = Field(min_length=1, max_length=64)
    units: list[UnitEntry]

    @model_validator(mode="after")
    def _a_tree(self) -> OrgUnitsFile:
        codes = [u.code for u in self.units]
        duplicates = {c for c in codes if codes.count(c) > 1}
        if duplicates:
            raise ValueError(f"duplicate unit codes: {sorted(duplicates)}")
        known = set(codes)
        for unit in self.units:
            if unit.parent is not None and unit.parent not in known:
                raise ValueError(f"unit {unit.code}: parent {unit.parent} is not in the file")
        roots = [u for u in self.units if u.parent is None]
        if not roots:
            raise ValueError("no root unit (one without a parent)")
        paths(self.units)  # raises on a cycle
        return self


class TierEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: str
    hours: int | None = Field(default=None, gt=0)
    working_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_limit(self) -> TierEntry:
        if (self.hours is None) == (self.working_days is None):
            raise ValueError(f"tier {self.code}: give exactly one of hours or working_days")
        return self


class CategoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    name: str
    group: str | None = None
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    tier: Code
    default_unit: Code
    by_place: dict[str, str] = Field(default_factory=dict)


class CategoriesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(pattern="^categories$")
    version: str = Field(min_length=1, max_length=64)
    urgent_tier: Code
    tiers: list[TierEntry]
    categories: list[CategoryEntry]

    @model_validator(mode="after")
    def _consistent(self) -> CategoriesFile:
        tiers = {t.code for t in self.tiers}
        if self.urgent_tier not in tiers:
            raise ValueError(f"urgent_tier {self.urgent_tier} is not a tier")
        codes = [c.code for c in self.categories]
        if len(codes) != len(set(codes)):
            raise ValueError("duplicate category codes")
        for category in self.categories:
            if category.tier not in tiers:
                raise ValueError(f"category {category.code}: unknown tier {category.tier}")
        return self


def paths(units: list[UnitEntry]) -> dict[str, str]:
    """Code → materialised path ``/root/…/code/``."""
    parent = {u.code: u.parent for u in units}
    result: dict[str, str] = {}
    for unit in units:
        chain: list[str] = []
        code: str | None = unit.code
        while code is not None:
            if code in chain:
                raise ValueError(f"cycle in the unit tree at {code}")
            chain.append(code)
            code = parent[code]
        result[unit.code] = "/" + "/".join(reversed(chain)) + "/"
    return result


def _read(path: Path) -> tuple[Any, str]:
    raw = path.read_bytes()
    return yaml.safe_load(raw), hashlib.sha256(raw).hexdigest()


def read_org_units(path: Path) -> tuple[OrgUnitsFile, str]:
    data, checksum = _read(path)
    return OrgUnitsFile.model_validate(data), checksum


def read_categories(path: Path) -> tuple[CategoriesFile, str]:
    data, checksum = _read(path)
    return CategoriesFile.model_validate(data), checksum
