"""A case: one 12345 hotline ticket (工单) or one 信访 petition case (信访件)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, Sequence, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from gov_common.events.petitions import CaseKind, Channel
from petitions_api.db import Base

# Case numbers are issued from a database sequence so they are unique across replicas.
case_number_seq = Sequence("case_number_seq", metadata=Base.metadata)


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[CaseKind] = mapped_column(str_enum(CaseKind, "case_kind"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "case_channel"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    # The day the letter arrived or the call came in; may be earlier than the day of entry.
    received_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32), default="registered")  # 登记
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
