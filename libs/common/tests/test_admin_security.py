"""API keys end to end (create, authenticate, revoke) and the append-only access log."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gov_common.db import unit_of_work
from gov_common.problems import install_problem_handlers
from gov_common.security.admin_routes import access_log_router, api_key_router
from gov_common.security.api_keys import principal_for_api_key
from gov_common.security.audit import record_personal_data_access
from gov_common.security.principal import Principal, Role

from .conftest import AccessLogRow, ApiKeyRow, CommonDb

pytestmark = pytest.mark.integration


def _app(db: CommonDb) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.sessions = db.sessions
    app.include_router(api_key_router(ApiKeyRow))
    app.include_router(access_log_router(AccessLogRow))
    return app


async def test_an_api_key_works_until_revoked_and_only_its_hash_is_stored(
    common_db: CommonDb,
) -> None:
    transport = httpx.ASGITransport(_app(common_db))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        created = await client.post(
            "/v1/api-keys",
            json={"name": "市12345平台", "roles": ["system_client"], "org_unit": "610203"},
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        key_id = created.json()["id"]

        async with common_db.sessions() as session:
            principal = await principal_for_api_key(session, ApiKeyRow, key)
            stored = (
                await session.execute(
                    text("SELECT secret_sha256 FROM api_keys WHERE id = :i"), {"i": key_id}
                )
            ).scalar_one()
            tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
            assert await principal_for_api_key(session, ApiKeyRow, tampered) is None
            assert await principal_for_api_key(session, ApiKeyRow, "gk_nonsense") is None
        assert principal is not None and principal.roles == {Role.SYSTEM_CLIENT}
        assert principal.org_unit == "610203"
        assert key.split("_")[2] not in stored

        listed = (await client.get("/v1/api-keys")).json()
        assert all("key" not in k for k in listed)
        assert (await client.delete(f"/v1/api-keys/{key_id}")).json()["revoked_at"] is not None
        assert (await client.delete("/v1/api-keys/0000000000000000")).status_code == 404
        bad = await client.post("/v1/api-keys", json={"name": "x", "roles": ["emperor"]})
        assert bad.status_code == 422
    async with common_db.sessions() as session:
        assert await principal_for_api_key(session, ApiKeyRow, key) is None


async def test_personal_data_reads_are_logged_append_only_and_queryable(
    common_db: CommonDb,
) -> None:
    reader = Principal(subject="operator-7", roles=frozenset({Role.OPERATOR}))
    for case in ("case-1", "case-2"):
        async with unit_of_work(common_db.sessions) as session:
            await record_personal_data_access(
                session,
                AccessLogRow,
                reader,
                resource_type="case",
                resource_id=case,
                fields=["phone"],
            )
    transport = httpx.ASGITransport(_app(common_db))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = (
            await client.get(
                "/v1/audit/personal-data-access", params={"actor": "operator-7", "limit": 1}
            )
        ).json()
        assert [e["resource_id"] for e in page["items"]] == ["case-2"]
        second = (
            await client.get(
                "/v1/audit/personal-data-access",
                params={"actor": "operator-7", "limit": 1, "cursor": page["next_cursor"]},
            )
        ).json()
        assert [e["resource_id"] for e in second["items"]] == ["case-1"]

    with pytest.raises(DBAPIError, match="append-only"):
        async with unit_of_work(common_db.sessions) as session:
            await session.execute(
                text("UPDATE personal_data_access_log SET actor = 'someone else'")
            )
    with pytest.raises(DBAPIError, match="append-only"):
        async with unit_of_work(common_db.sessions) as session:
            await session.execute(text("DELETE FROM personal_data_access_log"))


@pytest.mark.parametrize(
    "cursor",
    ["WyJub3QtYW4taW50Il0", "bm90LWpzb24", "W1tdXQ", "%%%"],  # ["not-an-int"], not-json, [[]]
)
async def test_a_forged_access_log_cursor_is_a_400_problem(
    common_db: CommonDb, cursor: str
) -> None:
    transport = httpx.ASGITransport(_app(common_db))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/v1/audit/personal-data-access", params={"cursor": cursor})
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("invalid-cursor")
