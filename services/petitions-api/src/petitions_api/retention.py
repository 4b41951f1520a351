"""Retention of petitions-api's outbox and idempotency keys:
the rules (gov_common.messaging.retention), and a pass run once.

    python -m petitions_api.retention        delete what is past its retention, in batches

The background pruner runs the same rules every GOV_RETENTION_INTERVAL_S (main.py).
"""

from __future__ import annotations

import asyncio
import sys

from gov_common.messaging.retention import (
    RetentionRule,
    idempotency_rule,
    outbox_rule,
    prune_once,
)
from gov_common.settings import ServiceSettings
from petitions_api.cases.models import IdempotencyKey
from petitions_api.db import OutboxMessage


def rules(settings: ServiceSettings) -> list[RetentionRule]:
    return [
        outbox_rule(OutboxMessage, settings),
        idempotency_rule(IdempotencyKey, settings),
    ]


def main() -> int:
    from petitions_api.config import get_settings

    settings = get_settings()
    return asyncio.run(
        prune_once(settings.database_url, rules(settings), settings.retention_batch_size)
    )


if __name__ == "__main__":
    sys.exit(main())
