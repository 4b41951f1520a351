"""What the progress API takes and returns."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from targets_api.progress.models import ReportState


class ReportCreate(BaseModel):
    """A department's report; a correction names the report it supersedes.

    Who reports is not part of the body: the reporting department is the caller's org unit
    and ``reported_by`` the caller's subject, both from the token or API key.
    """

    model_config = ConfigDict(extra="forbid")

    value: Decimal | None = Field(default=None, description="for all kinds but milestone")
    done: bool | None = Field(default=None, description="for milestone indicators")
    milestones_done: list[str] = Field(
        default_factory=list, description="codes of the sub-milestones completed so far"
    )
    as_of: date | None = Field(default=None, description="default: today in China")
    note: str | None = Field(default=None, max_length=4000)
    evidence: list[AnyHttpUrl] = Field(default_factory=list, max_length=20)
    supersedes: UUID | None = Field(default=None, description="id of the report this corrects")


class ReportReview(BaseModel):
    """The planning office's decision; the reviewer is the caller (token or API key)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=4000)


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    indicator_id: UUID
    value: Decimal | None
    done: bool | None
    milestones_done: list[str]
    as_of: date
    note: str | None
    evidence: list[str]
    department: str
    reported_by: str | None
    supersedes_id: UUID | None
    state: ReportState
    reviewed_by: str | None
    review_note: str | None
    reviewed_at: datetime | None
    created_at: datetime
