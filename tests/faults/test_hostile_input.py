"""Hostile input against the three services running as real processes.

1. Schemathesis (the CLI, so every phase runs as it would for an operator: examples,
   coverage, fuzzing, and the stateful phase that follows the links Schemathesis infers
   between operations), against each service's /openapi.json, with a fixed seed and a bounded
   number of examples per operation: no 5xx and no response that breaks its documented schema.
   One token carries admin and operator, so every route is reachable (operator: intake).
2. Bodies over the size limit (413), deeply nested JSON, invalid UTF-8: refused with a 4xx.
3. Injection strings (SQL, HTML/script, template syntax of Jinja2, JS/EL, ERB) stored and
   returned exactly as sent — by petitions-api, by targets-api, in the notifier's webhook and
   in a rendered notifier template: never evaluated, never escaped into something else.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from gov_common import testing

from .conftest import Stack
from .harness import CASE, RESULTS_DIR, Result, Service, sink_received
from .intake import wait_for

pytestmark = pytest.mark.faults

SEED = 20261128
MAX_EXAMPLES = 15  # per operation and phase
INJECTIONS = [
    "'; DROP TABLE cases; --",
    '" OR 1=1 --',
    "1' UNION SELECT password FROM accounts --",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "{{7*7}}",
    "${7*7}",
    "{% raw %}{{ config }}{% endraw %}",
    "#{7*7}",
    "<%= 7*7 %>",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "\\u0000 NUL and \\x00 escapes, 百分号 % _ 通配",
]


@dataclass
class Hostile:
    stack: Stack
    petitions: Service
    targets: Service
    notifier: Service
    sink: Service
    probes: Counter[str] = field(default_factory=Counter)  # "sent" and "as expected"
    first_probe_at: float | None = None
    failures: list[str] = field(default_factory=list)  # probes answered otherwise, for the row

    def sent(self) -> None:
        if self.first_probe_at is None:
            self.first_probe_at = time.monotonic()
        self.probes["sent"] += 1

    def as_expected(self) -> None:
        self.probes["as expected"] += 1

    @property
    def services(self) -> dict[str, Service]:
        return {"petitions": self.petitions, "targets": self.targets, "notifier": self.notifier}

    def headers(self) -> dict[str, str]:
        return self.stack.auth.headers("admin", "operator", subject="hostile-tester")


@pytest.fixture(scope="module")
async def hostile(
    infrastructure: testing.Infrastructure,
    auth: testing.TestAuth,
    fault_templates: dict[str, str],
) -> AsyncIterator[Hostile]:
    from sqlalchemy.engine import make_url

    stack = Stack(infrastructure, auth, fault_templates)
    try:
        sink = await stack.sink().launch()
        petitions = await (await stack.service("petitions")).launch()
        targets = await (await stack.service("targets")).launch()
        notifier = await (
            await stack.service("notifier", NOTIFIER_WEBHOOK_URL=f"{sink.url}/hooks/case-events")
        ).launch()
        hostile = Hostile(stack, petitions, targets, notifier, sink)
        result = Result(
            8,
            "Hostile bodies and injection strings",
            load="each write route of the 3 services; 12 injection strings through every layer",
            fault="bodies over 1 MiB (declared and streamed), JSON nested 64–100,000 deep, "
            "invalid UTF-8, NUL characters, SQL/HTML/template injections",
            sent=0,
            received=0,
            lost=0,
            duplicated=0,
        )
        yield hostile
        result.started = hostile.first_probe_at or result.started
        result.sent = hostile.probes["sent"]
        result.received = hostile.probes["as expected"]
        result.lost = result.sent - result.received
        result.notes = (
            "received = answered as expected (413, a 4xx problem, or stored and returned "
            "byte for byte and never evaluated)"
            + ("; not as expected: " + ", ".join(hostile.failures) if hostile.failures else "")
        )
        result.passed = result.sent > 0 and result.lost == 0
        result.write()
    finally:
        await asyncio.to_thread(stack.stop_all)
        for name, url in stack.databases.items():
            await testing.drop_database(
                infrastructure.admin_url(name), make_url(url).database or ""
            )


# ------------------------------------------------------------------------- schemathesis


def service_package(name: str) -> str:
    return {"petitions": "petitions-api", "targets": "targets-api", "notifier": "notifier"}[name]


@pytest.mark.parametrize("name", ["petitions", "targets", "notifier"])
async def test_schemathesis_finds_no_server_error_and_no_broken_response(
    hostile: Hostile, name: str
) -> None:
    service = hostile.services[name]
    report_dir = RESULTS_DIR / "schemathesis" / name
    report_dir.mkdir(parents=True, exist_ok=True)
    token = hostile.headers()["Authorization"]
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{service.url}/openapi.json",
        "--header",
        f"Authorization: {token}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--output-truncate",
        "true",
    ]
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=report_dir,  # its caches (.schemathesis/, .hypothesis/) stay under .local
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    try:
        async with asyncio.timeout(240):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"schemathesis against {name} did not finish in 240 s") from None
    text = output.decode(errors="replace")
    (report_dir / "output.txt").write_text(text)
    generated_match = re.search(r"(\d+) generated", text)
    generated = int(generated_match[1]) if generated_match else 0
    # Failures are reported as "… found N unique failure(s)" and, per check, "❌ <check>: N".
    found = re.search(r"found (\d+) unique failure", text)
    failures = int(found[1]) if found else 0
    failed_checks = re.findall(r"❌ (ST\d+ [^:\n]+): (\d+)", text)
    stateful = re.search(r"Scenarios:\s+(\d+)", text)
    operations = re.search(r"Tested: (\d+)", text)
    result = Result(
        7,
        f"Hostile input: Schemathesis against {service_package(name)}",
        load=f"every operation ({operations[1] if operations else '?'}), seed {SEED}, "
        f"≤{MAX_EXAMPLES} examples per operation and phase; "
        f"{stateful[1] if stateful else 0} stateful scenarios",
        fault="generated valid and invalid requests (coverage, fuzzing, stateful phases)",
        sent=generated,
        received=generated - failures,
        lost=failures,
        duplicated=0,
        notes="received = answered without a 5xx and within the documented response schema"
        + (
            "; failing: "
            + ", ".join(f"{check} ×{n}" for check, n in failed_checks)
            + f" (reproduce: {report_dir.relative_to(RESULTS_DIR.parent.parent)}/output.txt)"
            if failed_checks
            else ""
        ),
        passed=process.returncode == 0 and generated > 0,
        slug=name,
    )
    result.started = started
    result.write()
    assert process.returncode == 0, f"schemathesis found problems in {name}:\n{text[-6000:]}"


# ----------------------------------------------------------- oversized, nested, bad bytes

WRITES = {
    "petitions": "/v1/cases",
    "targets": "/v1/plans",
    "notifier": "/v1/recipients",
}


async def test_bodies_over_the_limit_are_refused_with_413(hostile: Hostile) -> None:
    big = b'{"subject": "' + b"x" * (2 * 1024 * 1024) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    async with httpx.AsyncClient(timeout=30) as http:
        for name, path in WRITES.items():
            url = hostile.services[name].url + path
            headers = {**hostile.headers(), "Content-Type": "application/json"}
            hostile.sent()
            declared = await http.post(url, content=big, headers=headers)
            assert declared.status_code == 413, (name, declared.status_code, declared.text[:200])
            hostile.as_expected()
            hostile.sent()
            # No Content-Length (chunked): refused while streaming, not after reading it all.
            streamed = await http.post(url, content=chunks(), headers=headers)
            assert streamed.status_code == 413, (name, streamed.status_code, streamed.text[:200])
            assert streamed.headers["content-type"] == "application/problem+json"
            hostile.as_expected()


@pytest.mark.parametrize("depth", [64, 5000, 100_000])
async def test_deeply_nested_json_is_refused_without_a_server_error(
    hostile: Hostile, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    bodies = {
        "array": nested.encode(),
        "inside a field": (
            '{"kind": "hotline_ticket", "channel": "hotline_call", "subject": "x", '
            f'"description": "y", "attachments": {nested}}}'
        ).encode(),
        "objects": ('{"a":' * depth + "1" + "}" * depth).encode(),
    }
    async with httpx.AsyncClient(timeout=30) as http:
        for name, path in WRITES.items():
            for what, body in bodies.items():
                hostile.sent()
                response = await http.post(
                    hostile.services[name].url + path,
                    content=body,
                    headers={**hostile.headers(), "Content-Type": "application/json"},
                )
                assert 400 <= response.status_code < 500, (name, what, response.status_code)
                assert response.headers["content-type"] == "application/problem+json"
                hostile.as_expected()


async def test_invalid_utf8_is_refused_without_a_server_error(hostile: Hostile) -> None:
    bodies = [
        b'{"kind": "hotline_ticket", "channel": "hotline_call", "subject": "\xff\xfe", '
        b'"description": "\xc3\x28"}',
        b"\xef\xbb\xbf\xff" + b'{"subject": "x"}',
        b'{"subject": "\xed\xa0\x80"}',  # an encoded UTF-16 surrogate, invalid in UTF-8
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        for name, path in WRITES.items():
            service = hostile.services[name]
            for body in bodies:
                hostile.sent()
                response = await http.post(
                    service.url + path,
                    content=body,
                    headers={**hostile.headers(), "Content-Type": "application/json"},
                )
                assert 400 <= response.status_code < 500, (name, body, response.status_code)
                hostile.as_expected()
        # In the query string and the path, too.
        for url in (
            hostile.petitions.url + "/v1/cases?q=%FF%FE",
            hostile.petitions.url + "/v1/cases/%FF%FE",
            hostile.targets.url + "/v1/indicators/%C3%28",
            hostile.notifier.url + "/v1/deliveries?event_id=%ED%A0%80",
        ):
            hostile.sent()
            response = await http.get(url, headers=hostile.headers())
            assert response.status_code < 500, (url, response.status_code, response.text[:200])
            hostile.as_expected()


# ------------------------------------------------------------------------ injections


async def test_injection_strings_are_stored_and_returned_exactly_as_sent(
    hostile: Hostile,
) -> None:
    headers = hostile.headers()
    created: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=30) as http:
        for text in INJECTIONS:
            response = await http.post(
                hostile.petitions.url + "/v1/cases",
                json={**CASE, "subject": text, "description": f"描述：{text}"},
                headers=headers,
            )
            assert response.status_code == 201, (text, response.text[:300])
            body = response.json()
            assert (body["subject"], body["description"]) == (text, f"描述：{text}")
            assert response.headers["content-type"].startswith("application/json")
            created[body["id"]] = text

        for case_id, text in created.items():
            read = await http.get(f"{hostile.petitions.url}/v1/cases/{case_id}", headers=headers)
            assert read.status_code == 200
            assert (read.json()["subject"], read.json()["description"]) == (text, f"描述：{text}")
            # Searching with it is a literal search, not SQL: no error, and it finds the case.
            found = await http.get(
                hostile.petitions.url + "/v1/cases", params={"q": text[:100]}, headers=headers
            )
            assert found.status_code == 200, (text, found.status_code, found.text[:300])
            assert case_id in {c["id"] for c in found.json()["items"]}, text
        # The tables are still there.
        assert (
            await http.get(hostile.petitions.url + "/v1/cases", headers=headers)
        ).status_code == 200

        # targets-api keeps a plan's name as given.
        for n, text in enumerate(INJECTIONS):
            code = f"hostile-{uuid.uuid4().hex[:6]}-{n}"
            plan = await http.post(
                hostile.targets.url + "/v1/plans",
                json={"code": code, "name_zh": text, "year": 2026},
                headers=headers,
            )
            assert plan.status_code == 201, (text, plan.text[:300])
            again = await http.get(f"{hostile.targets.url}/v1/plans/{code}", headers=headers)
            assert again.json()["name_zh"] == text

        # The notifier sends each case's event on, subject untouched, in the signed webhook.
        async def all_arrived() -> bool:
            received = await sink_received(http, hostile.sink, bodies=True)
            subjects = {(r["body"] or {}).get("subject"): r for r in received}
            return set(created) <= set(subjects)

        await wait_for(all_arrived, timeout_s=90, what="the injected cases' webhooks")
        received = await sink_received(http, hostile.sink, bodies=True)
        by_case = {r["body"]["subject"]: r["body"] for r in received if r["body"]}
        for case_id, text in created.items():
            assert by_case[case_id]["data"]["subject"] == text

        # A template that prints the subject prints it, and does not run it.
        template = await http.post(
            hostile.notifier.url + "/v1/templates",
            json={
                "name": "hostile-echo",
                "event_type": "gov.petitions.case.created.v1",
                "variants": {"default": {"subject": "{{ subject }}", "body": "[{{ subject }}]"}},
            },
            headers=headers,
        )
        assert template.status_code == 201, template.text
        for text in INJECTIONS:
            preview = await http.post(
                f"{hostile.notifier.url}/v1/templates/{template.json()['id']}/preview",
                json={"data": {"subject": text}},
                headers=headers,
            )
            assert preview.status_code == 200, (text, preview.text[:300])
            assert preview.json()["body"] == f"[{text}]"
        # Each string went through intake, read, search, targets, the webhook and a template.
        for _ in INJECTIONS:
            hostile.sent()
            hostile.as_expected()


async def test_nul_characters_in_text_are_refused_with_a_4xx(hostile: Hostile) -> None:
    """U+0000 is valid JSON and valid UTF-8, but PostgreSQL stores no NUL in text or jsonb:
    it must be refused as bad input (4xx), not reach the database and fail there (500)."""
    probes = [
        (hostile.petitions, "/v1/cases", {**CASE, "subject": "路灯\x00不亮"}),
        (
            hostile.petitions,
            "/v1/cases",
            {
                **CASE,
                "attachments": [
                    {"file_name": "a\x00.jpg", "content_type": "image/jpeg", "size_bytes": 1}
                ],
            },
        ),
        (hostile.targets, "/v1/plans", {"code": "nul-1", "name_zh": "计划\x00", "year": 2026}),
        (hostile.notifier, "/v1/recipients", {"kind": "person", "name": "李\x00", "user_id": "u"}),
    ]
    answers = []
    for service, path, body in probes:
        hostile.sent()
        # A client of its own per probe: after an unhandled error the server closes the
        # connection, which must not turn the next probe into a transport error.
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(service.url + path, json=body, headers=hostile.headers())
        answers.append((service.name.rsplit("-", 1)[-1], path, response.status_code))
        if 400 <= response.status_code < 500:
            hostile.as_expected()
        else:
            hostile.failures.append(f"NUL in {path}: {response.status_code}")
    assert all(400 <= status < 500 for *_, status in answers), answers
