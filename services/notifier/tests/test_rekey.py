"""Retiring a personal-data key in the notifier: recipients' addresses under key A, key B made
active, the re-keying job interrupted and resumed; then nothing is under A and, with A gone
from the keyring, every address still opens."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gov_common.security.crypto import new_key
from gov_common.security.rekey import RekeyJob, key_report, under_old_keys
from gov_common.security.setup import blind_index
from gov_common.settings import DEV_PII_KEYS
from gov_common.testing import TestAuth
from notifier.config import Settings
from notifier.db import RekeyProgress
from notifier.main import create_app
from notifier.rekey import TABLES

pytestmark = pytest.mark.integration

KEY_B = new_key()


def _with(settings: Settings, **values: Any) -> Settings:
    return Settings.model_validate({**settings.model_dump(by_alias=True), **values})


def _client(app: FastAPI, auth: TestAuth) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://notifier",
        headers=auth.headers("admin"),
    )


async def _old(app: FastAPI) -> int:
    async with app.state.sessions() as session:
        counts = await key_report(
            session, TABLES, app.state.cipher, blind_index(app.state.settings)
        )
    return sum(c.rows for c in under_old_keys(counts))


def _job(app: FastAPI) -> RekeyJob:
    return RekeyJob(
        app.state.sessions,
        RekeyProgress,
        TABLES,
        app.state.cipher,
        blind_index(app.state.settings),
        batch_size=2,
        rows_per_s=10_000,
    )


async def test_recipients_addresses_are_re_encrypted_resumably_and_the_old_key_retired(
    client: httpx.AsyncClient, settings: Settings, auth: TestAuth
) -> None:
    ids = {}
    for n in range(3):
        phone, email = f"+86138000022{n:02d}", f"desk{n}@chenlu.example"
        made = await client.post(
            "/v1/recipients",
            json={"kind": "group", "name": f"信访办{n}", "phone": phone, "email": email},
        )
        assert made.status_code == 201, made.text
        ids[made.json()["id"]] = (phone, email)

    app_b = create_app(
        _with(settings, GOV_PII_KEYS=f"{DEV_PII_KEYS},b:{KEY_B}", GOV_PII_ACTIVE_KEY="b")
    )
    try:
        assert await _old(app_b) == 6  # phone and email of three recipients, under "dev"
        first = await _job(app_b).run(max_batches=1)
        assert not first.finished and first.rows_rekeyed["recipients"] == 2
        assert await _old(app_b) == 2
        rest = await _job(app_b).run()  # resumes after the two done
        assert rest.finished and rest.rows_read["recipients"] == 1
        assert await _old(app_b) == 0
    finally:
        await app_b.state.engine.dispose()

    app_c = create_app(_with(settings, GOV_PII_KEYS=f"b:{KEY_B}", GOV_PII_ACTIVE_KEY="b"))
    try:
        async with _client(app_c, auth) as http:
            for recipient_id, (phone, email) in ids.items():
                full = (await http.get(f"/v1/recipients/{recipient_id}")).json()
                assert (full["phone"], full["email"]) == (phone, email)
    finally:
        await app_c.state.engine.dispose()
