"""The issuer's password hashes (issue 16): Argon2id with its parameters in the hash, checked in
a worker thread, old hashes replaced on the next successful sign-in, refusals unchanged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import httpx
import pytest
from fastapi import FastAPI

from gov_common.security import passwords
from gov_common.security.issuer_hashes import MemoryPasswordHashStore, memory_hash_store
from gov_common.security.issuer_routes import Account, token_router
from gov_common.security.issuer_setup import load_accounts
from gov_common.security.passwords import (
    LegacyScryptHasher,
    hash_secret,
    verify_and_update,
    verify_secret,
)
from gov_common.security.principal import Role
from gov_common.security.tokens import SigningKey, TokenIssuer

# The demonstration account "operator" as the suite shipped it before (password operator-demo):
# hashlib.scrypt, N=2^14, r=8, p=1, parameters not stored.
LEGACY_OPERATOR = "scrypt$DYw8UFZsz+dUOjO8UDzrmg==$YsuZwFEf/fTY76sB2YBTjVGB2omloqRXMVDwviTb12A="
# An Argon2id hash made with weaker parameters than today's (m=8 MiB, t=1).
WEAK = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def test_a_new_hash_is_argon2id_carrying_parameters_at_least_owasps_minimum() -> None:
    stored = hash_secret("correct horse")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    parameters = argon2.extract_parameters(stored)
    assert parameters.type is argon2.Type.ID
    # OWASP's minimum for Argon2id: 19 MiB of memory, 2 iterations, parallelism 1.
    assert (parameters.memory_cost, parameters.time_cost) >= (19 * 1024, 2)
    assert parameters.salt_len >= 16 and parameters.hash_len >= 32
    assert hash_secret("correct horse") != stored  # a fresh salt each time
    assert verify_secret("correct horse", stored)
    assert not verify_secret("correct horse!", stored)
    assert not verify_secret("x", "plain-text")
    assert not verify_secret("x", "$argon2id$v=19$m=19456,t=2,p=1$broken")


def test_an_old_scrypt_hash_verifies_once_and_comes_back_as_argon2id() -> None:
    verified = verify_and_update("operator-demo", LEGACY_OPERATOR)
    assert verified.ok
    assert verified.replacement is not None
    assert argon2.extract_parameters(verified.replacement).type is argon2.Type.ID
    assert verify_and_update("operator-demo", verified.replacement) == (True, None)
    assert verify_and_update("operator-demo!", LEGACY_OPERATOR) == (False, None)
    assert verify_and_update("x", "scrypt$not-base64$") == (False, None)


def test_an_argon2_hash_with_outdated_parameters_is_replaced() -> None:
    weak = WEAK.hash("pa55word")
    verified = verify_and_update("pa55word", weak)
    assert verified.ok and verified.replacement is not None
    assert verified.replacement.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_and_update("wrong", weak) == (False, None)


# --- through the token endpoint ------------------------------------------------------------


@pytest.fixture
def store() -> MemoryPasswordHashStore:
    return MemoryPasswordHashStore()


@pytest.fixture
def app(store: MemoryPasswordHashStore) -> FastAPI:
    issuer = TokenIssuer(issuer="http://t", audience="gov-suite", keys=[SigningKey.generate()])
    accounts = [
        Account("operator", LEGACY_OPERATOR, (Role.OPERATOR,), kind="person"),
        Account("weak-client", WEAK.hash("client-secret"), (Role.SYSTEM_CLIENT,)),
        Account("li.hua", hash_secret("pa55word"), (Role.HANDLER,), "610203101", kind="person"),
    ]
    application = FastAPI()
    application.include_router(
        token_router(issuer, accounts, ttl_s=900, hash_store=memory_hash_store(store))
    )
    return application


async def _post(app: FastAPI, data: dict[str, str], **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        return await c.post("/oauth/token", data=data, **kwargs)


def _sign_in(user: str, password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": user, "password": password}


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    original = LegacyScryptHasher.verify

    def spy(self: LegacyScryptHasher, password: str | bytes, hash: str | bytes) -> bool:
        calls.append(str(hash))
        return original(self, password, hash)

    monkeypatch.setattr(LegacyScryptHasher, "verify", spy)
    yield calls


async def test_an_old_scrypt_hash_signs_in_and_is_replaced_by_argon2id(
    app: FastAPI, store: MemoryPasswordHashStore, scrypt_calls: list[str]
) -> None:
    first = await _post(app, _sign_in("operator", "operator-demo"))
    assert first.status_code == 200, first.text
    assert scrypt_calls == [LEGACY_OPERATOR]
    _, replacement = store.replaced[("person", "operator")]
    assert replacement.startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    again = await _post(app, _sign_in("operator", "operator-demo"))
    assert again.status_code == 200, again.text
    assert scrypt_calls == [LEGACY_OPERATOR]  # checked against the Argon2id hash this time
    assert store.replaced[("person", "operator")][1] == replacement  # not rehashed again
    wrong = await _post(app, _sign_in("operator", "operator-demo!"))
    assert wrong.status_code == 400


async def test_a_hash_with_outdated_parameters_is_replaced_on_sign_in(
    app: FastAPI, store: MemoryPasswordHashStore
) -> None:
    response = await _post(
        app, {"grant_type": "client_credentials"}, auth=("weak-client", "client-secret")
    )
    assert response.status_code == 200, response.text
    _, replacement = store.replaced[("client", "weak-client")]
    assert argon2.extract_parameters(replacement) == argon2.extract_parameters(hash_secret("x"))


async def test_a_current_hash_is_not_rewritten(
    app: FastAPI, store: MemoryPasswordHashStore
) -> None:
    assert (await _post(app, _sign_in("li.hua", "pa55word"))).status_code == 200
    assert store.replaced == {}


async def test_a_failed_sign_in_replaces_nothing(
    app: FastAPI, store: MemoryPasswordHashStore
) -> None:
    assert (await _post(app, _sign_in("operator", "guess"))).status_code == 400
    assert store.replaced == {}


async def test_hashes_are_verified_in_a_worker_thread_not_on_the_event_loop(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()  # the test runs on the event loop's thread
    threads: list[int] = []
    original = passwords._HASHING.verify_and_update

    def spy(password: str | bytes, hash: str | bytes) -> tuple[bool, str | None]:
        threads.append(threading.get_ident())
        return original(password, hash)

    monkeypatch.setattr(passwords._HASHING, "verify_and_update", spy)
    assert (await _post(app, _sign_in("li.hua", "pa55word"))).status_code == 200
    assert (await _post(app, _sign_in("li.hua", "wrong"))).status_code == 400
    assert (await _post(app, _sign_in("nobody", "x"))).status_code == 400  # the dummy hash
    assert len(threads) == 3
    assert loop_thread not in threads


@pytest.mark.parametrize(
    ("data", "auth", "status", "body"),
    [
        (
            _sign_in("li.hua", "wrong"),
            None,
            400,
            {"error": "invalid_grant", "error_description": "unknown user or wrong password"},
        ),
        (
            _sign_in("operator", "wrong"),  # against the old scrypt hash
            None,
            400,
            {"error": "invalid_grant", "error_description": "unknown user or wrong password"},
        ),
        (
            _sign_in("nobody", "x"),
            None,
            400,
            {"error": "invalid_grant", "error_description": "unknown user or wrong password"},
        ),
        (
            {"grant_type": "client_credentials"},
            ("weak-client", "wrong"),
            401,
            {"error": "invalid_client", "error_description": "unknown client or wrong secret"},
        ),
    ],
)
async def test_a_wrong_secret_gets_the_same_refusal_as_before(
    app: FastAPI,
    data: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    body: dict[str, str],
) -> None:
    response = await _post(app, data, auth=auth)
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"] == 'Basic realm="gov-suite"'


def test_the_accounts_file_takes_argon2id_and_old_scrypt_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    for stored, accepted in [
        (hash_secret("x"), True),
        (LEGACY_OPERATOR, True),
        (argon2.PasswordHasher(type=argon2.Type.I).hash("x"), False),
        ("plain-text", False),
    ]:
        entry = f"{{id: op, kind: person, roles: [operator], secret_hash: '{stored}'}}"
        path.write_text(f"accounts:\n  - {entry}\n", encoding="utf-8")
        if accepted:
            assert load_accounts(path, development=False)[0].secret_hash == stored
        else:
            with pytest.raises(ValueError, match="secret_hash"):
                load_accounts(path, development=False)


def test_the_demonstration_accounts_are_argon2id() -> None:
    demo = Path(__file__).resolve().parents[3] / "deploy" / "local" / "demo-accounts.yaml"
    accounts = load_accounts(demo, development=True)
    assert accounts
    for account in accounts:
        assert argon2.extract_parameters(account.secret_hash) == argon2.extract_parameters(
            hash_secret("x")
        ), account.id
        assert verify_and_update(f"{account.id}-demo", account.secret_hash) == (True, None)
