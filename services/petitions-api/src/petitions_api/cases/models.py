"""A case: one 12345 hotline ticket (工单) or one 信访 petition case (信访件), its petitioner,
its timeline, and the idempotency keys of the requests that created cases."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from gov_common.events.petitions import (
    CaseKind,
    Channel,
    DeclineRoute,
    NoticeMeans,
    Rating,
    ReplyOutcome,
    ResolutionLevel,
)
from gov_common.idempotency import IdempotencyKeyMixin
from petitions_api.cases.lifecycle import CaseStatus, RequestKind, ReviewStage
from petitions_api.db import Base

# Case numbers are issued from a database sequence so they are unique across replicas.
case_number_seq = Sequence("case_number_seq", metadata=Base.metadata)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_created_at_id", "created_at", "id"),
        Index("ix_cases_closed_on", "closed_on"),
        Index("ix_cases_received_on", "received_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[CaseKind] = mapped_column(str_enum(CaseKind, "case_kind"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "case_channel"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    # The day the letter arrived or the call came in; may be earlier than the day of entry.
    received_on: Mapped[date] = mapped_column(Date)
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus, "case_status"), default=CaseStatus.REGISTERED, index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)

    category_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"), index=True)
    place_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"), index=True)
    place_address: Mapped[str | None] = mapped_column(String(300))  # where the matter is
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # The town/sub-district (镇办) of the place: per-town figures without walking the tree.
    town_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"), index=True)
    handling_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    group_size: Mapped[int] = mapped_column(Integer, default=1)  # 集体访: how many came
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    source_client: Mapped[str | None] = mapped_column(String(100))  # API client / operator
    external_ref: Mapped[str | None] = mapped_column(String(100))  # e.g. Open311 device id

    # 初信初访 or a repeat of an earlier case of the same petitioner and matter.
    first_time: Mapped[bool] = mapped_column(Boolean, default=True)
    repeat_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    repeat_score: Mapped[float | None] = mapped_column(Float)
    repeat_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)

    # 复查/复核: a review is a case of its own, linked to the case it reviews.
    parent_case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    review_stage: Mapped[ReviewStage] = mapped_column(
        str_enum(ReviewStage, "review_stage"), default=ReviewStage.ORIGINAL
    )
    review_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Concluded by 复核: the same facts and reasons are not accepted again.
    final: Mapped[bool] = mapped_column(Boolean, default=False)

    # 检举控告: the unit the case accuses (or whose staff it accuses). Its people never see
    # the case, and it is never sent to them.
    accused_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"), index=True)

    accepted_on: Mapped[date | None] = mapped_column(Date)
    # 书面告知 of the acceptance decision (受理 or 不予受理): the day and the means.
    decision_notified_on: Mapped[date | None] = mapped_column(Date)
    decision_notice_means: Mapped[NoticeMeans | None] = mapped_column(
        str_enum(NoticeMeans, "notice_means")
    )
    decline_route: Mapped[DeclineRoute | None] = mapped_column(
        str_enum(DeclineRoute, "decline_route")
    )
    # First time a unit took the case (签收): the hotline response rate counts it.
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_outcome: Mapped[ReplyOutcome | None] = mapped_column(
        str_enum(ReplyOutcome, "reply_outcome")
    )
    replied_on: Mapped[date | None] = mapped_column(Date)
    on_time: Mapped[bool | None] = mapped_column(Boolean)  # replied before the handling clock
    rating: Mapped[Rating | None] = mapped_column(str_enum(Rating, "case_rating"))
    resolution_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"))
    resolution_level: Mapped[ResolutionLevel | None] = mapped_column(
        str_enum(ResolutionLevel, "resolution_level")
    )
    grassroots: Mapped[bool | None] = mapped_column(Boolean)
    effective: Mapped[bool | None] = mapped_column(Boolean)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    supervisor_id: Mapped[str | None] = mapped_column(String(100))
    supervision_due_on: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Petitioner(Base):
    """The person behind a case (信访人/来电人). Kept apart from the case so that it can be
    protected, masked and audited on its own, and never travels in events or logs.

    Name, phone, ID number and address are stored only as AES-256-GCM ciphertexts bound to
    this row and field (context ``petitioners/<case id>/<field>``, see ``cases.personal_data``);
    phone and ID number also as keyed hashes (blind indexes) that find repeats without
    decrypting anything.
    """

    __tablename__ = "petitioners"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    name_ciphertext: Mapped[str] = mapped_column(Text)
    phone_ciphertext: Mapped[str | None] = mapped_column(Text)
    id_number_ciphertext: Mapped[str | None] = mapped_column(Text)
    address_ciphertext: Mapped[str | None] = mapped_column(Text)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # The blind-index key the two indexes were made with (GOV_PII_INDEX_KEY_ID; NULL: before
    # key ids were recorded). The re-keying job rebuilds rows under an older one.
    index_key_id: Mapped[str | None] = mapped_column(String(32))


class TimelineEntry(Base):
    """One step in a case's life: who did what, when and why (the transition log)."""

    __tablename__ = "case_timeline"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseRequest(Base):
    """A unit's request a step waits on (申请): to return the case (退回, decided by the
    信访部门) or to extend its handling period (延期, decided by the unit's head). Until it is
    decided the case stays where it is and its clocks run."""

    __tablename__ = "case_requests"
    __table_args__ = (
        # At most one undecided request per case.
        Index(
            "uq_case_requests_open",
            "case_id",
            unique=True,
            postgresql_where=text("decided_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[RequestKind] = mapped_column(str_enum(RequestKind, "case_request_kind"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.code"))  # who asks
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    days: Mapped[int | None] = mapped_column(Integer)  # an extension: how long
    approved: Mapped[bool | None] = mapped_column(Boolean)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """A registration seen before (gov_common.idempotency): the same key and body get the same
    answer again; ``case_id`` is the case it created."""

    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
