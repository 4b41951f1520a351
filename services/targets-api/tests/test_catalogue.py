"""The seeded 2023 catalogue against the report excerpt, and the YAML import/export CLI."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from gov_common.testing import REPO_ROOT
from targets_api import cli
from targets_api.catalogue.yaml_io import CatalogueError, load_catalogue, parse_catalogue
from targets_api.config import Settings
from targets_api.indicators.models import Indicator, Plan

# A copy of ../shared/seeds/work-report-2023-excerpt.zh.txt, so the check needs nothing outside
# the repository.
EXCERPT = Path(__file__).parent / "data" / "work-report-2023-excerpt.zh.txt"
SEED = REPO_ROOT / "services/targets-api/src/targets_api/data/yintai-2023.yaml"

# Every quantified target of the excerpt, read from the report (not from the YAML):
# (the report's phrase, kind, unit, target value).
QUANTIFIED = [
    ("组团开展外出参观考察5场次以上", "at_least", "sessions", 5),
    ("举办对外推介活动3场次以上", "at_least", "sessions", 3),
    ("全年外贸出口额突破6000万元", "at_least", "yuan", 60_000_000),
    ("实际利用外资700万美元以上", "at_least", "usd", 7_000_000),
    ("全年认定创业孵化基地1家", "at_least", "items", 1),
    ("开展职业技能培训500人次", "at_least", "person_times", 500),
    ("城镇登记失业率控制在4%以内", "at_most", "percent", 4),
    ("进社区、进农村、进校园、进景区100场次以上", "at_least", "sessions", 100),
    ("开发各类公益性岗位1500个以上", "at_least", "posts", 1500),
    ("新增城镇就业1300人以上", "at_least", "persons", 1300),
    ("建设改造乡镇商贸中心2个", "at_least", "items", 2),
    ("新增乡村连锁店20家", "at_least", "stores", 20),
    ("农村网店200家", "at_least", "stores", 200),
    ("新增学位500个", "at_least", "school_places", 500),
    ("完成10个村全民健身器材配建", "at_least", "villages", 10),
    ("培养社会体育指导员100人以上", "at_least", "persons", 100),
    ("新增床位240张", "at_least", "beds", 240),
    ("打造区级文化示范小院10个", "at_least", "items", 10),
    ("完成9个镇办综合文化站标准化提升", "at_least", "items", 9),
    ("实现跨区域通办事项200项", "at_least", "items", 200),
    ("上线办理高频政务服务事项300项", "at_least", "items", 300),
    ("20个老旧小区的改造提升", "at_least", "residential_compounds", 20),
    ("新建改造公厕10座", "at_least", "toilets", 10),
    ("新增养老床位300张", "at_least", "beds", 300),
    ("初信初访事项80%以上在基层得到有效化解", "percentage", "percent", 80),
]

# Dated or named milestones of the excerpt (phrase, due date if the report gives one).
MILESTONES = [
    ("区外行", None),
    ("归雁计划", None),
    ("“两个达标”创建", None),
    ("城关幼儿园改扩建", None),
    ("职业技术学校实训基地建设", None),
    ("西安交大未来智慧教育中心", None),
    ("区妇保院", None),
    ("区中医医院迁建项目", None),
    ("区综合档案馆", None),
    ("第十届陕西省艺术节", None),
    ("金锁关城遗址、陈炉三圣阁壁画、市一中文庙", None),
    ("方泉小学回迁", "2023-09-01"),  # by the start of the autumn term
    ("建成运营区人民医院", None),
    ("运营区老年养护院", None),
    ("宋塔小区", None),
    ("重复信访和信访积案化解专项行动", None),
    ("瑞芙城市花园、快乐城", None),
    ("省级“平安区”", None),
]


@pytest.fixture(scope="module")
def seed() -> list[dict[str, object]]:
    return [i.model_dump() for i in load_catalogue(SEED).indicators]


def _matching(seed: list[dict[str, object]], phrase: str, kind: str) -> list[dict[str, object]]:
    return [
        i
        for i in seed
        if i["kind"] == kind and (phrase in str(i["name_zh"]) or phrase in str(i["wording_zh"]))
    ]


@pytest.mark.parametrize(("phrase", "kind", "unit", "value"), QUANTIFIED)
def test_the_seed_holds_every_quantified_target_of_the_excerpt(
    seed: list[dict[str, object]], phrase: str, kind: str, unit: str, value: int
) -> None:
    assert phrase in EXCERPT.read_text(encoding="utf-8")  # the expectation is the report's
    found = [i for i in _matching(seed, phrase, kind) if i["target"] == Decimal(value)]
    assert len(found) == 1, f"{phrase}: {[i['code'] for i in _matching(seed, phrase, kind)]}"
    assert found[0]["unit"] == unit


def test_the_seed_has_no_quantified_target_the_excerpt_lacks(
    seed: list[dict[str, object]],
) -> None:
    quantified = [i for i in seed if i["kind"] != "milestone"]
    assert len(quantified) == len(QUANTIFIED)


@pytest.mark.parametrize(("phrase", "due"), MILESTONES)
def test_the_seed_holds_every_dated_or_named_milestone(
    seed: list[dict[str, object]], phrase: str, due: str | None
) -> None:
    found = _matching(seed, phrase, "milestone")
    assert found, phrase
    if due is not None:
        assert str(found[0]["due_date"]) == due


def test_the_ten_livelihood_projects_are_all_there(seed: list[dict[str, object]]) -> None:
    numbers = {i["livelihood_number"] for i in seed if i["livelihood_project"]}
    assert numbers == set(range(1, 11))
    # the sub-targets each project names (project 8 also as its named compound, 宋塔小区)
    per_project = {n: 0 for n in range(1, 11)}
    for i in seed:
        if i["livelihood_project"]:
            per_project[i["livelihood_number"]] += 1  # type: ignore[index]
    assert per_project == {1: 2, 2: 3, 3: 2, 4: 2, 5: 2, 6: 2, 7: 2, 8: 2, 9: 1, 10: 2}


def test_every_wording_is_verbatim_from_the_report_with_an_english_name(
    seed: list[dict[str, object]],
) -> None:
    text = EXCERPT.read_text(encoding="utf-8")
    for indicator in seed:
        assert indicator["wording_zh"] in text, indicator["code"]
        assert indicator["name_en"], indicator["code"]


def test_the_grassroots_rate_is_a_live_indicator(seed: list[dict[str, object]]) -> None:
    [rate] = [i for i in seed if i["live_source"]]
    assert rate["live_source"] == "petitions.first_time_grassroots_rate"
    assert (rate["kind"], rate["target"], rate["unit"]) == ("percentage", Decimal(80), "percent")


# --- validation with line numbers ------------------------------------------------------

GOOD_HEADER = """\
plan:
  code: demo-2024
  name_zh: 演示计划
  year: 2024
indicators:
"""


def test_errors_name_the_line_of_the_file() -> None:
    text = GOOD_HEADER + (
        "  - code: A-1\n"  # line 6
        "    name_zh: 甲\n"
        "    kind: at_least\n"
        "    target: 5\n"
        "  - code: A-2\n"  # line 10
        "    name_zh: 乙\n"
        "    kind: sometimes\n"  # line 12
        "    target: 5\n"
        "  - code: A-1\n"  # line 14: duplicate
        "    name_zh: 丙\n"
        "    kind: at_least\n"
    )
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "demo.yaml")
    errors = {(e.line, e.where) for e in caught.value.errors}
    assert (12, "indicators.1.kind") in errors
    assert any(line == 14 for line, _ in errors)  # A-1 again, without target, both reported
    assert "demo.yaml:line 12" in str(caught.value)


def test_duplicate_codes_and_keys_are_refused_with_their_lines() -> None:
    duplicate_code = GOOD_HEADER + (
        "  - {code: A-1, name_zh: 甲, kind: milestone}\n"
        "  - {code: A-1, name_zh: 乙, kind: milestone}\n"  # line 7
    )
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(duplicate_code)
    [error] = caught.value.errors
    assert error.line == 7 and "duplicate code A-1 (first on line 6)" in error.message

    duplicate_key = GOOD_HEADER.replace("  year: 2024\n", "  year: 2024\n  year: 2025\n")
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(duplicate_key)
    assert [(e.line, e.message) for e in caught.value.errors] == [(5, "duplicate key")]


def test_broken_yaml_names_its_line() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(GOOD_HEADER + "  - code: [unclosed\n")
    assert caught.value.errors[0].line in (6, 7)


# --- the CLI against the database ------------------------------------------------------


@pytest.mark.integration
async def test_cli_imports_the_seed_idempotently_and_exports_it_back(
    settings: Settings, app: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli.seed(settings) == 0
    assert await cli.seed(settings) == 0  # again: updates, never duplicates
    output = capsys.readouterr().err
    total = len(load_catalogue(SEED).indicators)
    assert f"0 indicator(s) created, {total} updated" in output  # the second run
    assert "importing yintai-2023" in output  # the progress bar's label

    async with app.state.sessions() as session:  # type: ignore[attr-defined]
        plan = await session.scalar(select(Plan).where(Plan.code == "yintai-2023"))
        assert plan is not None
        count = await session.scalar(
            select(func.count()).select_from(Indicator).where(Indicator.plan_id == plan.id)
        )
    assert count == len(load_catalogue(SEED).indicators)

    exported = await cli.export_text("yintai-2023", settings)
    assert exported is not None
    text, exported_count = exported
    assert exported_count == count
    again = parse_catalogue(text)
    assert again.model_dump() == load_catalogue(SEED).model_dump()


@pytest.mark.integration
async def test_an_invalid_file_imports_nothing(
    settings: Settings, app: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD_HEADER.replace("demo-2024", "bad-2024")
        + "  - {code: OK-1, name_zh: 甲, kind: at_least, target: 1}\n"
        + "  - {code: BAD-1, name_zh: 乙, kind: at_least, live_source: nowhere}\n",
        encoding="utf-8",
    )
    assert await cli.import_file(bad, None, settings) == 1
    assert "nowhere" in capsys.readouterr().err
    async with app.state.sessions() as session:  # type: ignore[attr-defined]
        assert await session.scalar(select(Plan).where(Plan.code == "bad-2024")) is None

    wrong_line = tmp_path / "wrong.yaml"
    wrong_line.write_text(GOOD_HEADER + "  - {code: X, name_zh: 丙, kind: at_least}\n")
    assert await cli.import_file(wrong_line, None, settings) == 1
    assert f"{wrong_line}:6" in capsys.readouterr().err


@pytest.mark.integration
async def test_the_seeded_plan_can_be_read_over_http(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    assert await cli.seed(settings) == 0
    plan = (await client.get("/v1/plans/yintai-2023")).json()
    page = (
        await client.get(
            "/v1/indicators", params={"plan_id": plan["id"], "livelihood_project": "true"}
        )
    ).json()
    assert {i["livelihood_number"] for i in page["items"]} == set(range(1, 11))
