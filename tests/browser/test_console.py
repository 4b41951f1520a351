"""The console end to end, as people use it (issue #10, "Done when"):

an operator files a call and the console shows the repeat caller the API detected; a town's
handler finds it in its queue, takes it and replies; the leaders' dashboard figure moves.
Screenshots of the workbench and the dashboard are saved in tests/browser/screenshots/.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ConsoleSuite

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 15_000  # bounded wait for anything the page shows after an API answer
DESKTOP = {"width": 1366, "height": 768}
TABLET = {"width": 820, "height": 1180}
CHENLU_VILLAGE = "610203100001"  # 陈炉镇示例村: VILLAGE-AFFAIRS routes to the town, 陈炉镇
HONGTU = "610203101"  # 红土镇


def _act(api: httpx.Client, case: dict[str, Any], action: str, body: dict[str, Any] | None = None):
    answer = api.post(
        f"/v1/cases/{case['id']}/actions/{action}",
        json=body or {},
        headers={"If-Match": f'"{case["version"]}"'},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _file(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    answer = api.post("/v1/cases", json=fields, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _sign_in(page: Any, suite: ConsoleSuite, account: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{suite.url}/login")
    page.get_by_test_id("username").fill(account)
    page.get_by_test_id("password").fill(f"{account}-demo")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("who")).to_contain_text(account, timeout=WAIT_MS)


def _sign_out(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible(timeout=WAIT_MS)


def _shoot(page: Any, path: Path, full_page: bool = True) -> None:
    """A picture from the top (a full-page shot of a scrolled page repeats the sticky bar)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full_page)


def _wait_for_progress(page: Any) -> None:
    from playwright.sync_api import expect

    chapters = page.get_by_test_id("chapters")
    expect(chapters).to_have_attribute("data-loaded", "true", timeout=WAIT_MS)


def _counts(page: Any, testid: str) -> tuple[int, int]:
    text = page.get_by_test_id(testid).locator(".counts").inner_text()
    numerator, denominator = re.fullmatch(r"\s*(\d+)/(\d+)\s*", text).groups()  # type: ignore[union-attr]
    return int(numerator), int(denominator)


@pytest.fixture(scope="module")
def history(console_suite: ConsoleSuite) -> dict[str, Any]:
    """What happened before the test's calls, through the public API: an earlier call from
    the caller, an urgent ticket waiting in 陈炉镇's queue, and a first-time 信访 case that
    红土镇 resolved, so the grassroots figure has a town to show."""
    phone = "139" + str(uuid.uuid4().int)[:8]
    with console_suite.api("operator") as operator:
        earlier = _file(
            operator,
            kind="hotline_ticket",
            channel="hotline_call",
            subject="陈炉镇示例村自来水停水",
            description="陈炉镇示例村自来水停水两天，村里老人吃水困难。",
            category_code="VILLAGE-AFFAIRS",
            place={"unit_id": CHENLU_VILLAGE},
            petitioner={"name": "赵女士", "phone": phone},
        )
        urgent = _file(
            operator,
            kind="hotline_ticket",
            channel="hotline_call",
            subject="陈炉镇示例村村委会门口井盖缺失",
            description="井盖缺失，夜间有人掉落危险。",
            category_code="VILLAGE-AFFAIRS",
            place={"unit_id": CHENLU_VILLAGE},
            urgent=True,
        )
        urgent = _act(operator, _act(operator, urgent, "accept"), "dispatch")
        petition = _file(
            operator,
            kind="petition_case",
            channel="visit",
            subject="红土镇某小区物业不作为",
            description="小区物业长期不清运垃圾，多次反映无果。",
            category_code="PROPERTY",
            place={"unit_id": HONGTU},
            petitioner={"name": "钱先生", "phone": "13700001111"},
        )
        # 第二十二条: the 信访部门 forwards it; the town accepts it with the written notice.
        petition = _act(operator, petition, "dispatch")
    with console_suite.api("handler-hongtu") as hongtu:
        petition = _act(
            hongtu,
            _act(hongtu, petition, "accept", {"notice": {"means": "in_person"}}),
            "reply",
            {"outcome": "supported", "reply": "已督促物业清运垃圾并建立长效机制"},
        )
    with console_suite.api("operator") as operator:
        _act(operator, _act(operator, petition, "rate", {"rating": "satisfied"}), "close")
    _report_progress(console_suite)
    return {"phone": phone, "earlier": earlier, "urgent": urgent}


def _report_progress(suite: ConsoleSuite) -> None:
    """区住建局 reports on indicators it leads: a milestone done, a count half-way."""
    token = suite.token("handler-zhujianju")
    with httpx.Client(
        base_url=suite.targets.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
    ) as targets:
        items = targets.get("/v1/indicators", params={"department": "D-ZJJ"}).json()["items"]
        count = next(i for i in items if i["kind"] == "at_least" and not i["live_source"])
        milestone = next(i for i in items if i["kind"] == "milestone" and not i["live_source"])
        reports = [
            (count, {"value": float(count["target_value"]) / 2}),
            (milestone, {"done": True}),
        ]
        for indicator, body in reports:
            answer = targets.post(
                f"/v1/indicators/{indicator['id']}/reports",
                json={**body, "as_of": "2023-12-31", "note": "浏览器测试上报"},
            )
            assert answer.status_code == 201, answer.text


def test_operator_files_a_repeat_call_handler_replies_dashboard_moves(
    console_suite: ConsoleSuite, history: dict[str, Any], browser: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # The leaders' figure before: the hotline's response rate (tickets taken by a unit).
    _sign_in(page, console_suite, "viewer")
    expect(page.get_by_test_id("hotline-response").locator(".counts")).to_have_text(
        re.compile(r"\d+/\d+"), timeout=WAIT_MS
    )
    taken_before, received_before = _counts(page, "hotline-response")
    _sign_out(page)

    # The operator takes the call, keyboard only: Enter moves on, Ctrl+Enter saves.
    _sign_in(page, console_suite, "operator")
    expect(page).to_have_url(re.compile(r"/queue$"))
    page.get_by_test_id("nav-new").click()
    phone = page.get_by_test_id("phone")
    expect(phone).to_be_focused(timeout=WAIT_MS)
    spaced = f"{history['phone'][:3]} {history['phone'][3:7]} {history['phone'][7:]}"
    page.keyboard.type(spaced)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("name")).to_be_focused()
    page.keyboard.type("赵女士")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("subject")).to_be_focused()
    page.keyboard.type("陈炉镇示例村自来水又停水了")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("description")).to_be_focused()
    page.keyboard.type("陈炉镇示例村自来水停水两天，至今仍未恢复供水。")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("category")).to_be_focused()
    page.get_by_test_id("category").select_option("VILLAGE-AFFAIRS")
    page.get_by_test_id("place").select_option(CHENLU_VILLAGE)
    page.keyboard.press("Control+Enter")

    saved = page.get_by_test_id("saved")
    expect(saved).to_contain_text("已登记", timeout=WAIT_MS)
    repeat = page.get_by_test_id("repeat-detected")
    expect(repeat).to_contain_text(history["earlier"]["case_number"])
    expect(saved).to_contain_text(history["earlier"]["subject"])  # the earlier case, shown
    _shoot(page, screenshots / "workbench-new-case.png")
    case_number = re.search(r"RX\d{4}-\d+", saved.locator(".success").inner_text()).group(0)  # type: ignore[union-attr]

    # The registry accepts and dispatches it (routed by category and place to 陈炉镇).
    page.get_by_test_id("open-saved").click()
    expect(page.get_by_test_id("case-title")).to_contain_text(case_number, timeout=WAIT_MS)
    expect(page.get_by_test_id("repeat-of")).to_contain_text(history["earlier"]["case_number"])
    page.locator("[data-action=accept]").click()
    expect(page.get_by_test_id("case-status")).to_have_text("已受理", timeout=WAIT_MS)
    expect(page.locator("[data-action=take]")).to_have_count(0)  # not the registry's step
    page.locator("[data-action=dispatch]").click()
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("case-status")).to_have_text("已派单", timeout=WAIT_MS)
    expect(page.get_by_test_id("handling-unit")).to_have_text("陈炉镇")
    _sign_out(page)

    # 陈炉镇's handler: the urgent ticket is due within hours, so it leads the queue, marked.
    _sign_in(page, console_suite, "handler-chenlu")
    queue = page.get_by_test_id("queue")
    row = queue.locator(f"tr[data-case-number='{case_number}']")
    expect(row).to_be_visible(timeout=WAIT_MS)
    urgent_row = queue.locator(f"tr[data-case-number='{history['urgent']['case_number']}']")
    expect(urgent_row).to_have_class(re.compile(r"\b(due_soon|overdue)\b"))
    numbers = queue.locator("tbody tr[data-case-number]").evaluate_all(
        "rows => rows.map(r => r.dataset.caseNumber)"
    )
    assert numbers.index(history["urgent"]["case_number"]) < numbers.index(case_number)
    _shoot(page, screenshots / "workbench-queue.png")

    row.click()
    expect(page.get_by_test_id("case-title")).to_contain_text(case_number, timeout=WAIT_MS)
    page.locator("[data-action=take]").click()
    expect(page.get_by_test_id("case-status")).to_have_text("办理中", timeout=WAIT_MS)
    page.locator("[data-action=reply]").click()
    page.locator("[data-field=reply]").fill("已协调供水站抢修管道，当日恢复供水。")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("case-status")).to_have_text("已答复", timeout=WAIT_MS)
    timeline = page.get_by_test_id("timeline")
    for step in ("登记", "受理", "派单", "签收", "答复"):
        expect(timeline).to_contain_text(step)
    # Personal data only on request, and unmasked only because a handler in scope may see it.
    page.get_by_test_id("reveal").click()
    expect(page.get_by_test_id("petitioner-phone")).to_have_text(history["phone"], timeout=WAIT_MS)
    _shoot(page, screenshots / "workbench-case.png")
    _sign_out(page)

    # The dashboard: one more ticket received and one more taken by a unit.
    _sign_in(page, console_suite, "viewer")
    expect(page.get_by_test_id("hotline-response").locator(".counts")).to_have_text(
        f"{taken_before + 1}/{received_before + 1}", timeout=WAIT_MS
    )
    expect(page.get_by_test_id("grassroots-counts")).to_have_text("1/1")
    # The department's reports show against the plan: one indicator achieved, one behind.
    expect(page.get_by_test_id("status-counts")).to_contain_text("已完成 1", timeout=WAIT_MS)
    _wait_for_progress(page)
    page.wait_for_timeout(800)  # let ECharts finish its entry animation for the picture
    _shoot(page, screenshots / "dashboard.png")

    # Every figure leads to its cases: the response rate's include the new ticket.
    page.get_by_test_id("hotline-response").click()
    drill = page.get_by_test_id("drilldown")
    expect(drill).to_contain_text(case_number, timeout=WAIT_MS)
    page.screenshot(path=str(screenshots / "dashboard-drilldown.png"))
    assert errors == []
    context.close()


def test_a_petition_through_the_console_forwarded_accepted_and_extended_by_the_head(
    console_suite: ConsoleSuite, browser: Any, screenshots: Path
) -> None:
    """Issue 15: the console drives the 条例's steps, each signed in as the one who takes it —
    the registry forwards (第二十二条), the town accepts with the written notice and asks for an
    extension, and only the town's head approves it (第三十四条). Every button is the API's
    allowed_actions for that caller."""
    from playwright.sync_api import expect

    with console_suite.api("operator") as operator:
        case = _file(
            operator,
            kind="petition_case",
            channel="letter",
            subject="陈炉镇示例村道路损毁",
            description="村道被重车压坏，雨天无法通行。",
            category_code="VILLAGE-AFFAIRS",
            place={"unit_id": CHENLU_VILLAGE},
            petitioner={"name": "李女士", "phone": "13600002222"},
        )
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    actions = page.get_by_test_id("actions")

    _sign_in(page, console_suite, "operator")
    page.goto(f"{console_suite.url}/cases/{case['id']}")
    expect(page.get_by_test_id("case-status")).to_have_text("已登记", timeout=WAIT_MS)
    expect(page.get_by_test_id("deadline-forwarding")).to_be_visible()
    expect(actions.locator("[data-action=accept]")).to_have_count(0)  # the organ's step
    page.locator("[data-action=dispatch]").click()
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("case-status")).to_have_text("已派单", timeout=WAIT_MS)
    expect(page.get_by_test_id("handling-unit")).to_have_text("陈炉镇")
    expect(actions.locator("button[data-action]")).to_have_count(0)
    _sign_out(page)

    _sign_in(page, console_suite, "handler-chenlu")
    page.goto(f"{console_suite.url}/cases/{case['id']}")
    expect(page.locator("[data-action=accept]")).to_be_visible(timeout=WAIT_MS)
    page.locator("[data-action=accept]").click()
    page.locator("[data-field=notice_means]").select_option("post")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("case-status")).to_have_text("办理中", timeout=WAIT_MS)
    expect(page.get_by_test_id("deadline-handling")).to_be_visible()
    expect(page.locator("[data-action=approve_extension]")).to_have_count(0)
    page.locator("[data-action=request_extension]").click()
    page.locator("[data-field=days]").fill("30")
    page.locator("[data-field=reason]").fill("需协调区交通局共同勘测路面，三十日内难以完工。")
    page.get_by_test_id("action-submit").click()
    pending = page.get_by_test_id("pending-request")
    expect(pending).to_contain_text("延期申请", timeout=WAIT_MS)
    expect(pending).to_contain_text("30 天")
    expect(page.locator("[data-action=request_extension]")).to_have_count(0)  # one at a time
    _sign_out(page)

    _sign_in(page, console_suite, "head-chenlu")
    page.goto(f"{console_suite.url}/cases/{case['id']}")
    expect(page.get_by_test_id("pending-request")).to_contain_text("延期申请", timeout=WAIT_MS)
    expect(actions.locator("button[data-action]")).to_have_count(2)
    _shoot(page, screenshots / "case-extension-request.png")
    page.locator("[data-action=approve_extension]").click()
    page.locator("[data-field=notice_means]").select_option("post")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("pending-request")).to_have_count(0, timeout=WAIT_MS)
    expect(page.get_by_test_id("timeline")).to_contain_text("批准延期")
    with console_suite.api("operator") as operator:
        read = operator.get(f"/v1/cases/{case['id']}").json()
    assert read["extended"] is True and read["pending_request"] is None
    assert errors == []
    context.close()


def test_tablet_and_english(
    console_suite: ConsoleSuite, history: dict[str, Any], browser: Any, screenshots: Path
) -> None:
    """The dashboard on a tablet, in English; the choice of language survives a reload."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=TABLET, locale="zh-CN", has_touch=True)
    page = context.new_page()
    _sign_in(page, console_suite, "planner")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name="领导驾驶舱")).to_be_visible()
    page.get_by_test_id("locale").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("livelihood").locator("li")).to_have_count(10, timeout=WAIT_MS)
    expect(page.get_by_test_id("grassroots-counts")).to_have_text("1/1", timeout=WAIT_MS)
    # Nothing wider than the screen: the page scrolls down, never sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= TABLET["width"]
    _wait_for_progress(page)
    page.wait_for_timeout(800)
    _shoot(page, screenshots / "dashboard-tablet-en.png")
    # A planner works no cases: the workbench is not offered and not reachable.
    expect(page.get_by_role("link", name="Queue")).to_have_count(0)
    page.goto(f"{console_suite.url}/queue")
    expect(page).to_have_url(re.compile(r"/dashboard$"), timeout=WAIT_MS)
    context.close()


def test_signing_in_wrongly_and_out(console_suite: ConsoleSuite, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{console_suite.url}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)queue$"), timeout=WAIT_MS)
    page.get_by_test_id("username").fill("operator")
    page.get_by_test_id("password").fill("wrong")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_role("alert")).to_contain_text("登录失败", timeout=WAIT_MS)
    page.get_by_test_id("password").fill("operator-demo")
    page.get_by_test_id("sign-in").click()
    expect(page).to_have_url(re.compile(r"/queue$"), timeout=WAIT_MS)  # back where they were going
    assert page.evaluate("Object.keys(localStorage).some(k => k.includes('token'))") is False
    page.get_by_test_id("sign-out").click()
    page.goto(f"{console_suite.url}/queue")
    expect(page).to_have_url(re.compile(r"/login"), timeout=WAIT_MS)
    assert page.evaluate("sessionStorage.length") == 0
    context.close()


def _provisional_year() -> int:
    """The first year after this one that the installed calendar library does not know."""
    from petitions_api.deadlines.calendar.sources import CalendarSource, fallback_schedule

    year = date.today().year + 1
    while fallback_schedule(year).source is not CalendarSource.PROVISIONAL:
        year += 1
    return year


def test_a_provisional_deadline_reads_zanding_until_the_notice_is_entered(
    console_suite: ConsoleSuite, browser: Any, screenshots: Path
) -> None:
    """Issue 14: a 信访 case accepted today has its 60-day clock in next year, whose holiday
    schedule no library knows yet: the API says provisional and the console 暂定. Once an admin
    enters the year's schedule, the clock is recomputed and 暂定 is gone."""
    from playwright.sync_api import expect

    operator, admin = console_suite.api("operator"), console_suite.api("admin")
    case = _file(
        operator,
        kind="petition_case",
        channel="letter",
        subject="小区供暖温度不达标",
        description="城关街道某小区连续一周室温低于18度。",
        category_code="HEATING",
        petitioner={"name": "孙先生", "phone": "13712345678"},
    )
    # 第二十二条: the registry forwards it; 红土镇 accepts it with the written notice.
    case = _act(operator, case, "dispatch", {"to_unit_id": HONGTU})
    with console_suite.api("handler-hongtu") as hongtu:
        case = _act(hongtu, case, "accept", {"notice": {"means": "post"}})
    handling = next(d for d in case["deadlines"] if d["kind"] == "handling")
    year = _provisional_year()
    assert handling["provisional"] is (date.fromisoformat(handling["due_on"]).year >= year)

    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    _sign_in(page, console_suite, "operator")
    page.goto(f"{console_suite.url}/cases/{case['id']}")
    clock = page.get_by_test_id("deadline-handling")
    expect(clock).to_be_visible(timeout=WAIT_MS)
    if handling["provisional"]:
        expect(clock.get_by_test_id("provisional")).to_have_text("暂定")
        _shoot(page, screenshots / "case-provisional-deadline.png")

    # The admin enters the year as the State Council's notice gives it (made up here).
    due_year = date.fromisoformat(handling["due_on"]).year
    current = admin.get(f"/v1/calendar/{due_year}")
    rest = [d for d in current.json()["statutory_rest_days"] if date.fromisoformat(d).weekday() < 5]
    entered = admin.put(
        f"/v1/calendar/{due_year}",
        json={
            "holidays": rest,
            "make_up_workdays": [],
            "notice": f"{due_year}年节假日安排（测试）",
        },
        headers={"If-Match": current.headers["ETag"]},
    )
    assert entered.status_code == 200, entered.text
    assert entered.json()["calendar"]["source"] == "official"
    # The recompute runs in the background as soon as the entry commits.
    for _ in range(60):
        read = operator.get(f"/v1/cases/{case['id']}").json()
        handling = next(d for d in read["deadlines"] if d["kind"] == "handling")
        if not handling["provisional"]:
            break
        time.sleep(0.25)
    assert handling["provisional"] is False
    page.reload()
    expect(clock).to_be_visible(timeout=WAIT_MS)
    expect(clock.get_by_test_id("provisional")).to_have_count(0)
    expect(page.get_by_test_id("deadline-handling").locator(".badge")).not_to_contain_text("暂定")
    context.close()
