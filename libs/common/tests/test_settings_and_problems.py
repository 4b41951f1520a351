"""Settings that refuse to be unsafe; RFC 9457 problem responses; backoff."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field, SecretStr, ValidationError

from gov_common.messaging.kafka import backoff_delay
from gov_common.problems import PROBLEM_JSON, NotFoundError, install_problem_handlers
from gov_common.security.crypto import new_key
from gov_common.settings import ServiceSettings


class _Settings(ServiceSettings):
    token: SecretStr = SecretStr("dev-only-change-me")
    webhook_secret: SecretStr = Field(
        default=SecretStr("dev-only-change-me"), alias="NOTIFIER_WEBHOOK_SECRET"
    )


SECRET_VARIABLES = ("GOV_PII_KEYS", "GOV_PII_INDEX_KEY", "TOKEN", "NOTIFIER_WEBHOOK_SECRET")


def test_production_without_its_secrets_refuses_to_start_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What an image (GOV_ENVIRONMENT=production) started without configuration does."""
    for variable in SECRET_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("GOV_ENVIRONMENT", "production")
    with pytest.raises(ValidationError) as refused:
        _Settings()
    assert (
        "refusing to start in production (GOV_ENVIRONMENT): set GOV_PII_INDEX_KEY, "
        "GOV_PII_KEYS, NOTIFIER_WEBHOOK_SECRET, TOKEN (unset or a development placeholder"
    ) in str(refused.value)
    # One real value is not enough: the message names what is still missing.
    monkeypatch.setenv("GOV_PII_KEYS", f"2026:{new_key()}")
    with pytest.raises(ValidationError, match=r"set GOV_PII_INDEX_KEY, NOTIFIER_WEBHOOK_SECRET"):
        _Settings()


def test_placeholder_secret_is_fine_in_development_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOV_ENVIRONMENT", "development")
    assert _Settings().token.get_secret_value() == "dev-only-change-me"
    monkeypatch.setenv("GOV_ENVIRONMENT", "production")
    monkeypatch.setenv("GOV_PII_KEYS", "dev-only-change-me")  # a placeholder set explicitly
    with pytest.raises(ValidationError, match="set GOV_PII_INDEX_KEY, GOV_PII_KEYS, NOTIFIER_"):
        _Settings()
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRET", "another-real-secret-from-the-vault")
    monkeypatch.setenv("TOKEN", "a-real-secret-from-the-vault")
    monkeypatch.setenv("GOV_PII_KEYS", f"2026:{new_key()}")
    monkeypatch.setenv("GOV_PII_ACTIVE_KEY", "2026")
    monkeypatch.setenv("GOV_PII_INDEX_KEY", new_key())
    assert _Settings().environment == "production"


def test_backoff_grows_and_is_capped() -> None:
    for attempt in range(1, 12):
        delay = backoff_delay(attempt, base=0.5, cap=10)
        expected = min(10, 0.5 * 2 ** (attempt - 1))
        assert expected / 2 <= delay <= expected


class _Body(BaseModel):
    subject: str
    count: int


async def test_validation_errors_are_problems_naming_the_field() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(body: _Body) -> dict[str, str]:
        return {}

    @app.get("/things/{thing_id}")
    async def read(thing_id: int) -> dict[str, str]:
        raise NotFoundError("thing", thing_id)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        response = await client.post("/things", json={"count": "many"})
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        problem = response.json()
        assert problem["status"] == 422
        assert {p["name"] for p in problem["invalid_params"]} == {"subject", "count"}
        assert "subject" in problem["detail"]

        missing = await client.get("/things/7")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "thing 7 does not exist"
        assert missing.headers["content-type"] == PROBLEM_JSON
