"""Petitioners' personal data: encrypted at rest, found by blind index, masked unless the
caller may read it, every unmasked read audited, never logged; and the migration that seals
rows written before encryption."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gov_common.security.crypto import DecryptionError
from gov_common.testing import (
    REPO_ROOT,
    Infrastructure,
    create_database,
    drop_database,
)
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.cases.personal_data import PersonalData, Protector, mask_address
from petitions_api.config import Settings
from petitions_api.main import create_app

from .helpers import act, create, petition

pytestmark = pytest.mark.integration

CHENGGUAN, HONGTU = "610203001", "610203101"


def _person() -> dict[str, str]:
    """Values of this test's own, so that finding them anywhere means this test put them there."""
    n = uuid.uuid4().int
    body = f"610203{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return {
        "name": "欧阳" + "娜婷雯"[n % 3] + "娜",
        "phone": f"139{n % 10**8:08d}",
        "id_number": body + check,
        "address": "城关街道幸福小区7号楼301室",
    }


# --- pure rules --------------------------------------------------------------------------


def test_masks_keep_what_a_call_back_needs() -> None:
    names = ["印台区", "城关街道", "城关街道示例一社区"]
    assert mask_address("印台区城关街道示例一社区5号楼", names) == "印台区城关街道示例一社区****"
    assert mask_address("城关街道某小区3号楼", names) == "城关街道****"
    assert mask_address("西安市雁塔区某路", names) == "****"
    assert mask_address("城关街道", names) == "城关街道"


def test_ciphertexts_are_bound_to_their_row_and_field(settings: Settings) -> None:
    protector = Protector.from_settings(settings)
    one, other = uuid.uuid4(), uuid.uuid4()
    sealed = protector.seal(one, PersonalData("张三", "13800000000", None, None))
    assert "张三" not in sealed.name_ciphertext and sealed.phone_ciphertext
    opened = protector.open(
        one,
        name_ciphertext=sealed.name_ciphertext,
        phone_ciphertext=sealed.phone_ciphertext,
        id_number_ciphertext=None,
        address_ciphertext=None,
    )
    assert opened == PersonalData("张三", "13800000000")
    with pytest.raises(DecryptionError):  # copied to another row
        protector.open(
            other,
            name_ciphertext=sealed.name_ciphertext,
            phone_ciphertext=None,
            id_number_ciphertext=None,
            address_ciphertext=None,
        )
    with pytest.raises(DecryptionError):  # moved to another field
        protector.open(
            one,
            name_ciphertext=sealed.phone_ciphertext,
            phone_ciphertext=None,
            id_number_ciphertext=None,
            address_ciphertext=None,
        )
    # One person, however the phone is written, has one blind index.
    assert protector.phone_index("+86 138-0000-0000") == sealed.phone_index
    assert protector.phone_index("13800000001") != sealed.phone_index


# --- through the API ---------------------------------------------------------------------


async def _raw_row(
    app_sessions: async_sessionmaker[AsyncSession], case_id: str
) -> dict[str, object]:
    async with app_sessions() as session:
        row = (
            await session.execute(
                text("SELECT * FROM petitioners WHERE case_id = :id"), {"id": uuid.UUID(case_id)}
            )
        ).one()
    return dict(row._mapping)


async def test_the_database_holds_no_plaintext_and_finds_repeats_by_blind_index(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    person = _person()
    case = await create(client, petition(petitioner=person))
    row = await _raw_row(app.state.sessions, case["id"])
    stored = " ".join(str(v) for v in row.values())
    for value in person.values():
        assert value not in stored
    assert person["phone"][-4:] not in stored.replace(case["id"], "")
    protector = Protector.from_settings(settings)
    assert row["phone_index"] == protector.phone_index(person["phone"])
    assert row["id_number_index"] == protector.id_number_index(person["id_number"])

    # The same person (by ID number only this time) on the same matter: a repeat.
    again = await create(
        client, petition(petitioner={"name": "欧阳某", "id_number": person["id_number"].lower()})
    )
    assert again["repeat_of"] == case["id"] and again["first_time"] is False


async def test_readers_see_it_in_full_and_every_read_is_audited(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, auth: SessionAuth
) -> None:
    person = _person()
    case = await create(client, petition(petitioner=person))
    path = f"/v1/cases/{case['id']}/petitioner"
    reader = auth.headers("handler", org_unit=CHENGGUAN, subject="handler@chengguan")
    read = await bare.get(path, headers=reader)
    assert read.status_code == 200
    assert read.json() == {**person, "masked": False}

    log = await client.get("/v1/audit/personal-data-access", params={"resource_id": case["id"]})
    [entry] = log.json()["items"]
    assert entry["actor"] == "handler@chengguan" and entry["roles"] == ["handler"]
    assert entry["resource_type"] == "petitioner" and entry["action"] == "read"
    assert entry["fields"] == ["name", "phone", "id_number", "address"]
    assert entry["request_id"]

    # Out of scope: no data, no existence, no audit entry.
    outsider = auth.headers("handler", org_unit=HONGTU, subject="handler@hongtu")
    assert (await bare.get(path, headers=outsider)).status_code == 404
    log = await client.get("/v1/audit/personal-data-access", params={"resource_id": case["id"]})
    assert len(log.json()["items"]) == 1


async def test_a_system_client_sees_the_petitioner_masked_and_unaudited(
    client: httpx.AsyncClient, bare: httpx.AsyncClient
) -> None:
    person = _person()
    case = await create(client, petition(petitioner=person))
    key = (await client.post("/v1/api-keys", json={"name": "x", "roles": ["system_client"]})).json()
    masked = await bare.get(f"/v1/cases/{case['id']}/petitioner", headers={"X-API-Key": key["key"]})
    assert masked.status_code == 200
    assert masked.json() == {
        "name": "欧***",
        "phone": person["phone"][:3] + "****" + person["phone"][-4:],
        "id_number": person["id_number"][:6] + "********" + person["id_number"][-4:],
        "address": "城关街道****",
        "masked": True,
    }
    log = await client.get("/v1/audit/personal-data-access", params={"resource_id": case["id"]})
    assert log.json()["items"] == []


async def test_the_access_log_is_append_only(client: httpx.AsyncClient, app: FastAPI) -> None:
    case = await create(client, petition())
    await client.get(f"/v1/cases/{case['id']}/petitioner")
    for statement in (
        "UPDATE personal_data_access_log SET actor = 'someone-else'",
        "DELETE FROM personal_data_access_log",
    ):
        async with app.state.sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))


async def test_a_review_case_carries_the_petitioner_resealed(client: httpx.AsyncClient) -> None:
    person = _person()
    case = await create(client, petition(petitioner=person))
    for step in ("dispatch", "accept", "reply"):
        assert (await act(client, case["id"], step)).status_code == 200, step
    response = await act(client, case["id"], "request_review")
    review_id = response.headers["location"].rsplit("/", 1)[1]
    read = (await client.get(f"/v1/cases/{review_id}/petitioner")).json()
    assert read == {**person, "masked": False}


async def test_personal_data_is_never_logged(
    client: httpx.AsyncClient, capfd: pytest.CaptureFixture[str]
) -> None:
    person = _person()
    case = await create(client, petition(petitioner=person))
    await client.get(f"/v1/cases/{case['id']}/petitioner")
    refused = await client.post("/v1/cases", json=petition(petitioner={**person, "phone": "x"}))
    assert refused.status_code == 422 and person["name"] not in refused.text
    for step in ("dispatch", "accept"):
        assert (await act(client, case["id"], step)).status_code == 200, step
    out, err = capfd.readouterr()
    assert "http.request" in out  # the service's logs were captured
    for value in person.values():
        assert value not in out + err


# --- the migration that seals existing rows ----------------------------------------------


def _alembic(url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "services/petitions-api/alembic.ini", *args],
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PETITIONS_DATABASE_URL": url},
    )


@pytest.fixture
async def database_at_0003(infrastructure: Infrastructure) -> AsyncIterator[str]:
    name = f"petitions_m{uuid.uuid4().hex[:8]}"
    admin = infrastructure.admin_url("petitions")
    await create_database(admin, name)
    url = str(make_url(infrastructure.database_urls["petitions"]).set(database=name))
    try:
        await asyncio.to_thread(_alembic, url, "upgrade", "0003")
        yield url
    finally:
        await drop_database(admin, name)


async def test_the_migration_seals_rows_written_in_plaintext(
    database_at_0003: str, settings: Settings, auth: SessionAuth
) -> None:
    import asyncpg

    person = _person()
    case_id = uuid.uuid4()
    connection = await asyncpg.connect(database_at_0003.replace("+asyncpg", ""))
    try:
        await connection.execute(
            """INSERT INTO cases (id, case_number, kind, channel, subject, description,
                 received_on, status, version, urgent, group_size, attachments, first_time,
                 repeat_confirmed, review_stage, review_requested, final, extended)
               VALUES ($1, 'XF2026-00000001', 'petition_case', 'letter', '供暖', '室温低',
                 CURRENT_DATE, 'registered', 1, false, 1, '[]', true, false, 'original',
                 false, false, false)""",
            case_id,
        )
        await connection.execute(
            """INSERT INTO petitioners (case_id, name, phone, id_number, address, phone_key,
                 id_number_key) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            case_id,
            person["name"],
            person["phone"],
            person["id_number"],
            person["address"],
            person["phone"],
            person["id_number"],
        )
    finally:
        await connection.close()

    await asyncio.to_thread(_alembic, database_at_0003, "upgrade", "head")

    migrated = settings.model_copy(
        update={"database_url": database_at_0003, "load_reference_data": False}
    )
    app = create_app(migrated)
    try:
        row = await _raw_row(app.state.sessions, str(case_id))
        assert set(row) == {
            "case_id",
            "name_ciphertext",
            "phone_ciphertext",
            "id_number_ciphertext",
            "address_ciphertext",
            "phone_index",
            "id_number_index",
            "index_key_id",  # NULL here: the re-keying job names it (test_rekey)
        }
        stored = " ".join(str(v) for v in row.values())
        assert all(value not in stored for value in person.values())
        assert row["phone_index"] == Protector.from_settings(migrated).phone_index(person["phone"])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app),
            base_url="http://petitions",
            headers=auth.headers("admin"),
        ) as http:
            read = await http.get(f"/v1/cases/{case_id}/petitioner")
        assert read.json() == {**person, "masked": False}
    finally:
        await app.state.engine.dispose()
