"""What the board asks the center beyond the alert list: the board's order and its counts, the
area tree, who is signed in, the duty list's departments, the rule view, the actions a caller
may take. On SQLite and the real PostgreSQL."""
from __future__ import annotations

import pytest
from center_records import MINUTE, T0, alert_record, shipped_duty
from fastapi.testclient import TestClient

from center.api.deps import Center
from center.app import create_app
from center.auth import create_token
from center.ledger import Ledger
from engine.messages import Held, PackStatus, Refusal
from engine.pack import Pack
from ewe.shipped import SHIPPED_RULES


class Board:
    def __init__(self, store, clock, rules=None) -> None:
        self.ledger = Ledger(store, shipped_duty(), clock=clock)
        self.center = Center(self.ledger, timezone="Asia/Shanghai", rules=rules)
        self.client = TestClient(create_app(self.center))
        self.tokens = {role: create_token(store, role=role, name=f"{role}-1", now=clock())
                       for role in ("viewer", "operator", "rule_author")}

    def get(self, path: str, role: str = "viewer", **params):
        response = self.client.get(path, params=params,
                                   headers={"Authorization": f"Bearer {self.tokens[role]}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def board(store, clock):
    return Board(store, clock)


def city(board, clock) -> list[dict]:
    """Nine alerts: three colours in two districts, opened a minute apart, two of them ended."""
    records = []
    for n, (severity, district) in enumerate([
            ("yellow", "渝中区"), ("red", "江北区"), ("blue", "渝中区"), ("red", "渝中区"),
            ("yellow", "江北区"), ("blue", "江北区"), ("red", "江北区"), ("yellow", "渝中区"),
            ("orange", "渝中区")]):
        record = alert_record(key=f"k{n}", severity=severity, district=district,
                              starts_at=T0 + n * MINUTE, building=f"B{n}",
                              place={"grid": f"G-{district}-{n % 2}", "lat": 29.5 + n / 100,
                                     "lon": 106.5})
        board.ledger.ingest([record])
        clock.advance(MINUTE)
        records.append(record)
    for ended in (records[6], records[2]):
        board.ledger.act(ended["id"], "false_positive", {}, actor="op")
    return records


def test_the_board_order_is_red_first_then_newest_and_pages_continue_it(board, clock):
    records = city(board, clock)
    seen, cursor = [], None
    while True:
        page = board.get("/v1/alerts", open="true", order="severity", limit=2,
                         **({"cursor": cursor} if cursor else {}))
        seen += [(item["severity"], item["key"]) for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [("red", "k3"), ("red", "k1"), ("orange", "k8"), ("yellow", "k7"),
                    ("yellow", "k4"), ("yellow", "k0"), ("blue", "k5")]
    assert len(records) - len(seen) == 2            # the two false positives are not open


def test_counts_give_each_colour_and_chain_state_of_the_filter(board, clock):
    city(board, clock)
    counts = board.get("/v1/alerts/counts", district="渝中区")
    assert counts["total"] == 5
    assert counts["severity"] == {"red": 1, "orange": 1, "yellow": 2, "blue": 1}
    assert counts["state"]["open"] == 4 and counts["state"]["false_positive"] == 1


def test_the_area_tree_counts_open_alerts_and_shows_the_worst_colour_at_each_level(board, clock):
    city(board, clock)
    areas = board.get("/v1/areas", open="true")
    districts = {node["name"]: node for node in areas["tree"]}
    assert {name: (node["count"], node["worst"]) for name, node in districts.items()} == {
        "渝中区": (4, "red"), "江北区": (3, "red")}
    [street] = districts["江北区"]["children"]
    [community] = street["children"]
    assert {grid["name"]: (grid["count"], grid["worst"]) for grid in community["children"]} == {
        "G-江北区-1": (2, "red"), "G-江北区-0": (1, "yellow")}
    assert len(areas["points"]) == 7 and {"lat", "lon", "severity", "id"} <= set(areas["points"][0])


def test_a_department_filter_keeps_the_alerts_routed_or_dispatched_to_it(board, clock):
    records = city(board, clock)
    routed = board.get("/v1/alerts", department="渝中区排水管理处")["items"]
    assert sorted(item["key"] for item in routed) == ["k0", "k2", "k3", "k7", "k8"]
    board.ledger.act(records[0]["id"], "acknowledge", {}, actor="op")
    board.ledger.act(records[0]["id"], "dispatch", {"department": "消防救援支队"}, actor="op")
    page = board.get("/v1/alerts", department="消防救援支队")
    assert [item["key"] for item in page["items"]] == ["k0"]


def test_each_list_item_says_which_step_is_due_next_and_by_when(board, clock):
    board.ledger.ingest([alert_record(severity="red")])
    [item] = board.get("/v1/alerts")["items"]
    assert item["next_due"] == {"step": "acknowledge", "at": "2026-07-01T00:05:00.000Z"}


def test_me_names_the_caller_its_role_permissions_and_the_city_time_zone(board):
    me = board.get("/v1/me", role="operator")
    assert (me["name"], me["role"], me["timezone"]) == ("operator-1", "operator", "Asia/Shanghai")
    assert {"read", "act", "silence", "contacts"} <= set(me["permissions"])
    assert "tokens" not in me["permissions"]


def test_the_duty_list_gives_every_department_once(board):
    departments = board.get("/v1/duty")["departments"]
    assert "消防救援支队" in departments and len(departments) == len(set(departments))


def test_a_viewer_is_offered_no_action_and_an_operator_the_ones_the_state_allows(board):
    record = alert_record()
    board.ledger.ingest([record])
    assert board.get(f"/v1/alerts/{record['id']}")["actions"] == []
    operator = board.get(f"/v1/alerts/{record['id']}", role="operator")["actions"]
    assert "acknowledge" in operator and "dispatch" not in operator and "silence" in operator


def test_the_rule_view_joins_the_pack_to_each_rule_s_record_in_the_ledger(store, clock):
    rules, models = Pack.load([SHIPPED_RULES]).outline()
    status = PackStatus(version="v7", rules=rules, models=models,
                        quarantined=(Held("environment.level", "ValueError: bad", T0, (0, 2)),),
                        refused=(Refusal(T0, "a pushed rule pack: rules.yaml:3: bad"),))
    board = Board(store, clock, rules=lambda: status)
    fired = alert_record()
    board.ledger.ingest([fired, alert_record(key="wl-2"), alert_record(rule="retired.rule")])
    board.ledger.feedback(fired["id"], actor="op", verdict="true_positive")
    view = board.get("/v1/rules", role="rule_author")
    by_id = {rule["id"]: rule for rule in view["rules"]}
    record = by_id["waterlogging.level.high"]["record"]
    assert (record["alerts"], record["firing"], record["precision"]) == (2, 2, 1.0)
    assert by_id["fire.smoke.alarm"]["record"]["alerts"] == 0
    assert view["quarantined"][0]["at"] == "2026-07-01T00:00:00.000Z"
    assert view["refused"][0]["reason"].startswith("a pushed rule pack")
    assert view["retired"] == ["retired.rule"]


def test_the_rule_view_of_a_center_without_a_worker_says_where_it_is_served(board):
    response = board.client.get("/v1/rules",
                                headers={"Authorization": f"Bearer {board.tokens['viewer']}"})
    assert response.status_code == 404 and "ewe run" in response.json()["error"]


def test_the_board_page_and_the_api_documentation_need_nothing_from_elsewhere(board):
    page = board.client.get("/")
    assert page.status_code == 200 and "script-src 'self'" in \
        page.headers["content-security-policy"]
    docs = board.client.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert board.client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200


# -- answers kept between changes ----------------------------------------------------------------
def test_a_list_asked_again_after_a_change_shows_the_change(board):
    first = alert_record(key="k1")
    board.ledger.ingest([first])
    assert [item["key"] for item in board.get("/v1/alerts")["items"]] == ["k1"]
    assert board.get("/v1/alerts/counts")["total"] == 1
    board.ledger.ingest([alert_record(key="k2", starts_at=T0 + MINUTE)])
    board.ledger.act(first["id"], "acknowledge", {}, actor="op")
    items = board.get("/v1/alerts")["items"]
    assert [(item["key"], item["state"]) for item in items] == [("k2", "open"),
                                                                ("k1", "acknowledged")]
    assert board.get("/v1/alerts/counts")["total"] == 2


def test_a_change_another_replica_made_reaches_the_lists_this_one_keeps(clock):
    """On one PostgreSQL ledger, a list kept by replica A is given up when replica B records
    an alert (its notification), not merely once the answer is old."""
    import time
    import uuid

    import psycopg
    from conftest import POSTGRES_URL

    from center.answers import Answers
    from center.store import open_store

    schema = f"test_{uuid.uuid4().hex[:12]}"
    stores = [open_store(POSTGRES_URL, schema=schema) for _ in range(2)]
    try:
        replica = Board.__new__(Board)
        replica.ledger = Ledger(stores[0], shipped_duty(), clock=clock)
        replica.center = Center(replica.ledger, answers=Answers(max_age_s=3600))
        replica.client = TestClient(create_app(replica.center))
        replica.tokens = {"viewer": create_token(stores[0], role="viewer", name="v",
                                                 now=clock())}
        assert replica.get("/v1/alerts")["items"] == []
        other = Center(Ledger(stores[1], shipped_duty(), clock=clock))   # replica B
        other.ledger.ingest([alert_record()])
        deadline = time.monotonic() + 10
        while not replica.get("/v1/alerts")["items"]:
            assert time.monotonic() < deadline, "the kept list was never given up"
            time.sleep(0.05)
    finally:
        for store in stores:
            store.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
