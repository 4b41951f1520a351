"""Realistic intake requests and the credentials to send them.

Bodies mix the two kinds, the five channels, the seed's categories and places (towns and
villages of the Yintai seed), with petitioners whose phone numbers are mostly new and now and
then a caller who called before (so the repeat lookup finds candidates and compares texts).
Tokens come from a signing key of the run's own, trusted by every service through
``GOV_AUTH_JWKS``, as ``gov_common.testing``'s ``auth`` fixture does.
"""

from __future__ import annotations

import random
import uuid

import orjson

from gov_common.security.principal import Role
from gov_common.security.tokens import SigningKey, TokenIssuer

ISSUER = "https://auth.bench.invalid"
AUDIENCE = "gov-suite"

PLACES = [
    "610203001",
    "610203001001",
    "610203001002",
    "610203002",
    "610203002001",
    "610203003",
    "610203004",
    "610203100",
    "610203100001",
    "610203101",
    "610203101001",
    "610203102",
    "610203103",
    "610203104",
    "610203105",
]
CATEGORIES = [
    "HEATING",
    "PROPERTY",
    "WAGES",
    "SOCIAL-SECURITY",
    "EDUCATION",
    "HEALTH",
    "SOCIAL-ASSISTANCE",
    "CITY-MANAGEMENT",
    "MARKET",
    "LAND",
    "ENVIRONMENT",
    "WATER",
    "ROADS",
    "VILLAGE-AFFAIRS",
    "OTHER",
]
MATTERS = [
    ("路灯不亮", "主干道路灯已连续三晚未亮，夜间出行不便，请尽快维修。"),
    ("小区供暖不热", "家中暖气温度不足十五度，老人孩子受冻，请协调供热公司处理。"),
    ("拖欠农民工工资", "在某工地务工半年，工资至今未结清，多次讨要无果。"),
    ("自来水停水", "村里自来水停水两天，没有提前通知，生活用水困难。"),
    ("道路坑洼积水", "村口道路多处坑洼，下雨积水严重，车辆行人通行困难。"),
    ("物业服务差", "小区物业不作为，垃圾无人清运，电梯经常故障。"),
    ("低保申请进度", "去年提交的低保申请至今没有答复，想了解办理进度。"),
    ("噪音扰民", "附近工地夜间施工噪音很大，影响居民休息。"),
    ("土地承包纠纷", "承包地被他人占用耕种，村委会调解未果。"),
    ("学校收费问题", "孩子所在学校额外收取资料费，不知是否合规。"),
]
CHANNELS = ["hotline_call", "hotline_call", "hotline_call", "web", "web", "letter", "visit"]


class Credentials:
    """A signing key of the run's own; the services trust its JWKS and nothing else."""

    def __init__(self) -> None:
        self.issuer = TokenIssuer(
            issuer=ISSUER, audience=AUDIENCE, keys=[SigningKey.generate()], ttl_s=4 * 3600
        )

    @property
    def service_env(self) -> dict[str, str]:
        return {
            "GOV_AUTH_ISSUER": ISSUER,
            "GOV_AUTH_AUDIENCE": AUDIENCE,
            "GOV_AUTH_JWKS": orjson.dumps(self.issuer.jwks()).decode(),
        }

    def headers(self, role: Role) -> dict[str, str]:
        token = self.issuer.issue(f"bench-{role.value}", [role])
        return {"Authorization": f"Bearer {token}"}


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))


def case_body(i: int, *, seed: int = 0, kind: str | None = None) -> bytes:
    """The i-th intake request of a run: deterministic for (seed, i)."""
    rng = random.Random(seed * 1_000_003 + i)  # noqa: S311 - synthetic data, not secrets
    petition = kind == "petition_case" if kind else rng.random() < 0.3
    subject, text = MATTERS[rng.randrange(len(MATTERS))]
    place = rng.choice(PLACES)
    body: dict[str, object] = {
        "kind": "petition_case" if petition else "hotline_ticket",
        "channel": rng.choice(["letter", "visit", "web"]) if petition else rng.choice(CHANNELS),
        "subject": subject,
        "description": f"{text}（第{i}号来电，地点编码{place}）",
        "category_code": rng.choice(CATEGORIES),
        "place": {"unit_id": place, "address": f"示例路{rng.randrange(1, 300)}号"},
        "urgent": rng.random() < 0.05,
    }
    if petition or rng.random() < 0.7:
        # One caller in ten called before (a pool of 200 numbers): the repeat check has work.
        phone = f"1390000{rng.randrange(200):04d}" if rng.random() < 0.1 else _phone(rng)
        body["petitioner"] = {
            "name": rng.choice(["王先生", "李女士", "张某", "刘某某"]),
            "phone": phone,
        }
    return orjson.dumps(body)


def intake_requests(headers: dict[str, str], *, seed: int) -> object:
    """A request factory for the load generator: POST /v1/cases with an Idempotency-Key."""
    run = uuid.uuid4().hex[:8]

    def make(i: int) -> tuple[str, str, dict[str, str], bytes]:
        return (
            "POST",
            "/v1/cases",
            {**headers, "content-type": "application/json", "Idempotency-Key": f"{run}-{i}"},
            case_body(i, seed=seed),
        )

    return make
