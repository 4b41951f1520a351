"""The petitioner's personal data as a caller reads it: in full (and audited) or masked."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.problems import NotFoundError
from gov_common.security.audit import record_personal_data_access
from gov_common.security.principal import Principal
from petitions_api.cases.models import (
    Petitioner,
)
from petitions_api.cases.personal_data import PersonalData, Protector, masked
from petitions_api.cases.schemas import (
    PetitionerRead,
)
from petitions_api.cases.scope import get_case
from petitions_api.config import Settings
from petitions_api.db import PersonalDataAccess
from petitions_api.reference.models import OrgUnit


def open_petitioner(petitioner: Petitioner, settings: Settings) -> PersonalData:
    return Protector.from_settings(settings).open(
        petitioner.case_id,
        name_ciphertext=petitioner.name_ciphertext,
        phone_ciphertext=petitioner.phone_ciphertext,
        id_number_ciphertext=petitioner.id_number_ciphertext,
        address_ciphertext=petitioner.address_ciphertext,
    )


async def read_petitioner(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    principal: Principal,
    unmasked: bool,
    settings: Settings,
    scope: str | None = None,
) -> PetitionerRead:
    """The petitioner of a case in scope: in full for ``unmasked`` callers — and then the
    read is written to the access log in this transaction — else masked."""
    await get_case(session, case_id, scope=scope)
    petitioner = await session.get(Petitioner, case_id)
    if petitioner is None:
        raise NotFoundError("petitioner of case", case_id)
    data = open_petitioner(petitioner, settings)
    if unmasked:
        await record_personal_data_access(
            session,
            PersonalDataAccess,
            principal,
            resource_type="petitioner",
            resource_id=str(case_id),
            fields=data.present_fields(),
        )
    else:
        units = (await session.execute(select(OrgUnit.name, OrgUnit.short_name))).all()
        data = masked(data, [n for unit in units for n in unit if n])
    return PetitionerRead(**vars(data), masked=not unmasked)
