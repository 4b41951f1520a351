"""What the reference-data API returns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from petitions_api.reference.models import UnitLevel


class OrgUnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    short_name: str | None
    level: UnitLevel
    parent_code: str | None
    path: str
    active: bool
    grassroots: bool = False


class TierRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    hours: int | None
    working_days: int | None
    urgent: bool


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    group: str | None
    description: str | None
    keywords: list[str]
    tier_code: str
    default_unit: str
    by_place: dict[str, Any]
    active: bool


class ReferenceVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    dataset: str
    version: str
    checksum: str
