"""The streaming shell's parts that need no broker: partition runner, settings, inputs that
hold the watermark, rule switches at an event time."""
from __future__ import annotations

import orjson
import pytest

from engine.evaluator import Evaluator
from engine.events import decode
from engine.pack import Pack
from streams.checkpoint import CheckpointStore
from streams.partition import PartitionRunner
from streams.settings import Settings, SettingsError

T0 = 1_790_000_000_000
MINUTE = 60_000

SMOKE_TEXT = """
rules:
  - id: smoke
    on: reading
    match: {type: smoke}
    key: device_id
    when: value >= 1
    severity: yellow
"""
SMOKE = Pack.from_text(SMOKE_TEXT)


def smoke(event_id: str, t: int, value: float = 2, kind: str = "reading") -> bytes:
    if kind == "report":
        return orjson.dumps({"kind": "report", "id": event_id, "ts": t, "text": "冒烟了",
                             "category": "fire"})
    return orjson.dumps({"kind": "reading", "id": event_id, "ts": t, "device_id": event_id,
                         "type": "smoke", "value": value})


def runner(clock=lambda: T0, **options) -> PartitionRunner:
    return PartitionRunner(0, SMOKE, lateness_ms=0, max_future_ms=3_600_000, clock=clock,
                           **options)


def test_runner_evaluates_a_batch_record_and_remembers_the_next_offset():
    partition = runner()
    partition.handle("r", 7, b"[" + smoke("a", T0 - 2000) + b"," + smoke("b", T0 - 1000) + b"]")
    assert partition.offsets == {"r": 8}
    assert partition.evaluator.stats()["events"] == 1   # the newest waits for the watermark


def test_runner_skips_a_record_already_reflected_in_its_state():
    partition = runner()
    partition.handle("r", 0, smoke("a", T0 - 2000))
    assert partition.handle("r", 0, smoke("a", T0 - 2000)).events == 0


def test_runner_dead_letters_an_invalid_event_and_keeps_the_rest_of_the_batch():
    outcome = runner().handle("r", 0, b'[{"kind": "reading"},' + smoke("a", T0 - 1000) + b"]")
    [letter] = outcome.dead
    record = orjson.loads(letter.value)
    assert (letter.reason, record["index"], record["original"]) == \
        ("invalid", 0, '{"kind": "reading"}')
    assert outcome.events == 1


def test_runner_dead_letters_a_late_event_with_the_watermark_in_the_reason():
    partition = runner()
    partition.handle("r", 0, smoke("a", T0 - 1000))
    [letter] = partition.handle("r", 1, smoke("old", T0 - 5000)).dead
    assert letter.reason == "late"
    assert "before the partition's watermark" in orjson.loads(letter.value)["reason"]


def test_runner_advances_an_idle_partition_by_the_wall_time_since_its_last_record():
    now = [T0]
    partition = runner(clock=lambda: now[0])
    partition.handle("r", 0, smoke("a", T0 - 1000))
    assert partition.tick(idle_after_ms=1000) == []
    now[0] += 1500
    [alert] = partition.tick(idle_after_ms=1000)
    assert alert["rule"] == "smoke"


def test_input_with_records_on_the_way_holds_the_watermark_for_the_other_input():
    ends = {"readings": 10, "reports": 5}
    partition = runner(topics=("readings", "reports"), highwater=ends.get)
    partition.handle("readings", 0, b"[" + b",".join(
        smoke(f"r{i}", T0 - 60_000 + i * 1000) for i in range(30)) + b"]")
    late = partition.handle("reports", 0, smoke("p1", T0 - 50_000, kind="report")).dead
    assert late == []


def test_caught_up_input_stops_holding_the_watermark_once_quiet():
    now = [T0]
    partition = runner(clock=lambda: now[0], topics=("readings", "reports"),
                       highwater={"readings": 10, "reports": 0}.get)
    thirty = b"[" + b",".join(smoke(f"r{i}", T0 - 60_000 + i * 1000) for i in range(30)) + b"]"
    assert partition.handle("readings", 0, thirty).alerts == []   # reports may be on the way
    now[0] += 250
    assert len(partition.tick(idle_after_ms=0)) == 29


def test_idle_partition_does_not_advance_while_an_input_has_records_on_the_way():
    now = [T0]
    partition = runner(clock=lambda: now[0], topics=("readings", "reports"),
                       highwater={"readings": 1, "reports": 5}.get)
    partition.handle("readings", 0, smoke("a", T0 - 1000))
    now[0] += 5000
    assert partition.tick(idle_after_ms=1000) == []


def test_checkpoint_restores_state_and_offsets_on_the_same_cluster(tmp_path):
    store = CheckpointStore(tmp_path)
    first = runner()
    first.handle("r", 41, smoke("a", T0 - 1000))
    store.save(first.checkpoint("cluster-1"))
    second = runner()
    second.restore(store.load(0), "cluster-1")
    assert second.offsets == {"r": 42}
    following = smoke("b", T0)
    assert second.handle("r", 42, following).alerts == first.handle("r", 42, following).alerts
    assert second.evaluator.stats() == first.evaluator.stats()


def test_checkpoint_from_another_cluster_keeps_state_but_not_offsets(tmp_path):
    store = CheckpointStore(tmp_path)
    first = runner()
    first.handle("r", 41, smoke("a", T0 - 1000))
    store.save(first.checkpoint("old-cluster"))
    second = runner()
    second.restore(store.load(0), "new-cluster")
    assert second.offsets == {}
    assert second.evaluator.max_time == T0 - 1000


def test_workers_of_two_hosts_with_one_pid_write_a_shared_checkpoint_apart(tmp_path,
                                                                          monkeypatch):
    import socket

    store = CheckpointStore(tmp_path)
    monkeypatch.setattr(socket, "gethostname", lambda: "worker-1")
    first = store.write_path(0, 1)
    monkeypatch.setattr(socket, "gethostname", lambda: "worker-2")
    assert store.write_path(0, 1) != first


# -- the engine's side ---------------------------------------------------------------------------
def events(*items: bytes) -> list:
    return [decode(raw) for raw in items]


def test_pack_scheduled_at_an_event_time_applies_from_it_whatever_the_batching():
    stricter = Pack.from_text(SMOKE_TEXT.replace("value >= 1", "value >= 5"))
    stream = events(*(smoke(f"s{i}", T0 + i * MINUTE) for i in range(10)))
    outcomes = []
    for size in (1, 3, 10):
        evaluator = Evaluator(SMOKE, lateness_ms=0)
        evaluator.schedule(stricter, T0 + 4 * MINUTE)
        fired = []
        for start in range(0, len(stream), size):
            fired += evaluator.process(stream[start:start + size]).alerts
        fired += evaluator.flush().alerts
        outcomes.append(sorted(alert["key"] for alert in fired if alert["change"] == "fired"))
    assert outcomes[0] == outcomes[1] == outcomes[2] == ["s0", "s1", "s2", "s3"]


# -- settings ------------------------------------------------------------------------------------
def test_flags_override_environment_which_overrides_the_config_file(tmp_path):
    config = tmp_path / "ewe.yaml"
    config.write_text("lateness: 1m\npartitions: 8\nhttp: 0.0.0.0:9000\n")
    settings = Settings.resolve(config_file=str(config), environ={"EWE_PARTITIONS": "12"},
                                flags={"http": "127.0.0.1:9100"})
    assert (settings.lateness, settings.partitions, settings.http) == ("1m", 12, "127.0.0.1:9100")


def test_unknown_setting_in_the_config_file_is_refused_with_its_name(tmp_path):
    config = tmp_path / "ewe.yaml"
    config.write_text("latenes: 1m\n")
    with pytest.raises(SettingsError, match="unknown setting 'latenes'"):
        Settings.resolve(config_file=str(config), environ={})


def test_bad_duration_setting_is_refused_with_its_name():
    with pytest.raises(SettingsError, match="^lateness: bad duration"):
        Settings.resolve(environ={"EWE_LATENESS": "two minutes"})
