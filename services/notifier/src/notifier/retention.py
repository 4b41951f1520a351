"""Retention of the notifier's outbox, inbox and idempotency keys:
the rules (gov_common.messaging.retention), and a pass run once.

    python -m notifier.retention        delete what is past its retention, in batches

The background pruner runs the same rules every GOV_RETENTION_INTERVAL_S (main.py).
"""

from __future__ import annotations

import asyncio
import sys

from gov_common.messaging.retention import (
    RetentionRule,
    idempotency_rule,
    inbox_rule,
    outbox_rule,
    prune_once,
)
from gov_common.settings import ServiceSettings
from notifier.db import IdempotencyKey, InboxMessage, OutboxMessage


def rules(settings: ServiceSettings) -> list[RetentionRule]:
    return [
        outbox_rule(OutboxMessage, settings),
        inbox_rule(InboxMessage, settings),
        idempotency_rule(IdempotencyKey, settings),
    ]


def main() -> int:
    from notifier.config import get_settings

    settings = get_settings()
    return asyncio.run(
        prune_once(settings.database_url, rules(settings), settings.retention_batch_size)
    )


if __name__ == "__main__":
    sys.exit(main())
