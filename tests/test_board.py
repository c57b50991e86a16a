"""The operations board in Debian's chromium against a real `ewe run`: live rows, actions by
role, the language switch, filter links, the keyboard, sign-in; no console error anywhere."""
from __future__ import annotations

import re
import time
import uuid

import pytest
from browser import Service, Session, chromium, flood
from playwright.sync_api import expect, sync_playwright


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("board") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(),
                                              args=["--no-sandbox", "--disable-gpu",
                                                    "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture
def session(browser, service):
    opened = Session(browser, service)
    yield opened
    opened.close()
    assert opened.console == [], "the page logged errors"


def place() -> tuple[str, str]:
    """A grid and building of their own, so each test finds its rows."""
    tag = uuid.uuid4().hex[:6].upper()
    return f"T-{tag}", f"B{tag}"


def alert_of(service: Service, building: str) -> dict:
    # A fresh embedded broker hands the center's consumer group its first records only after
    # some 20 s, longer on a loaded machine: the first test pays for it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = service.call("GET", f"/v1/alerts?building={building}")["items"]
        if items:
            return items[0]
        time.sleep(0.2)
    raise AssertionError(f"no alert for {building}")


def test_an_event_posted_to_the_ingest_appears_on_the_open_board_without_a_reload(session,
                                                                                     service):
    session.sign_in("viewer")
    session.page.wait_for_selector("table.alerts")
    grid, building = place()
    session.page.evaluate("window.loads = performance.getEntriesByType('navigation').length")
    service.post_events(flood(grid, building))
    row = session.row(building)
    expect(row).to_be_visible(timeout=15_000)
    expect(row.locator(".sev")).to_have_text("红色")
    expect(session.page.locator("#cue")).to_contain_text("新的红色预警")
    assert session.page.evaluate("window.loads") == 1          # the same page: no reload
    session.screenshot("board")


def test_an_operator_acknowledges_and_dispatches_from_the_page_and_the_timeline_shows_both(
        session, service):
    grid, building = place()
    service.post_events(flood(grid, building))
    alert = alert_of(service, building)
    session.sign_in("operator", f"/#/alert/{alert['id']}")
    page = session.page
    page.click("button[data-action=acknowledge]")
    page.fill("#action-fields textarea[name=note]", "值班员已看到")
    page.click("#action-confirm")
    expect(page.locator("#state")).to_contain_text("已响应")
    page.click("button[data-action=dispatch]")
    page.select_option("#action-fields select[name=department]", "渝中区排水管理处")
    page.fill("#action-fields input[name=handler]", "王工")
    page.click("#action-confirm")
    expect(page.locator("#state")).to_contain_text("已派单")
    timeline = page.locator("#timeline li")
    expect(timeline.filter(has_text="响应确认")).to_contain_text("operator 1")
    expect(timeline.filter(has_text="派单")).to_contain_text("渝中区排水管理处")
    assert [event["kind"] for event in service.call("GET", f"/v1/alerts/{alert['id']}")[
        "timeline"]][-2:] == ["acknowledge", "dispatch"]
    session.screenshot("detail")


def test_a_refused_action_shows_the_api_s_reason_in_the_dialog(session, service):
    grid, building = place()
    service.post_events(flood(grid, building))
    alert = alert_of(service, building)
    session.sign_in("operator", f"/#/alert/{alert['id']}")
    page = session.page
    page.click("button[data-action=silence]")
    page.select_option("#action-fields select[name=duration]", "1d")   # beyond the 4h allowed
    page.fill("#action-fields textarea[name=reason]", "泵站检修")
    page.click("#action-confirm")
    expect(page.locator("#action-refusal")).to_have_text(
        re.compile(r"^role operator may silence red alerts for 4h at most, not "))
    page.click("#action-cancel")
    assert service.call("GET", "/v1/silences") == []
    session.console = [line for line in session.console if "403" not in line]


def test_a_viewer_sees_no_action_buttons_and_reaches_no_action(session, service):
    grid, building = place()
    service.post_events(flood(grid, building))
    alert = alert_of(service, building)
    session.sign_in("viewer", f"/#/alert/{alert['id']}")
    page = session.page
    page.wait_for_selector("#timeline")
    assert page.locator("#actions button").count() == 0
    page.goto(f"{service.url}/#/board?building={building}")
    page.locator("table.alerts tr.row").first.focus()
    page.keyboard.press("a")                                # the acknowledge key
    assert not page.locator("#action-dialog").is_visible()
    assert service.call("GET", f"/v1/alerts/{alert['id']}")["state"] == "open"


def test_the_language_switch_changes_the_labels(session):
    session.sign_in("viewer")
    page = session.page
    expect(page.locator("nav a[data-view=board]")).to_have_text("预警看板")
    expect(page.locator("table.alerts th").first).to_have_text("级别")
    page.select_option("#language", "en")
    expect(page.locator("nav a[data-view=board]")).to_have_text("Board")
    expect(page.locator("table.alerts th").first).to_have_text("Severity")
    expect(page.locator("#sign-out")).to_have_text("Sign out")
    page.select_option("#language", "zh-CN")
    expect(page.locator("#sign-out")).to_have_text("退出")


def test_a_filter_link_opened_in_a_new_page_shows_the_same_rows(session, service):
    grid, building = place()
    service.post_events(flood(grid, building) + flood(grid, f"{building}X"))
    alert_of(service, f"{building}X")
    session.sign_in("viewer", f"/#/board?grid={grid}&severity=red")
    page = session.page
    expect(page.locator("table.alerts tr.row")).to_have_count(2)
    shown = page.locator("table.alerts tr.row").evaluate_all(
        "rows => rows.map(row => row.dataset.id)")
    other = session.context.new_page()
    session.watch(other)
    other.goto(page.url)                    # the same link, in a new page of the session
    expect(other.locator("table.alerts tr.row")).to_have_count(2)
    assert other.locator("table.alerts tr.row").evaluate_all(
        "rows => rows.map(row => row.dataset.id)") == shown
    expect(other.locator("select[name=severity]")).to_have_value("red")


def test_keyboard_alone_acknowledges_an_alert(session, service):
    grid, building = place()
    service.post_events(flood(grid, building))
    alert = alert_of(service, building)
    session.sign_in("operator", f"/#/board?building={building}")
    page = session.page
    expect(page.locator("table.alerts tr.row")).to_have_count(1)
    for _ in range(40):                     # Tab from the top of the page to the row
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('tr.row')"):
            break
    page.keyboard.press("a")
    expect(page.locator("#action-dialog")).to_be_visible()
    page.keyboard.press("Tab")              # from the note to the buttons
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")            # 确认提交
    expect(page.locator("#toast")).to_contain_text("已完成")
    assert service.call("GET", f"/v1/alerts/{alert['id']}")["state"] == "acknowledged"


def test_a_revoked_token_returns_to_sign_in_with_the_reason(session, service):
    created = service.call("POST", "/v1/tokens", {"role": "viewer", "name": "to revoke"})
    service.tokens["doomed"] = created["token"]
    session.sign_in("doomed")
    service.call("DELETE", f"/v1/tokens/{created['id']}")
    page = session.page
    time.sleep(10.5)                        # the center checks tokens again after 10 s
    page.select_option("#language", "zh-CN")          # any view change asks the API again
    page.goto(f"{session.service.url}/#/areas")
    expect(page.locator("#sign-in")).to_be_visible(timeout=10_000)
    expect(page.locator("#sign-in-reason")).to_have_text(
        re.compile(rf"token {created['id']} was revoked at "))
    session.console = [line for line in session.console if "401" not in line]


def test_a_wrong_token_is_refused_at_sign_in_with_the_reason(session):
    page = session.page
    page.goto(session.service.url)
    page.fill("#token", "ewe_not-a-token")
    page.press("#token", "Enter")
    expect(page.locator("#sign-in-reason")).to_have_text("unknown token")
    session.console = [line for line in session.console if "401" not in line]


def test_the_area_view_shows_the_tree_with_counts_and_filters_the_board(session, service):
    grid, building = place()
    service.post_events(flood(grid, building))
    alert_of(service, building)
    session.sign_in("viewer", "/#/areas")
    page = session.page
    district = page.locator("#area-tree li[data-level=district][data-name=渝中区]")
    expect(district.locator("> div .dot.red")).to_be_visible()
    expect(page.locator("svg.scatter circle.red").first).to_be_visible()
    session.screenshot("areas")
    district.locator("> div a").click()
    expect(page).to_have_url(re.compile(r"#/board\?district="))
    expect(page.locator("table.alerts tr.row").first).to_be_visible()


def test_the_rule_view_lists_the_pack_and_each_rule_s_alerts(session, service):
    grid, building = place()
    service.post_events(flood(grid, building))
    alert_of(service, building)
    session.sign_in("rule_author", "/#/rules")
    row = session.page.locator("table.rules tr[data-rule='flood.depth']")
    expect(row).to_be_visible()
    assert int(row.locator("td").nth(6).inner_text()) >= 1
    session.screenshot("rules")


def test_the_api_documentation_renders_with_nothing_fetched_from_elsewhere(session, service):
    page = session.page
    elsewhere: list[str] = []
    page.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: (
        elsewhere.append(route.request.url), route.abort()))
    page.goto(f"{service.url}/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("ewe operations center",
                                                               timeout=15_000)
    expect(page.locator(".opblock-tag", has_text="alerts")).to_be_visible()
    assert elsewhere == []
