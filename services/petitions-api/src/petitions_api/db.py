"""The petitions database: declarative base, the outbox, API keys and the personal-data
access log."""

from __future__ import annotations

from gov_common.db import Base as CommonBase
from gov_common.db import new_metadata
from gov_common.messaging.outbox import OutboxMixin
from gov_common.security.api_keys import ApiKeyMixin
from gov_common.security.audit import PersonalDataAccessMixin
from gov_common.security.issuer_hashes import IssuerPasswordHashMixin
from gov_common.security.rekey import RekeyProgressMixin


class Base(CommonBase):
    __abstract__ = True
    metadata = new_metadata()


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ApiKey(ApiKeyMixin, Base):
    """Keys of other government systems (and Open311's ``api_key``), stored hashed."""


class PersonalDataAccess(PersonalDataAccessMixin, Base):
    """Every unmasked read of a petitioner's personal data; append-only in the database."""


class RekeyProgress(RekeyProgressMixin, Base):
    """How far the personal-data re-keying job got, per target and table (python -m
    petitions_api.rekey)."""

    __tablename__ = "pii_rekey_progress"


class IssuerPasswordHash(IssuerPasswordHashMixin, Base):
    """The built-in issuer's Argon2id hashes that replaced an accounts file's older ones on
    sign-in (gov_common.security.issuer_hashes)."""
