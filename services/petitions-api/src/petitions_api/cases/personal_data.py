"""A petitioner's personal data (个人信息): sealed at rest, found by blind index, masked for
callers who may not read it. Pure apart from the settings' keys; no database, no HTTP.

- Each field is an AES-256-GCM ciphertext whose associated data is
  ``petitioners/<case id>/<field>``: a ciphertext copied to another row or field does not open.
- Phone and ID number are also HMAC-SHA256 blind indexes of their normalised form, so a
  repeat petitioner is found by equality without decrypting anything.
- Masks keep what a call-back or a glance needs: the family name, the phone's first three and
  last four digits, the ID number's region and last four, the org-unit part of an address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from gov_common.security.crypto import (
    BlindIndex,
    FieldCipher,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_phone,
)
from gov_common.security.setup import blind_index, field_cipher
from gov_common.settings import ServiceSettings

FIELDS = ("name", "phone", "id_number", "address")
MASK = "****"


@dataclass(frozen=True)
class PersonalData:
    name: str
    phone: str | None = None
    id_number: str | None = None
    address: str | None = None

    def present_fields(self) -> list[str]:
        return [f for f in FIELDS if getattr(self, f) is not None]


@dataclass(frozen=True)
class Sealed:
    """What the ``petitioners`` row stores."""

    name_ciphertext: str
    phone_ciphertext: str | None
    id_number_ciphertext: str | None
    address_ciphertext: str | None
    phone_index: str | None
    id_number_index: str | None
    index_key_id: str


def context(case_id: uuid.UUID | str, field: str) -> str:
    return f"petitioners/{case_id}/{field}"


_last_protector: tuple[ServiceSettings, Protector] | None = None


def _remember_protector(settings: ServiceSettings, protector: Protector) -> None:
    global _last_protector
    _last_protector = (settings, protector)


class Protector:
    """Seals and opens petitioners' personal data with the service's keys."""

    def __init__(self, cipher: FieldCipher, index: BlindIndex) -> None:
        self._cipher = cipher
        self._index = index

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Protector:
        # Once per settings object, not per request: parsing the keyring and setting up
        # AES-GCM for every key cost more than sealing a petitioner.
        cached = _last_protector
        if cached is not None and cached[0] is settings:
            return cached[1]
        protector = cls(field_cipher(settings), blind_index(settings))
        _remember_protector(settings, protector)
        return protector

    def phone_index(self, phone: str | None) -> str | None:
        normalised = normalise_phone(phone) if phone else ""
        return self._index.digest("phone", normalised) if normalised else None

    def id_number_index(self, id_number: str | None) -> str | None:
        normalised = normalise_id_number(id_number) if id_number else ""
        return self._index.digest("id_number", normalised) if normalised else None

    # What lookups look for: the hash under the current index key, and while the index is
    # rebuilt under a new key (GOV_PII_PREVIOUS_INDEX_KEYS) under the old ones too, so rows
    # not yet re-indexed still match. Empty when there is nothing to look up.
    def phone_lookup(self, phone: str | None) -> tuple[str, ...]:
        normalised = normalise_phone(phone) if phone else ""
        return self._index.lookup("phone", normalised) if normalised else ()

    def id_number_lookup(self, id_number: str | None) -> tuple[str, ...]:
        normalised = normalise_id_number(id_number) if id_number else ""
        return self._index.lookup("id_number", normalised) if normalised else ()

    @property
    def index(self) -> BlindIndex:
        return self._index

    @property
    def cipher(self) -> FieldCipher:
        return self._cipher

    def _seal(self, case_id: uuid.UUID, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        return self._cipher.encrypt(value, context=context(case_id, field))

    def seal(self, case_id: uuid.UUID, data: PersonalData) -> Sealed:
        name = self._seal(case_id, "name", data.name)
        assert name is not None
        return Sealed(
            name_ciphertext=name,
            phone_ciphertext=self._seal(case_id, "phone", data.phone),
            id_number_ciphertext=self._seal(case_id, "id_number", data.id_number),
            address_ciphertext=self._seal(case_id, "address", data.address),
            phone_index=self.phone_index(data.phone),
            id_number_index=self.id_number_index(data.id_number),
            index_key_id=self._index.key_id,
        )

    def _open(self, case_id: uuid.UUID, field: str, token: str | None) -> str | None:
        if token is None:
            return None
        return self._cipher.decrypt(token, context=context(case_id, field))

    def open(
        self,
        case_id: uuid.UUID,
        *,
        name_ciphertext: str,
        phone_ciphertext: str | None,
        id_number_ciphertext: str | None,
        address_ciphertext: str | None,
    ) -> PersonalData:
        name = self._open(case_id, "name", name_ciphertext)
        assert name is not None
        return PersonalData(
            name=name,
            phone=self._open(case_id, "phone", phone_ciphertext),
            id_number=self._open(case_id, "id_number", id_number_ciphertext),
            address=self._open(case_id, "address", address_ciphertext),
        )


def mask_address(address: str, unit_names: Iterable[str]) -> str:
    """Keep the leading org-unit names (印台区城关街道…), mask the rest (street, building)."""
    names = sorted({n for n in unit_names if n}, key=len, reverse=True)
    kept, rest = "", address.strip()
    matched = True
    while matched and rest:
        matched = False
        for name in names:
            if rest.startswith(name):
                kept, rest = kept + name, rest[len(name) :]
                matched = True
                break
    return kept + MASK if rest else kept


def masked(data: PersonalData, unit_names: Iterable[str]) -> PersonalData:
    return PersonalData(
        name=mask_name(data.name),
        phone=mask_phone(data.phone) if data.phone is not None else None,
        id_number=mask_id_number(data.id_number) if data.id_number is not None else None,
        address=mask_address(data.address, unit_names) if data.address is not None else None,
    )
