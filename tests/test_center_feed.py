"""The live feed over a real HTTP connection: server-sent events of alert changes and chain
steps, with no reporter contact details in them."""
from __future__ import annotations

import threading
import time

import httpx
import orjson
import pytest
import uvicorn
from center_records import alert_record, keep_contact, shipped_duty

from center.api.deps import Center
from center.app import create_app
from center.auth import create_token
from center.ledger import Ledger
from center.store import open_store
from streams.broker import free_port

PHONE = "13812345678"


@pytest.fixture
def served(tmp_path, clock):
    store = open_store(f"sqlite://{tmp_path / 'center.db'}")
    ledger = Ledger(store, shipped_duty(), clock=clock)
    token = create_token(store, role="viewer", name="wall", now=clock())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Center(ledger)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield ledger, f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(10)
    store.close()


def read_events(lines, count: int) -> list[tuple[str, dict]]:
    events, kind = [], None
    for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((kind, orjson.loads(line.removeprefix("data: "))))
            if len(events) == count:
                return events
    return events


def test_feed_streams_new_alerts_and_chain_steps_without_contacts(served):
    ledger, url, token = served
    keep_contact(ledger.store, {"name": "张伟", "phone": PHONE})
    record = alert_record(report=True)
    with httpx.stream("GET", f"{url}/v1/stream", timeout=10,
                      headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith(":")          # the connection comment: subscribed now
        ledger.ingest([record])
        ledger.act(record["id"], "acknowledge", {"note": "on it"}, actor="op")
        (kind1, alert), (kind2, step) = read_events(lines, 2)
        raw = orjson.dumps([alert, step]).decode()
    assert (kind1, alert["alert"]["id"], alert["change"]) == ("alert", record["id"], "fired")
    assert (kind2, step["event"]["kind"], step["alert"]["state"]) == \
        ("event", "acknowledge", "acknowledged")
    assert PHONE not in raw and "张伟" not in raw


def read_ids(lines, count: int) -> list[tuple[str, str]]:
    """(id, event) of the next `count` messages."""
    messages, message_id = [], None
    for line in lines:
        if line.startswith("id: "):
            message_id = line.removeprefix("id: ")
        elif line.startswith("event: "):
            messages.append((message_id, line.removeprefix("event: ")))
            message_id = None
            if len(messages) == count:
                return messages
    return messages


def test_a_board_reconnecting_with_the_last_id_it_saw_gets_what_it_missed(served):
    ledger, url, token = served
    headers = {"Authorization": f"Bearer {token}"}
    first, second, third = (alert_record(key=f"wl-{n}") for n in range(3))
    with httpx.stream("GET", f"{url}/v1/stream", timeout=10, headers=headers) as response:
        lines = response.iter_lines()
        next(lines)
        ledger.ingest([first])
        [(seen, _)] = read_ids(lines, 1)
    ledger.ingest([second])                 # while the board is away
    ledger.ingest([third])
    with httpx.stream("GET", f"{url}/v1/stream", timeout=10,
                      headers={**headers, "Last-Event-ID": seen}) as response:
        lines = response.iter_lines()
        next(lines)
        missed = read_events(lines, 2)
    assert [item["alert"]["id"] for _, item in missed] == [second["id"], third["id"]]


def test_a_board_whose_last_id_is_unknown_is_told_to_reload(served):
    ledger, url, token = served
    with httpx.stream("GET", f"{url}/v1/stream", timeout=10,
                      headers={"Authorization": f"Bearer {token}",
                               "Last-Event-ID": "0badc0de.7"}) as response:
        lines = response.iter_lines()
        next(lines)
        assert read_ids(lines, 1) == [(None, "reset")]


def test_feed_needs_a_token(served):
    _, url, _ = served
    assert httpx.get(f"{url}/v1/stream").status_code == 401


def test_a_replica_s_feed_shows_the_alerts_another_replica_recorded(clock):
    """Two center processes on one PostgreSQL ledger: each streams every change."""
    import uuid

    import psycopg
    from conftest import POSTGRES_URL

    schema = f"test_{uuid.uuid4().hex[:12]}"
    stores = [open_store(POSTGRES_URL, schema=schema) for _ in range(2)]
    try:
        token = create_token(stores[0], role="viewer", name="wall", now=clock())
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(
            create_app(Center(Ledger(stores[0], shipped_duty(), clock=clock))),
            host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        other = Center(Ledger(stores[1], shipped_duty(), clock=clock)).ledger
        record = alert_record()
        with httpx.stream("GET", f"http://127.0.0.1:{port}/v1/stream", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}) as response:
            lines = response.iter_lines()
            next(lines)                                   # connected
            other.ingest([record])
            [(kind, item)] = read_events(lines, 1)
        assert (kind, item["alert"]["id"]) == ("alert", record["id"])
        server.should_exit = True
        thread.join(10)
    finally:
        for store in stores:
            store.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
