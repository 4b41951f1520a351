"""Org units, categories, hotline time-limit tiers and the versions of the loaded data files."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from petitions_api.db import Base


class UnitLevel(StrEnum):
    DISTRICT = "district"  # 区
    DEPARTMENT = "department"  # 区直部门
    TOWN = "town"  # 镇/街道 (镇办)
    VILLAGE = "village"  # 村/社区


class OrgUnit(Base):
    __tablename__ = "org_units"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str | None] = mapped_column(String(50))
    level: Mapped[UnitLevel] = mapped_column(str_enum(UnitLevel, "unit_level"))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"))
    # Materialised path "/610203/610203001/": a subtree is a prefix match, cheap at any size.
    path: Mapped[str] = mapped_column(String(400), index=True)
    # Units dropped from the data file are deactivated, never deleted: cases still name them.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class HotlineTier(Base):
    """A 12345 time limit: hours on the clock, or working days on the official calendar."""

    __tablename__ = "hotline_tiers"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    hours: Mapped[int | None] = mapped_column(Integer)
    working_days: Mapped[int | None] = mapped_column(Integer)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    group: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSONB, default=list)
    tier_code: Mapped[str] = mapped_column(ForeignKey("hotline_tiers.code"))
    # An org-unit code, or "@town" for the town/sub-district of the case's place.
    default_unit: Mapped[str] = mapped_column(String(32))
    by_place: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ReferenceVersion(Base):
    """Which version of each data file the database holds."""

    __tablename__ = "reference_versions"

    dataset: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    checksum: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
