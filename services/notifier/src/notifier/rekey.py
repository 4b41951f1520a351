"""Retiring a personal-data key in the notifier (gov_common.security.rekey): recipients'
addresses and robot secrets, and the address of each delivery, re-encrypted under
GOV_PII_ACTIVE_KEY. The notifier keeps no blind index.

    python -m notifier.rekey run [--rows-per-s N] [--batch-size N]   resumable
    python -m notifier.rekey check      values per key id; exit 1 while any is old

The steps are in docs/runbook.md, "Retire a personal-data key".
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from functools import partial
from typing import cast

from sqlalchemy import Table

from gov_common.security.rekey import RekeyTable, SealedColumn, main
from notifier.deliveries.models import Delivery
from notifier.privacy import (
    RECIPIENT_SECRET_FIELDS,
    WEBHOOK_SECRET_FIELDS,
    delivery_context,
    recipient_context,
)
from notifier.recipients.models import Recipient


def _recipient_context(field: str, recipient_id: uuid.UUID) -> str:
    return recipient_context(recipient_id, field)


TABLES: Sequence[RekeyTable] = (
    RekeyTable(
        table=cast(Table, Recipient.__table__),
        key="id",
        sealed=tuple(
            SealedColumn(f, partial(_recipient_context, f))
            for f in RECIPIENT_SECRET_FIELDS + WEBHOOK_SECRET_FIELDS
        ),
    ),
    RekeyTable(
        table=cast(Table, Delivery.__table__),
        key="id",
        sealed=(SealedColumn("recipient", delivery_context),),
    ),
)


def cli(argv: Sequence[str] | None = None) -> int:
    from gov_common.security.setup import blind_index, field_cipher
    from notifier.config import get_settings
    from notifier.db import RekeyProgress

    settings = get_settings()
    return main(
        argv,
        database_url=settings.database_url,
        tables=TABLES,
        progress=RekeyProgress,
        cipher=field_cipher(settings),
        index=blind_index(settings),
        prog="python -m notifier.rekey",
    )


if __name__ == "__main__":
    sys.exit(cli())
