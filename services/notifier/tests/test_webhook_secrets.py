"""Each recipient's webhook signs with its own secret (Standard Webhooks), which is shown once,
rotates with an overlap during which both secrets sign, and never appears in a read or a log."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from structlog.testing import CapturingLogger

from gov_common.db import unit_of_work
from gov_common.security.setup import field_cipher
from gov_common.signing import check_secret, generate_secret
from gov_common.testing import (
    REPO_ROOT,
    Infrastructure,
    create_database,
    drop_database,
)
from gov_common.testing import TestAuth as Auth
from notifier.config import Settings
from notifier.deliveries import dispatcher as dispatcher_module
from notifier.deliveries.dispatcher import DeliveryDispatcher
from notifier.deliveries.models import DeliveryStatus
from notifier.recipients.models import Recipient
from notifier.recipients.webhook_secrets import signing_secrets

from .conftest import BUILTIN_WEBHOOK_SECRET, Receiver, running
from .test_deliveries import _dispatch_until_final, _plan, _setup, overdue_event

ALEMBIC_INI = "services/notifier/alembic.ini"


def _verifies(secret: str, request: dict[str, Any]) -> bool:
    """What a receiver does, with the stock library: verify the raw body and the headers."""
    try:
        Webhook(secret).verify(request["body"], request["headers"])
    except WebhookVerificationError:
        return False
    return True


async def _deliver_one_event(app: FastAPI, settings: Settings) -> list[Any]:
    event = overdue_event()
    assert await _plan(app, settings, event) == 2
    async with httpx.AsyncClient() as http:
        dispatcher = DeliveryDispatcher(
            session_factory=app.state.sessions,
            settings=settings,
            http=http,
            cipher=app.state.cipher,
        )
        rows = await _dispatch_until_final(dispatcher, app, event)
    assert {d.status for d in rows} == {DeliveryStatus.SUCCEEDED}, [d.last_error for d in rows]
    return rows


async def test_each_webhook_has_its_own_secret_and_no_receiver_can_forge_for_another(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        setup = await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        unit_secret = setup["desk"]["webhook_secret"]
        boss_secret = setup["boss"]["webhook_secret"]
        assert unit_secret.startswith("whsec_") and boss_secret.startswith("whsec_")
        assert len({unit_secret, boss_secret, BUILTIN_WEBHOOK_SECRET}) == 3
        rows = await _deliver_one_event(app, settings)

    [to_unit], [to_boss] = unit.accepted(), boss.accepted()
    # The stock Standard Webhooks verifier accepts each message with its endpoint's secret…
    assert _verifies(unit_secret, to_unit) and _verifies(boss_secret, to_boss)
    # …and refuses it with any other: one receiver's secret cannot sign for another.
    assert not _verifies(boss_secret, to_unit) and not _verifies(unit_secret, to_boss)
    assert not _verifies(BUILTIN_WEBHOOK_SECRET, to_unit)
    assert to_unit["headers"]["webhook-signature"] != to_boss["headers"]["webhook-signature"]
    # webhook-id is the delivery id: what a receiver deduplicates retries by.
    delivery_ids = {str(d.id) for d in rows}
    assert {to_unit["headers"]["webhook-id"], to_boss["headers"]["webhook-id"]} == delivery_ids
    assert to_unit["headers"]["webhook-signature"].startswith("v1,")


async def test_during_the_overlap_both_secrets_verify_and_after_it_only_the_new(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        setup = await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        desk_id, old = setup["desk"]["id"], setup["desk"]["webhook_secret"]
        etag = (await client.get(f"/v1/recipients/{desk_id}")).headers["ETag"]

        rotated = await client.post(
            f"/v1/recipients/{desk_id}/webhook-secret/rotate", headers={"If-Match": etag}
        )
        assert rotated.status_code == 200, rotated.text
        assert rotated.headers["Cache-Control"] == "no-store"
        new = rotated.json()["webhook_secret"]
        assert new.startswith("whsec_") and new != old
        expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
        overlap = timedelta(seconds=settings.webhook_secret_overlap_s)
        assert overlap == timedelta(hours=24)  # the documented default
        assert datetime.now(UTC) + overlap - timedelta(minutes=5) < expires
        assert expires <= datetime.now(UTC) + overlap
        read = (await client.get(f"/v1/recipients/{desk_id}")).json()
        assert read["webhook_previous_secret_expires_at"] is not None
        assert read["version"] == rotated.json()["version"] == setup["desk"]["version"] + 1

        # During the overlap the message carries both signatures: either secret verifies.
        await _deliver_one_event(app, settings)
        [during] = unit.accepted()
        assert len(during["headers"]["webhook-signature"].split(" ")) == 2
        assert _verifies(new, during) and _verifies(old, during)

        # The overlap ends: only the new secret signs.
        async with unit_of_work(app.state.sessions) as session:
            await session.execute(
                update(Recipient)
                .where(Recipient.id == desk_id)
                .values(webhook_previous_secret_expires_at=datetime.now(UTC) - timedelta(1))
            )
        await _deliver_one_event(app, settings)
        after = unit.accepted()[1]
        assert len(after["headers"]["webhook-signature"].split(" ")) == 1
        assert _verifies(new, after) and not _verifies(old, after)
        # The other recipient's webhook was not touched by this rotation.
        assert all(len(r["headers"]["webhook-signature"].split(" ")) == 1 for r in boss.requests)


async def test_previous_secret_signs_until_its_expiry_only(app: FastAPI) -> None:
    cipher = app.state.cipher
    rid = "0e1f7f39-52a4-4d8e-9d56-0a7b6f7c1a01"
    current = cipher.encrypt("whsec_new", context=f"recipients/{rid}/webhook_secret")
    previous = cipher.encrypt("whsec_old", context=f"recipients/{rid}/webhook_previous_secret")
    until = datetime(2027, 1, 2, 8, 0, tzinfo=UTC)
    before, after = until - timedelta(seconds=1), until
    common = {"current": current, "previous": previous, "previous_expires_at": until}
    assert signing_secrets(cipher, rid, **common, now=before) == ("whsec_new", "whsec_old")
    assert signing_secrets(cipher, rid, **common, now=after) == ("whsec_new",)


async def test_rotation_needs_if_match_an_admin_and_a_webhook(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, auth: Auth
) -> None:
    hooked = await client.post(
        "/v1/recipients",
        json={"kind": "group", "name": "区信访局", "webhook_url": "https://xfj.example/h"},
    )
    plain = await client.post("/v1/recipients", json={"kind": "group", "name": "区督查室"})
    assert plain.json()["webhook_secret"] is None and not plain.json()["has_webhook_secret"]
    hooked_id, plain_id = hooked.json()["id"], plain.json()["id"]
    url = f"/v1/recipients/{hooked_id}/webhook-secret/rotate"

    assert (await client.post(url)).status_code == 428
    assert (await client.post(url, headers={"If-Match": '"7"'})).status_code == 412
    supervisor = auth.headers("supervisor")
    refused = await anonymous.post(url, headers={**supervisor, "If-Match": '"1"'})
    assert refused.status_code == 403
    no_hook = await client.post(
        f"/v1/recipients/{plain_id}/webhook-secret/rotate", headers={"If-Match": '"1"'}
    )
    assert no_hook.status_code == 409 and "webhook_url" in no_hook.json()["detail"]
    # Nothing changed by the refusals.
    assert (await client.get(f"/v1/recipients/{hooked_id}")).json()["version"] == 1


async def test_adding_a_webhook_issues_a_secret_and_removing_it_drops_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body: dict[str, Any] = {"kind": "group", "name": "区信访局"}
    created = (await client.post("/v1/recipients", json=body)).json()
    rid = created["id"]
    added = await client.put(
        f"/v1/recipients/{rid}",
        json={**body, "webhook_url": "https://xfj.example/h"},
        headers={"If-Match": '"1"'},
    )
    secret = added.json()["webhook_secret"]
    assert secret.startswith("whsec_") and added.headers["Cache-Control"] == "no-store"
    kept = await client.put(
        f"/v1/recipients/{rid}",
        json={**body, "webhook_url": "https://xfj.example/other"},
        headers={"If-Match": '"2"'},
    )
    assert kept.json()["webhook_secret"] is None and kept.json()["has_webhook_secret"]
    removed = await client.put(f"/v1/recipients/{rid}", json=body, headers={"If-Match": '"3"'})
    assert not removed.json()["has_webhook_secret"]
    async with app.state.sessions() as session:
        row = await session.scalar(select(Recipient).where(Recipient.id == rid))
    assert row is not None and row.webhook_secret is None


async def test_the_secret_never_appears_in_reads_logs_or_the_database(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    settings: Settings,
    auth: Auth,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logged = CapturingLogger()
    monkeypatch.setattr(dispatcher_module, "log", logged)
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as captured:
        async with running(Receiver()) as unit, running(Receiver()) as boss:
            setup = await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
            desk_id = setup["desk"]["id"]
            first = setup["desk"]["webhook_secret"]
            rotated = await client.post(
                f"/v1/recipients/{desk_id}/webhook-secret/rotate", headers={"If-Match": '"1"'}
            )
            second = rotated.json()["webhook_secret"]
            await _deliver_one_event(app, settings)
            reads = [
                await client.get(f"/v1/recipients/{desk_id}"),
                await client.get("/v1/recipients"),
                await anonymous.get("/v1/recipients", headers=auth.headers("supervisor")),
                await client.get("/v1/deliveries"),
            ]
            replaced = await client.put(
                f"/v1/recipients/{desk_id}",
                json={
                    "kind": "group",
                    "name": "陈炉镇信访办",
                    "org_unit_id": "610203100",
                    "roles": ["handler"],
                    "webhook_url": unit.url,
                },
                headers={"If-Match": '"2"'},
            )
    assert all(r.status_code == 200 for r in reads) and replaced.status_code == 200
    shown = "".join(r.text for r in reads) + replaced.text
    logs = repr(logged.calls) + repr(captured) + caplog.text
    assert "delivery.attempted" in logs
    for secret in (first, second, setup["boss"]["webhook_secret"]):
        key = secret.removeprefix("whsec_")
        assert key not in shown, "a read returned a webhook secret"
        assert key not in logs, "a log line holds a webhook secret"
    assert reads[0].json()["has_webhook_secret"] is True
    assert "webhook_secret" not in reads[0].json()
    async with app.state.sessions() as session:
        row = await session.scalar(select(Recipient).where(Recipient.id == desk_id))
    assert row is not None and row.webhook_secret is not None
    assert row.webhook_secret.startswith("v1.") and second not in row.webhook_secret


async def test_a_webhook_whose_secret_cannot_be_read_is_not_sent(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        setup = await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        async with unit_of_work(app.state.sessions) as session:
            # A ciphertext of another recipient's secret, copied over: bound to its row, it
            # does not decrypt here.
            other = await session.scalar(
                select(Recipient.webhook_secret).where(Recipient.id == setup["boss"]["id"])
            )
            await session.execute(
                update(Recipient)
                .where(Recipient.id == setup["desk"]["id"])
                .values(webhook_secret=other)
            )
        event = overdue_event()
        assert await _plan(app, settings, event) == 2
        async with httpx.AsyncClient() as http:
            dispatcher = DeliveryDispatcher(
                session_factory=app.state.sessions,
                settings=settings,
                http=http,
                cipher=app.state.cipher,
            )
            rows = await _dispatch_until_final(dispatcher, app, event)
    by_address = {d.recipient: d for d in rows}
    failed = by_address[unit.url]
    assert failed.status is DeliveryStatus.FAILED and "signing secret" in (failed.last_error or "")
    assert unit.requests == []  # never sent unsigned, nor under the other's secret
    assert by_address[boss.url].status is DeliveryStatus.SUCCEEDED


def test_the_builtin_webhook_secret_must_be_a_standard_webhooks_secret(
    settings: Settings,
) -> None:
    env = settings.model_dump(by_alias=True, exclude={"webhook_secret"})
    with pytest.raises(ValueError, match="whsec_"):
        Settings.model_validate({**env, "NOTIFIER_WEBHOOK_SECRET": "dev-only-change-me"})
    two = f"{BUILTIN_WEBHOOK_SECRET} {generate_secret()}"
    both = Settings.model_validate({**env, "NOTIFIER_WEBHOOK_SECRET": two})
    assert len(both.builtin_webhook_secrets()) == 2


def _alembic(url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO_ROOT / ALEMBIC_INI), *args],
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, "NOTIFIER_DATABASE_URL": url},
    )


async def test_the_migration_gives_existing_webhooks_a_secret_of_their_own(
    infrastructure: Infrastructure, test_databases: dict[str, str], settings: Settings
) -> None:
    base = make_url(test_databases["notifier"])
    name = f"{base.database}_whmig"
    admin = infrastructure.admin_url("notifier")
    await create_database(admin, name)
    url = str(base.set(database=name))
    try:
        await asyncio.to_thread(_alembic, url, "upgrade", "0005")
        cipher = field_cipher(settings)
        ids = [uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                hooks = ["https://a.example/h", "https://b.example/h", None]
                for rid, hook in zip(ids, hooks, strict=True):
                    sealed = (
                        cipher.encrypt(hook, context=f"recipients/{rid}/webhook_url")
                        if hook
                        else None
                    )
                    await connection.execute(
                        text(
                            "INSERT INTO recipients (id, kind, name, roles, channels, version, "
                            "webhook_url) VALUES (:id, 'group', :name, '{}', '{}', 1, :hook)"
                        ),
                        {"id": rid, "name": f"r-{rid.hex[:6]}", "hook": sealed},
                    )
            await asyncio.to_thread(_alembic, url, "upgrade", "head")
            async with engine.connect() as connection:
                rows = dict(
                    (
                        await connection.execute(text("SELECT id, webhook_secret FROM recipients"))
                    ).all()
                )
        finally:
            await engine.dispose()
    finally:
        await drop_database(admin, name)
    secrets = [
        cipher.decrypt(rows[rid], context=f"recipients/{rid}/webhook_secret") for rid in ids[:2]
    ]
    assert all(check_secret(s) for s in secrets) and secrets[0] != secrets[1]
    assert rows[ids[2]] is None  # no webhook, no secret
