"""Retiring a personal-data key: data under key A, key B added, the re-keying job run
(interrupted midway, then resumed); the check reports nothing under A, and blind-index
lookups (phone search, repeat detection) work before, during and after."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gov_common.security.crypto import new_key
from gov_common.security.rekey import RekeyJob, key_report, under_old_keys
from gov_common.settings import DEV_PII_INDEX_KEY, DEV_PII_KEYS
from gov_common.testing import Infrastructure, TestAuth
from petitions_api.cases.personal_data import Protector
from petitions_api.config import Settings
from petitions_api.db import RekeyProgress
from petitions_api.rekey import TABLES

from .helpers import ACTOR_ID, app_with_reference_data, create, own_database, petition

pytestmark = pytest.mark.integration

KEY_B = new_key()
INDEX_KEY_B = new_key() + new_key()


def _with(settings: Settings, **values: Any) -> Settings:
    return Settings.model_validate({**settings.model_dump(by_alias=True), **values})


def _client(app: FastAPI, auth: TestAuth) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://petitions",
        headers=auth.headers("admin", subject=ACTOR_ID),
    )


async def _found(client: httpx.AsyncClient, phone: str) -> list[str]:
    response = await client.get("/v1/cases", params={"phone": phone})
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


async def _report(app: FastAPI) -> list[Any]:
    protector = Protector.from_settings(app.state.settings)
    async with app.state.sessions() as session:
        return await key_report(session, TABLES, protector.cipher, protector.index)


def _job(app: FastAPI) -> RekeyJob:
    protector = Protector.from_settings(app.state.settings)
    return RekeyJob(
        app.state.sessions,
        RekeyProgress,
        TABLES,
        protector.cipher,
        protector.index,
        batch_size=2,
        rows_per_s=10_000,
    )


async def test_a_key_is_retired_by_the_resumable_job_while_lookups_keep_working(
    infrastructure: Infrastructure, auth: TestAuth
) -> None:
    async with own_database(infrastructure, auth, "rekey") as settings_a:
        phones = [f"139{uuid.uuid4().int % 10**8:08d}" for _ in range(5)]
        people = [{"name": "张三", "phone": p, "address": "印台区城关街道某路1号"} for p in phones]
        async with app_with_reference_data(settings_a) as app_a, _client(app_a, auth) as client:
            cases = [(await create(client, petition(petitioner=p)))["id"] for p in people]
            assert [await _found(client, p) for p in phones] == [[c] for c in cases]
            assert under_old_keys(await _report(app_a)) == []

        # Key B: the data key "b" made active (A, "dev", still in the ring), a new index key
        # "i2" with the old one "i1" still matched.
        settings_b = _with(
            settings_a,
            GOV_PII_KEYS=f"{DEV_PII_KEYS},b:{KEY_B}",
            GOV_PII_ACTIVE_KEY="b",
            GOV_PII_INDEX_KEY=INDEX_KEY_B,
            GOV_PII_INDEX_KEY_ID="i2",
            GOV_PII_PREVIOUS_INDEX_KEYS=f"i1:{DEV_PII_INDEX_KEY}",
        )
        async with app_with_reference_data(settings_b) as app_b, _client(app_b, auth) as client:
            old = under_old_keys(await _report(app_b))
            assert {(c.column, c.key_id, c.rows) for c in old} == {
                ("name_ciphertext", "dev", 5),
                ("phone_ciphertext", "dev", 5),
                ("address_ciphertext", "dev", 5),
                ("phone_index", "i1", 5),
            }
            admin = (await client.get("/v1/audit/personal-data-keys")).json()
            assert (admin["active_key"], admin["index_key_id"]) == ("b", "i2")
            assert admin["under_old_keys"] == 20 and admin["jobs"] == []
            # Before the job: rows indexed under i1 are found, and a repeat is detected.
            assert [await _found(client, p) for p in phones] == [[c] for c in cases]
            again = await create(client, petition(petitioner=people[0]))
            assert again["repeat_of"] == cases[0]
            # (the repeat is a sixth petitioner row, written under b and i2 already)

            # One transaction of two rows, then the job "crashes".
            first = await _job(app_b).run(max_batches=1)
            assert not first.finished and first.rows_read == {"petitioners": 2}
            assert sum(c.rows for c in under_old_keys(await _report(app_b))) > 0
            found = [await _found(client, p) for p in phones]
            assert sorted(found[0]) == sorted([cases[0], again["id"]])
            assert found[1:] == [[c] for c in cases[1:]]

            # A new job resumes after the last committed row: it reads only the other four.
            rest = await _job(app_b).run()
            assert rest.finished and rest.rows_read == {"petitioners": 4}
            assert first.rows_rekeyed["petitioners"] + rest.rows_rekeyed["petitioners"] == 5
            assert under_old_keys(await _report(app_b)) == []
            async with app_b.state.sessions() as session:
                [progress] = (
                    (await session.execute(RekeyProgress.__table__.select())).mappings().all()
                )
            assert progress["target"] == "b/i2" and progress["rows_rekeyed"] == 5
            assert progress["finished_at"] is not None
            admin = (await client.get("/v1/audit/personal-data-keys")).json()
            assert admin["under_old_keys"] == 0
            assert [(j["table"], j["rows_rekeyed"]) for j in admin["jobs"]] == [("petitioners", 5)]

        # Key A retired: neither the old data key nor the old index key is configured.
        settings_c = _with(settings_b, GOV_PII_KEYS=f"b:{KEY_B}", GOV_PII_PREVIOUS_INDEX_KEYS=None)
        async with app_with_reference_data(settings_c) as app_c, _client(app_c, auth) as client:
            found = [await _found(client, p) for p in phones]
            assert sorted(found[0]) == sorted([cases[0], again["id"]])
            assert found[1:] == [[c] for c in cases[1:]]
            for case_id, person in zip(cases, people, strict=True):
                read = await client.get(f"/v1/cases/{case_id}/petitioner")
                assert read.status_code == 200, read.text
                assert read.json() == {**person, "id_number": None, "masked": False}
            assert under_old_keys(await _report(app_c)) == []
