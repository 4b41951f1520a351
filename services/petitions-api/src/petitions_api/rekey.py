"""Retiring a personal-data key in petitions-api (gov_common.security.rekey): petitioners'
ciphertexts re-encrypted under GOV_PII_ACTIVE_KEY, their phone and ID-number hashes rebuilt
under GOV_PII_INDEX_KEY (GOV_PII_INDEX_KEY_ID).

    python -m petitions_api.rekey run [--rows-per-s N] [--batch-size N]   resumable
    python -m petitions_api.rekey check      values per key id; exit 1 while any is old

The steps are in docs/runbook.md, "Retire a personal-data key".
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from functools import partial
from typing import cast

from sqlalchemy import Table

from gov_common.security.crypto import BlindIndex, normalise_id_number, normalise_phone
from gov_common.security.rekey import IndexColumn, RekeyTable, SealedColumn, main
from petitions_api.cases.models import Petitioner
from petitions_api.cases.personal_data import FIELDS, context


def _phone_index(index: BlindIndex, phone: str | None) -> str | None:
    normalised = normalise_phone(phone) if phone else ""
    return index.digest("phone", normalised) if normalised else None


def _id_number_index(index: BlindIndex, id_number: str | None) -> str | None:
    normalised = normalise_id_number(id_number) if id_number else ""
    return index.digest("id_number", normalised) if normalised else None


def _context(field: str, case_id: uuid.UUID) -> str:
    return context(case_id, field)


TABLES: Sequence[RekeyTable] = (
    RekeyTable(
        table=cast(Table, Petitioner.__table__),
        key="case_id",
        sealed=tuple(SealedColumn(f"{f}_ciphertext", partial(_context, f)) for f in FIELDS),
        indexes=(
            IndexColumn("phone_index", "phone_ciphertext", _phone_index),
            IndexColumn("id_number_index", "id_number_ciphertext", _id_number_index),
        ),
        index_key_column="index_key_id",
    ),
)


def cli(argv: Sequence[str] | None = None) -> int:
    from petitions_api.cases.personal_data import Protector
    from petitions_api.config import get_settings
    from petitions_api.db import RekeyProgress

    settings = get_settings()
    protector = Protector.from_settings(settings)
    return main(
        argv,
        database_url=settings.database_url,
        tables=TABLES,
        progress=RekeyProgress,
        cipher=protector.cipher,
        index=protector.index,
        prog="python -m petitions_api.rekey",
    )


if __name__ == "__main__":
    sys.exit(cli())
