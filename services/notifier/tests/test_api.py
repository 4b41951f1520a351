"""Recipients, templates and rules over HTTP: validation, problems, concurrency, nothing
half-written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

OVERDUE = "gov.petitions.case.overdue.v1"
PROBLEM = "application/problem+json"

UNIT_DESK = {
    "kind": "group",
    "name": "陈炉镇信访办",
    "org_unit_id": "610203100",
    "roles": ["handler"],
    "email": "xfb@chenlu.example",
    "webhook_url": "https://chenlu.example/hooks",
    "channels": ["email", "webhook"],
}

OVERDUE_TEMPLATE = {
    "name": "case-overdue",
    "event_type": OVERDUE,
    "variants": {
        "default": {
            "subject": "【超期】{{ case_number }}",
            "body": "{{ recipient.name }}：案件 {{ case_number }} 的{{ deadline }}期限"
            "（{{ due_at }}）已过，请尽快办理。",
        },
        "sms": {"body": "案件{{ case_number }}已超期"},
    },
}


def _rule(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "overdue-to-unit-and-supervisor",
        "event_type": OVERDUE,
        "filters": [{"field": "handling_unit_id", "op": "prefix", "value": "610203"}],
        "recipients": [{"source": "handling_unit"}, {"source": "supervisor"}],
        "channels": ["webhook", "email"],
        **overrides,
    }


async def _counts(client: httpx.AsyncClient) -> tuple[int, ...]:
    return tuple(
        [
            len((await client.get(f"/v1/{what}")).json()["items"])
            for what in ("recipients", "templates", "rules")
        ]
    )


def _assert_problem(response: httpx.Response, status: int, *names: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["detail"]
    found = {p["name"] for p in body.get("invalid_params", [])}
    for name in names:
        assert any(n == name or n.startswith(name) for n in found), (name, found)
    return body


async def test_a_recipient_is_created_read_and_replaced_only_with_its_etag(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/v1/recipients", json=UNIT_DESK)
    assert created.status_code == 201, created.text
    recipient = created.json()
    assert created.headers["etag"] == '"1"'
    assert recipient["channels"] == ["email", "webhook"] and recipient["version"] == 1

    changed = {**UNIT_DESK, "name": "陈炉镇信访办（值班）"}
    url = f"/v1/recipients/{recipient['id']}"
    _assert_problem(await client.put(url, json=changed), 428)
    _assert_problem(await client.put(url, json=changed, headers={"If-Match": '"7"'}), 412)
    assert (await client.get(url)).json()["name"] == UNIT_DESK["name"]

    replaced = await client.put(url, json=changed, headers={"If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced.headers["etag"] == '"2"'
    assert (await client.get(url)).json()["name"] == "陈炉镇信访办（值班）"


async def test_a_weak_or_malformed_if_match_changes_nothing(client: httpx.AsyncClient) -> None:
    """If-Match compares strongly (RFC 9110 §13.1.1): W/"1" is not the version read; a tag
    without its quotes is not an ETag at all (gov_common.preconditions)."""
    created = await client.post("/v1/recipients", json={**UNIT_DESK, "name": "弱标签"})
    url = f"/v1/recipients/{created.json()['id']}"
    changed = {**UNIT_DESK, "name": "弱标签（改）"}
    weak = _assert_problem(await client.put(url, json=changed, headers={"If-Match": 'W/"1"'}), 412)
    assert "weak" in weak["detail"]
    _assert_problem(await client.put(url, json=changed, headers={"If-Match": "1"}), 400)
    _assert_problem(await client.delete(url, headers={"If-Match": 'W/"1"'}), 412)
    assert (await client.get(url)).json()["name"] == "弱标签"


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("templates", {**OVERDUE_TEMPLATE, "name": "idempotent-template"}),
        ("rules", _rule(name="idempotent-rule")),
    ],
)
async def test_a_creating_post_with_the_same_idempotency_key_creates_once(
    client: httpx.AsyncClient, what: str, body: dict[str, Any]
) -> None:
    key = {"Idempotency-Key": f"{what}-{uuid.uuid4().hex}"}
    first = await client.post(f"/v1/{what}", json=body, headers=key)
    assert first.status_code == 201, first.text
    before = await _counts(client)
    again = await client.post(f"/v1/{what}", json=body, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"] == '"1"'
    assert await _counts(client) == before
    other = await client.post(f"/v1/{what}", json={**body, "name": "another"}, headers=key)
    _assert_problem(other, 422)
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await _counts(client) == before


async def test_a_replayed_recipient_is_masked_and_its_key_keeps_no_personal_data(
    client: httpx.AsyncClient, app: Any
) -> None:
    desk = {**UNIT_DESK, "name": "幂等收件人", "email": "idem@chenlu.example"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/v1/recipients", json=desk, headers=key)
    assert first.status_code == 201, first.text
    assert first.json()["email"] == "idem@chenlu.example"  # the admin sent it: echoed back
    before = await _counts(client)
    again = await client.post("/v1/recipients", json=desk, headers=key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.json()["email"] != "idem@chenlu.example"  # masked
    secret = first.json()["webhook_secret"]  # the webhook's signing secret, shown once
    assert secret.startswith("whsec_") and again.json().get("webhook_secret") is None
    assert again.headers["etag"] == '"1"'
    assert await _counts(client) == before
    async with app.state.sessions() as session:
        stored = (
            await session.execute(
                text(
                    "SELECT request_hash, response_body::text FROM idempotency_keys WHERE key = :k"
                ),
                {"k": key["Idempotency-Key"]},
            )
        ).one()
    assert "idem@chenlu.example" not in stored[1] and len(stored[0]) == 64
    assert secret not in stored[1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channels": ["sms"]}, "body"),  # sms preferred, no phone
        ({"phone": "12-34"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"quiet_start": "22:00"}, "body"),  # start without end
        ({"kind": "robot"}, "kind"),
        ({"webhook_url": "ftp://x"}, "webhook_url"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_recipient_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/recipients", json={**UNIT_DESK, **change})
    _assert_problem(response, 422, field)
    assert await _counts(client) == (0, 0, 0)


async def test_a_second_recipient_with_the_same_user_id_conflicts(
    client: httpx.AsyncClient,
) -> None:
    person = {"kind": "person", "name": "王督办", "user_id": "u-wang", "email": "w@x.example"}
    assert (await client.post("/v1/recipients", json=person)).status_code == 201
    _assert_problem(await client.post("/v1/recipients", json=person), 409)
    assert (await _counts(client))[0] == 1


async def test_a_template_with_an_unknown_variable_is_refused_at_save(
    client: httpx.AsyncClient,
) -> None:
    bad = {
        **OVERDUE_TEMPLATE,
        "variants": {
            "default": {"body": "{{ case_number }} {{ petitioner_phone }}"},
            "email": {"subject": "{{ event.colour }}", "body": "ok"},
        },
    }
    body = _assert_problem(
        await client.post("/v1/templates", json=bad),
        422,
        "variants.default.body",
        "variants.email.subject",
    )
    assert "petitioner_phone" in body["detail"] and "event.colour" in body["detail"]
    assert await _counts(client) == (0, 0, 0)


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        ({"default": {"body": "{% if %}"}}, "variants.default.body"),  # does not parse
        ({"email": {"body": "x"}}, "variants"),  # no default
        ({"default": {"body": "x"}, "fax": {"body": "x"}}, "variants"),
    ],
)
async def test_a_malformed_template_is_refused(
    client: httpx.AsyncClient, variants: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/templates", json={**OVERDUE_TEMPLATE, "variants": variants})
    _assert_problem(response, 422, field)
    assert await _counts(client) == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("{{ case_number|shout }}", "unknown filter 'shout'"),  # was a 500
        ("{% filter shout %}x{% endfilter %}", "unknown filter 'shout'"),
        ("{% if case_number is loud %}x{% endif %}", "unknown test 'loud'"),
        ("{{ case_number.foo }}", "'case_number.foo'"),  # a string has no .foo
        ("{{ due_at.year }}", "'due_at.year'"),  # dates are ISO strings in the context
        ("{{ case_number + 1 }}", "fails to render"),  # TypeError at every delivery
        ("{{ supervisor_id.upper() }}", "without its optional fields"),  # null in some events
    ],
)
async def test_a_template_that_would_fail_its_deliveries_is_refused_at_save(
    client: httpx.AsyncClient, body: str, named: str
) -> None:
    template = {**OVERDUE_TEMPLATE, "variants": {"default": {"body": body}}}
    problem = _assert_problem(
        await client.post("/v1/templates", json=template), 422, "variants.default.body"
    )
    assert problem["type"].endswith("invalid-template")
    assert named in problem["detail"], problem["detail"]
    assert await _counts(client) == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        "{{ case_number|upper }} {{ case_number.upper() }} {{ due_at[:10] }}",
        "{% if supervisor_id %}{{ supervisor_id.upper() }}{% endif %}{{ supervisor_id or '无' }}",
        "{% for c in case_number %}{{ c }}{% endfor %}{% set n = 1 %}{{ n.real }}",
        "{{ event.time }} {{ recipient.name|default('同志') }} {{ kind is string }}",
    ],
)
async def test_a_template_that_renders_is_saved(client: httpx.AsyncClient, body: str) -> None:
    template = {**OVERDUE_TEMPLATE, "variants": {"default": {"body": body}}}
    response = await client.post("/v1/templates", json=template)
    assert response.status_code == 201, response.text


async def test_a_template_for_an_unknown_event_type_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/templates", json={**OVERDUE_TEMPLATE, "event_type": "gov.petitions.case.vanished.v1"}
    )
    body = _assert_problem(response, 422, "event_type")
    assert OVERDUE in body["detail"]  # says which types there are


async def test_the_preview_renders_a_sample_event_per_channel(client: httpx.AsyncClient) -> None:
    template = (await client.post("/v1/templates", json=OVERDUE_TEMPLATE)).json()
    preview = await client.post(
        f"/v1/templates/{template['id']}/preview",
        json={"channel": "email", "data": {"case_number": "XF2026-0042", "deadline": "handling"}},
    )
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["subject"] == "【超期】XF2026-0042"
    assert "案件 XF2026-0042 的handling期限" in shown["body"]
    assert shown["event"]["type"] == OVERDUE

    sms = await client.post(f"/v1/templates/{template['id']}/preview", json={"channel": "sms"})
    assert sms.json()["body"].startswith("案件") and sms.json()["body"].endswith("已超期")

    bad = await client.post(
        f"/v1/templates/{template['id']}/preview", json={"data": {"deadline": "someday"}}
    )
    _assert_problem(bad, 422)


async def test_a_rule_is_created_with_its_template_and_fixed_recipient(
    client: httpx.AsyncClient,
) -> None:
    template = (await client.post("/v1/templates", json=OVERDUE_TEMPLATE)).json()
    desk = (await client.post("/v1/recipients", json=UNIT_DESK)).json()
    created = await client.post(
        "/v1/rules",
        json=_rule(
            template_id=template["id"],
            recipients=[{"source": "fixed", "recipient_id": desk["id"]}, {"source": "supervisor"}],
        ),
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["template_id"] == template["id"] and created.headers["etag"] == '"1"'

    # The recipient and the template are in use: deleting them is refused, nothing changes.
    _assert_problem(
        await client.delete(f"/v1/recipients/{desk['id']}", headers={"If-Match": '"1"'}), 409
    )
    _assert_problem(
        await client.delete(f"/v1/templates/{template['id']}", headers={"If-Match": '"1"'}), 409
    )
    assert await _counts(client) == (1, 1, 1)

    disabled = await client.put(
        f"/v1/rules/{rule['id']}",
        json=_rule(template_id=template["id"], enabled=False),
        headers={"If-Match": created.headers["etag"]},
    )
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    gone = await client.delete(f"/v1/rules/{rule['id']}", headers={"If-Match": '"2"'})
    assert gone.status_code == 204
    assert await _counts(client) == (1, 1, 0)


async def test_a_rule_naming_an_unknown_event_type_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/rules", json=_rule(event_type="gov.petitions.case.lost.v1"))
    body = _assert_problem(response, 422, "event_type")
    assert body["type"].endswith("unknown-event-type")
    assert await _counts(client) == (0, 0, 0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"filters": [{"field": "town", "op": "eq", "value": "x"}]}, "filters.0.field"),
        ({"filters": [{"field": "deadline", "op": "in", "value": "handling"}]}, "filters.0"),
        ({"recipients": [{"source": "indicator_departments"}]}, "recipients.0"),
        (
            {"recipients": [{"source": "fixed", "recipient_id": str(uuid.UUID(int=170))}]},
            "recipients.0.recipient_id",
        ),
        ({"recipients": []}, "recipients"),
        ({"channels": ["pigeon"]}, "channels.0"),
        ({"template_id": "00000000-0000-0000-0000-0000000000bb"}, "template_id"),
        ({"name": "Has Spaces"}, "name"),
    ],
)
async def test_a_bad_rule_is_refused_with_what_to_fix_and_nothing_is_written(
    client: httpx.AsyncClient, overrides: dict[str, Any], field: str
) -> None:
    _assert_problem(await client.post("/v1/rules", json=_rule(**overrides)), 422, field)
    assert await _counts(client) == (0, 0, 0)


async def test_a_rule_cannot_use_a_template_of_another_event_type(
    client: httpx.AsyncClient,
) -> None:
    other = {
        **OVERDUE_TEMPLATE,
        "name": "due-soon",
        "event_type": "gov.petitions.case.due_soon.v1",
    }
    template = (await client.post("/v1/templates", json=other)).json()
    response = await client.post("/v1/rules", json=_rule(template_id=template["id"]))
    body = _assert_problem(response, 422, "template_id")
    assert "due_soon" in body["detail"]
    assert (await _counts(client))[2] == 0
