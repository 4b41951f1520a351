"""``python -m petitions_api.reference load``: upsert org units and categories from the files
named by PETITIONS_ORG_UNITS_FILE / PETITIONS_CATEGORIES_FILE into PETITIONS_DATABASE_URL."""

from __future__ import annotations

import asyncio
import sys

from gov_common.db import create_engine, create_session_factory, unit_of_work
from petitions_api.config import Settings
from petitions_api.reference.service import load_reference_data


async def _load() -> None:
    settings = Settings()
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            report = await load_reference_data(session, settings)
    finally:
        await engine.dispose()
    print(
        f"loaded org units {report.org_units_version} ({report.units}) and "
        f"categories {report.categories_version} ({report.categories})"
    )


def main(argv: list[str]) -> int:
    if argv != ["load"]:
        print("usage: python -m petitions_api.reference load", file=sys.stderr)
        return 2
    asyncio.run(_load())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
