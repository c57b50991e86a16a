"""The alert ledger on SQLite and on the real PostgreSQL: ingest, chain, grouping, SLA, mutes."""
from __future__ import annotations

import pytest
from center_records import MINUTE, T0, alert_record, shipped_duty
from test_chain import ALLOWED, FIELDS, REFUSED

from center.ledger import AlertFilter, BadRequest, IncidentFilter, Ledger, NotFound
from center.migrations import MIGRATIONS
from center.store import StoreError
from engine.chain import ChainError, State


@pytest.fixture
def ledger(store, clock):
    return Ledger(store, shipped_duty(), clock=clock, targets=["ops"])


def notices(store, kind=None):
    with store.transaction() as tx:
        rows = tx.execute("SELECT kind, payload FROM notifications ORDER BY id").fetchall()
    return [row["kind"] for row in rows if kind is None or row["kind"] == kind]


def kinds(ledger, alert_id):
    return [event["kind"] for event in ledger.alert(alert_id)["timeline"]]


def walk(ledger, alert_id, *actions):
    fields = {"dispatch": {"department": "市排水管理处", "handler": "王工"},
              "resolve": {"note": "pumped out"}, "reply": {"message": "已处理完毕"}}
    for action in actions:
        ledger.act(alert_id, action, fields.get(action, {}), actor="op")


# -- ingest --------------------------------------------------------------------------------------
def test_new_alert_is_recorded_open_firing_and_routed(ledger):
    record = alert_record(district="渝中区")
    ledger.ingest([record])
    alert = ledger.alert(record["id"])
    assert (alert["condition"], alert["state"], alert["department"]) == \
        ("firing", "open", "渝中区排水管理处")


def test_redelivered_alert_changes_are_recorded_once(ledger):
    fired = alert_record()
    resolved = alert_record(change="resolved", at=T0 + 10 * MINUTE)
    ledger.ingest([fired, resolved])
    result = ledger.ingest([fired, resolved, fired])
    assert (result.new, result.updated, result.duplicates) == (0, 0, 3)
    assert kinds(ledger, fired["id"]) == ["fired", "resolved"]
    assert len(ledger.alerts(AlertFilter()).items) == 1


def test_alert_that_clears_before_acknowledgement_stays_listed_as_open(ledger):
    ledger.ingest([alert_record(), alert_record(change="resolved", at=T0 + MINUTE)])
    listed = ledger.alerts(AlertFilter(condition="resolved", state="open")).items
    assert [(item["condition"], item["state"]) for item in listed] == [("resolved", "open")]


def test_an_older_change_delivered_late_does_not_undo_a_newer_one(ledger):
    record = alert_record()
    ledger.ingest([alert_record(change="resolved", at=T0 + MINUTE), record])
    assert ledger.alert(record["id"])["condition"] == "resolved"


def test_severity_escalation_updates_the_alert(ledger):
    ledger.ingest([alert_record()])
    escalated = alert_record(change="escalated", severity="red", at=T0 + MINUTE)
    ledger.ingest([escalated])
    assert ledger.alert(escalated["id"])["severity"] == "red"


# -- chain ---------------------------------------------------------------------------------------
def test_the_whole_chain_is_recorded_with_who_and_when(ledger, clock):
    record = alert_record()
    ledger.ingest([record])
    clock.advance(MINUTE)
    walk(ledger, record["id"], "acknowledge", "dispatch", "resolve", "reply", "close")
    alert = ledger.alert(record["id"])
    assert alert["state"] == "closed"
    assert [(e["kind"], e["actor"]) for e in alert["timeline"][1:]] == [
        (action, "op") for action in ("acknowledge", "dispatch", "resolve", "reply", "close")]


def test_dispatch_sets_department_and_handler(ledger):
    record = alert_record()
    ledger.ingest([record])
    walk(ledger, record["id"], "acknowledge", "dispatch")
    alert = ledger.alert(record["id"])
    assert (alert["department"], alert["handler"]) == ("市排水管理处", "王工")


def test_refused_transition_changes_nothing(ledger):
    record = alert_record()
    ledger.ingest([record])
    with pytest.raises(ChainError, match="cannot resolve an open alert: resolve follows dispatch"):
        ledger.act(record["id"], "resolve", {"note": "x"}, actor="op")
    assert kinds(ledger, record["id"]) == ["fired"]


def test_action_with_a_field_it_does_not_take_is_refused(ledger):
    record = alert_record()
    ledger.ingest([record])
    with pytest.raises(ChainError, match="acknowledge takes no field 'department'"):
        ledger.act(record["id"], "acknowledge", {"department": "x"}, actor="op")


def test_acting_on_an_unknown_alert_is_not_found(ledger):
    with pytest.raises(NotFound):
        ledger.act("nope", "acknowledge", {}, actor="op")


def test_false_positive_marks_the_verdict(ledger):
    record = alert_record()
    ledger.ingest([record])
    alert = ledger.act(record["id"], "false_positive", {"note": "test run"}, actor="op")
    assert (alert["state"], alert["feedback"]["verdict"]) == ("false_positive", "false_positive")


def test_feedback_is_recorded_in_the_history(ledger):
    record = alert_record()
    ledger.ingest([record])
    alert = ledger.feedback(record["id"], actor="op", satisfaction=4,
                            corrected_category="water_leak")
    assert alert["feedback"] == {"verdict": None, "satisfaction": 4,
                                 "corrected_category": "water_leak"}
    assert alert["timeline"][-1]["kind"] == "feedback"


@pytest.mark.parametrize(("given", "message"), [({}, "at least one"),
                                                ({"satisfaction": 6}, "1 to 5"),
                                                ({"verdict": "maybe"}, "verdict must be")])
def test_invalid_feedback_is_refused(ledger, given, message):
    record = alert_record()
    ledger.ingest([record])
    with pytest.raises(BadRequest, match=message):
        ledger.feedback(record["id"], actor="op", **given)


# -- grouping ------------------------------------------------------------------------------------
def test_alerts_of_one_category_and_building_within_the_window_are_one_incident(ledger):
    first = alert_record(key="wl-1")
    second = alert_record("waterlogging.level.rising", key="wl-2", starts_at=T0 + 20 * MINUTE)
    elsewhere = alert_record(key="wl-3", building="B2")
    later = alert_record(key="wl-4", starts_at=T0 + 60 * MINUTE)
    ledger.ingest([first, second, elsewhere, later])
    incident = ledger.alert(first["id"])["incident"]
    assert incident["alert_count"] == 2
    assert ledger.alert(second["id"])["incident"]["id"] == incident["id"]
    assert ledger.alert(elsewhere["id"])["incident"]["id"] != incident["id"]
    assert ledger.alert(later["id"])["incident"]["id"] != incident["id"]


def test_incident_lists_its_alerts_and_takes_the_highest_severity(ledger):
    ledger.ingest([alert_record(key="wl-1"), alert_record(key="wl-2", severity="red")])
    (incident,) = ledger.incidents(IncidentFilter()).items
    detail = ledger.incident(incident["id"])
    assert (detail["severity"], len(detail["alerts"])) == ("red", 2)


# -- SLA -----------------------------------------------------------------------------------------
def test_missed_acknowledge_deadline_escalates_once_to_the_escalation_department(ledger, clock):
    record = alert_record(severity="red")             # acknowledge within 5m
    ledger.ingest([record])
    clock.advance(5 * MINUTE - 1)
    assert ledger.tick()["escalations"] == 0
    clock.advance(1)
    assert ledger.tick()["escalations"] == 1
    assert ledger.tick()["escalations"] == 0
    event = ledger.alert(record["id"])["timeline"][-1]
    assert (event["kind"], event["data"]["step"], event["data"]["escalate_to"]) == \
        ("sla_missed", "acknowledge", "市应急管理局")
    assert notices(ledger.store, "escalation") == ["escalation"]


def test_reminders_repeat_until_someone_acts(ledger, clock):
    record = alert_record(severity="yellow")          # acknowledge within 1h, dispatch 4h
    ledger.ingest([record])
    clock.advance(60 * MINUTE)
    ledger.tick()
    reminders = 0
    for _ in range(3):
        clock.advance(15 * MINUTE)
        reminders += ledger.tick()["reminders"]
    ledger.act(record["id"], "acknowledge", {}, actor="op")
    clock.advance(15 * MINUTE)
    reminders_after = ledger.tick()["reminders"]
    assert (reminders, reminders_after) == (3, 0)


def test_next_step_deadline_escalates_after_acknowledgement(ledger, clock):
    record = alert_record(severity="red")             # dispatch within 15m
    ledger.ingest([record])
    ledger.act(record["id"], "acknowledge", {}, actor="op")
    clock.advance(15 * MINUTE)
    ledger.tick()
    assert ledger.alert(record["id"])["escalated"] == ["dispatch"]


def test_alert_cleared_before_acknowledgement_is_not_escalated(ledger, clock):
    ledger.ingest([alert_record(severity="red"),
                   alert_record(severity="red", change="resolved", at=T0 + MINUTE)])
    clock.advance(60 * MINUTE)
    assert ledger.tick()["escalations"] == 0


# -- notifications, silences, inhibition ---------------------------------------------------------
def test_firing_and_resolved_notices_are_both_queued(ledger):
    ledger.ingest([alert_record(), alert_record(change="resolved", at=T0 + MINUTE)])
    assert notices(ledger.store) == ["firing", "resolved"]


def test_silenced_alert_is_recorded_but_neither_notified_nor_escalated(ledger, clock):
    ledger.add_silence(matchers={"location.building": "B1"}, starts_at=clock.now,
                       ends_at=clock.now + 60 * MINUTE, author="ops", role="operator",
                       reason="pump works")
    record = alert_record(severity="red")
    ledger.ingest([record])
    clock.advance(30 * MINUTE)
    assert ledger.tick()["escalations"] == 0
    assert ledger.alert(record["id"])["silenced"] is True
    assert notices(ledger.store) == []


def test_what_still_fires_when_a_silence_ends_is_notified(ledger, clock):
    silence = ledger.add_silence(matchers={"location.building": "B1"}, starts_at=clock.now,
                                 ends_at=clock.now + 60 * MINUTE, author="ops",
                                 role="operator", reason="works")
    ledger.ingest([alert_record(key="still"), alert_record(key="gone"),
                   alert_record(key="gone", change="resolved", at=T0 + MINUTE)])
    clock.advance(MINUTE)
    ledger.expire_silence(silence["id"])
    assert ledger.tick()["released"] == 1
    assert notices(ledger.store) == ["firing"]


def test_a_firing_cause_inhibits_its_symptom_until_it_resolves(ledger):
    cause = alert_record("gas.concentration.high", "gas-1", category="gas")
    symptom = alert_record("gas.smell.report", "B1", category="gas")
    ledger.ingest([cause])
    ledger.ingest([symptom])
    assert ledger.alert(symptom["id"])["inhibited"] is True
    ledger.ingest([alert_record("gas.concentration.high", "gas-1", category="gas",
                                change="resolved", at=T0 + MINUTE)])
    assert ledger.alert(symptom["id"])["inhibited"] is False
    assert ledger.tick()["released"] == 1


def test_silence_must_end_after_it_starts(ledger, clock):
    with pytest.raises(BadRequest, match="end after it starts"):
        ledger.add_silence(matchers={}, starts_at=clock.now, ends_at=clock.now, author="a",
                           role="admin", reason="r")


# -- queries -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("where", "expected"), [
    (AlertFilter(severity="red"), {"k2"}),
    (AlertFilter(district="渝中区"), {"k3"}),
    (AlertFilter(building="B2"), {"k2"}),
    (AlertFilter(rule="fire.smoke.detected"), {"k3"}),
    (AlertFilter(category="fire"), {"k3"}),
    (AlertFilter(since=T0 + MINUTE, until=T0 + 3 * MINUTE), {"k2"}),
    (AlertFilter(state="acknowledged"), {"k1"}),
])
def test_alert_list_filters(ledger, where, expected):
    ledger.ingest([alert_record(key="k1"),
                   alert_record(key="k2", severity="red", building="B2",
                                starts_at=T0 + 2 * MINUTE),
                   alert_record("fire.smoke.detected", "k3", category="fire", district="渝中区",
                                starts_at=T0 + 4 * MINUTE)])
    ledger.act(alert_record(key="k1")["id"], "acknowledge", {}, actor="op")
    assert {item["key"] for item in ledger.alerts(where).items} == expected


def test_cursor_pages_cover_every_alert_once(ledger, clock):
    for n in range(7):
        ledger.ingest([alert_record(key=f"k{n}")])
        clock.advance(1 if n % 2 else 0)      # some alerts opened at the same instant
    seen, cursor = [], None
    while True:
        page = ledger.alerts(AlertFilter(), limit=3, cursor=cursor)
        seen += [item["key"] for item in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == [f"k{n}" for n in range(7)]


def test_malformed_cursor_is_a_bad_request(ledger):
    with pytest.raises(BadRequest, match="invalid cursor"):
        ledger.alerts(AlertFilter(), cursor="%%%")


# -- chain events out ----------------------------------------------------------------------------
def test_chain_events_are_handed_out_once_published(ledger):
    record = alert_record()
    ledger.ingest([record])
    ledger.act(record["id"], "acknowledge", {}, actor="op")
    pending = ledger.unpublished()
    assert [(e["kind"], e["rule"]) for e in pending] == [
        ("fired", "waterlogging.level.high"), ("acknowledge", "waterlogging.level.high")]
    ledger.mark_published([e["seq"] for e in pending])
    assert ledger.unpublished() == []


def test_reopening_a_store_applies_no_migration_twice(store):
    assert store.migrate() == []
    with store.transaction() as tx:
        versions = [row["version"] for row in
                    tx.execute("SELECT version FROM schema_migrations").fetchall()]
    assert versions == [migration.version for migration in MIGRATIONS]


def test_a_ledger_migrated_by_a_newer_ewe_is_refused_not_written(store):
    with store.transaction() as tx:
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                   (MIGRATIONS[-1].version + 1, "from a newer ewe"))
    with pytest.raises(StoreError, match=f"version {MIGRATIONS[-1].version + 1}, newer than"):
        store.migrate()


# -- every transition and refusal, through the ledger ---------------------------------------------
_PATH_TO = {State.open: [], State.acknowledged: ["acknowledge"],
            State.dispatched: ["acknowledge", "dispatch"],
            State.resolved: ["acknowledge", "dispatch", "resolve"],
            State.replied: ["acknowledge", "dispatch", "resolve", "reply"],
            State.closed: ["acknowledge", "dispatch", "resolve", "reply", "close"],
            State.false_positive: ["false_positive"]}


@pytest.mark.parametrize(("state", "action", "after"), ALLOWED,
                         ids=[f"{s.value}-{a}" for s, a, _ in ALLOWED])
def test_ledger_takes_every_allowed_transition(ledger, state, action, after):
    record = alert_record()
    ledger.ingest([record])
    for step in _PATH_TO[state]:
        ledger.act(record["id"], step, FIELDS.get(step, {}), actor="op")
    alert = ledger.act(record["id"], action, FIELDS.get(action, {}), actor="op")
    assert (alert["state"], alert["timeline"][-1]["kind"]) == (after.value, action)


@pytest.mark.parametrize(("state", "action"), REFUSED, ids=[f"{s.value}-{a}" for s, a in REFUSED])
def test_ledger_refuses_every_invalid_transition_and_records_nothing(ledger, state, action):
    record = alert_record()
    ledger.ingest([record])
    for step in _PATH_TO[state]:
        ledger.act(record["id"], step, FIELDS.get(step, {}), actor="op")
    before = ledger.alert(record["id"])["timeline"]
    with pytest.raises(ChainError, match="cannot"):
        ledger.act(record["id"], action, FIELDS.get(action, {}), actor="op")
    assert ledger.alert(record["id"])["timeline"] == before


def test_two_replicas_opening_alerts_of_one_group_at_once_make_one_incident(clock):
    """PostgreSQL only: on SQLite one transaction writes at a time anyway."""
    import threading
    import uuid

    import psycopg
    from conftest import POSTGRES_URL

    from center.store import open_store

    schema = f"test_{uuid.uuid4().hex[:12]}"
    stores = [open_store(POSTGRES_URL, schema=schema) for _ in range(2)]
    try:
        replicas = [Ledger(store, shipped_duty(), clock=clock, targets=[]) for store in stores]

        def open_alert(ledger: Ledger, key: str, building: str, start: threading.Barrier) -> None:
            start.wait()
            ledger.ingest([alert_record(key=key, building=building)])

        for building in range(12):
            start = threading.Barrier(2)
            threads = [threading.Thread(target=open_alert,
                                        args=(replica, f"{name}{building}", f"B{building}", start))
                       for replica, name in zip(replicas, "ab", strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        with stores[0].transaction() as tx:
            counts = tx.execute("SELECT group_key, COUNT(*) AS n FROM incidents "
                                "GROUP BY group_key").fetchall()
        assert len(counts) == 12 and {row["n"] for row in counts} == {1}
    finally:
        for store in stores:
            store.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_two_operators_acknowledging_at_once_are_served_one_after_the_other(ledger):
    import threading

    from engine.chain import ChainError

    record = alert_record()
    ledger.ingest([record])
    start, outcomes = threading.Barrier(8), []

    def acknowledge(name: str) -> None:
        start.wait()
        try:
            ledger.act(record["id"], "acknowledge", {}, actor=name)
            outcomes.append("acknowledged")
        except ChainError:
            outcomes.append("refused")

    threads = [threading.Thread(target=acknowledge, args=(f"op{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["acknowledged"] + ["refused"] * 7
    kinds = [step["kind"] for step in ledger.alert(record["id"])["timeline"]]
    assert kinds.count("acknowledge") == 1


# -- archiving -----------------------------------------------------------------------------------
def publish_all(ledger):
    ledger.mark_published([event["seq"] for event in ledger.unpublished(limit=10_000)])


def closed_alert(ledger, key: str, building: str = "B1") -> str:
    record = alert_record(key=key, building=building)
    ledger.ingest([record])
    walk(ledger, record["id"], "acknowledge", "dispatch", "resolve", "reply", "close")
    return record["id"]


def test_archive_moves_finished_alerts_out_with_their_whole_history(store, clock):
    ledger = Ledger(store, shipped_duty(), clock=clock, targets=[])
    finished = closed_alert(ledger, "wl-1", building="B1")
    still_open = alert_record(key="wl-2", building="B2")
    ledger.ingest([still_open])
    publish_all(ledger)
    clock.advance(MINUTE)
    kept = []
    assert ledger.archive(clock(), kept.extend) == 1
    assert [alert["id"] for alert in kept] == [finished]
    assert [event["kind"] for event in kept[0]["timeline"]][-1] == "close"
    with pytest.raises(NotFound):
        ledger.alert(finished)
    assert ledger.alert(still_open["id"])["state"] == "open"
    assert [i["id"] for i in ledger.incidents(IncidentFilter()).items] == \
        [ledger.alert(still_open["id"])["incident"]["id"]]


def test_archive_waits_for_history_to_be_published_and_notices_to_be_sent(ledger, clock):
    finished = closed_alert(ledger, "wl-1")       # the fixture's ledger notifies "ops"
    clock.advance(MINUTE)
    assert ledger.archive(clock(), lambda alerts: None) == 0
    publish_all(ledger)
    assert ledger.archive(clock(), lambda alerts: None) == 0    # a notice still pending
    with ledger.store.transaction() as tx:
        tx.execute("UPDATE notifications SET status = 'sent'")
    assert ledger.archive(clock(), lambda alerts: None) == 1
    with pytest.raises(NotFound):
        ledger.alert(finished)


def test_alerts_stay_in_the_ledger_when_keeping_them_fails(store, clock):
    ledger = Ledger(store, shipped_duty(), clock=clock, targets=[])
    finished = closed_alert(ledger, "wl-1")
    publish_all(ledger)
    clock.advance(MINUTE)

    def disk_full(alerts):
        raise OSError("no space left on device")

    with pytest.raises(OSError):
        ledger.archive(clock(), disk_full)
    assert ledger.alert(finished)["state"] == "closed"
