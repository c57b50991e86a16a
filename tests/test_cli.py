"""The `ewe` command as a user runs it: simulate, replay, score and rule tests."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ewe.cli import main

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    events, truth = folder / "events.jsonl", folder / "truth.jsonl"
    assert main(["simulate", "--seed", "11", "--duration", "6h", "--devices", "300",
                 "--out", str(events), "--truth", str(truth)]) == 0
    return events, truth


def test_simulate_is_deterministic_for_a_seed(city, tmp_path):
    events, truth = city
    again, again_truth = tmp_path / "e.jsonl", tmp_path / "t.jsonl"
    main(["simulate", "--seed", "11", "--duration", "6h", "--devices", "300",
          "--out", str(again), "--truth", str(again_truth)])
    assert again.read_bytes() == events.read_bytes()
    assert again_truth.read_bytes() == truth.read_bytes()


def test_replaying_twice_gives_byte_identical_alerts(city, tmp_path):
    events, _ = city
    first, second = tmp_path / "a1.jsonl", tmp_path / "a2.jsonl"
    assert main(["replay", str(events), "--out", str(first)]) == 0
    assert main(["replay", str(events), "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes() and first.stat().st_size > 0


def test_replay_writes_alert_records_to_stdout_and_a_summary_to_stderr(city):
    events, _ = city
    result = subprocess.run([sys.executable, "-m", "ewe", "replay", str(events)],
                            capture_output=True, check=True)
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert records and {r["status"] for r in records} == {"firing", "resolved"}
    summary = result.stderr.decode()
    assert "events read" in summary and "alerts fired:" in summary


def test_replay_with_truth_reports_recall_and_lead_time(city, capsys):
    events, truth = city
    assert main(["replay", str(events), "--out", "/dev/null", "--truth", str(truth)]) == 0
    err = capsys.readouterr().err
    assert "incident type" in err and "lead p50" in err
    assert "all " in err


def test_replay_counts_and_shows_rejected_lines(tmp_path, capsys):
    events = tmp_path / "bad.jsonl"
    events.write_bytes(b'{"kind":"reading","id":"a","ts":1782864000000,"device_id":"d",'
                       b'"type":"gas","value":1}\nnot json\n{"kind":"reading","id":"b",'
                       b'"ts":1782864000000,"device_id":"d","type":"gas","value":"x"}\n')
    assert main(["replay", str(events), "--out", str(tmp_path / "a.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "events read 3, rejected 2" in err
    assert "line 3: value: expected a number, got a string" in err


def test_replay_refuses_a_broken_rule_file(tmp_path, capsys):
    (tmp_path / "r.yaml").write_text("rules:\n  - id: x\n    on: reading\n    when: value >\n"
                                     "    severity: blue\n")
    events = tmp_path / "e.jsonl"
    events.write_text("")
    assert main(["replay", str(events), "--rules", str(tmp_path)]) == 1
    assert "r.yaml:4:" in capsys.readouterr().err


def test_rules_test_prints_a_diff_and_exits_1_when_an_expectation_fails(tmp_path, capsys):
    (tmp_path / "r.yaml").write_text((ROOT / "rules" / "waterlogging.yaml").read_text())
    test = (ROOT / "rules" / "tests" / "waterlogging.test.yaml").read_text()
    (tmp_path / "r.test.yaml").write_text(
        test.replace("../waterlogging.yaml", "r.yaml").replace(
            "{at: 6m, rule: waterlogging.level.high", "{at: 7m, rule: waterlogging.level.high", 1))
    assert main(["rules", "test", str(tmp_path / "r.test.yaml")]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "-      7m  waterlogging.level.high  wl-1  yellow  firing" in out
    assert "+      6m  waterlogging.level.high  wl-1  yellow  firing" in out


def test_rules_test_refuses_a_test_file_with_file_and_line(tmp_path, capsys):
    (tmp_path / "r.yaml").write_text((ROOT / "rules" / "gas.yaml").read_text())
    (tmp_path / "r.test.yaml").write_text("rule_files: [r.yaml]\ntests:\n  - name: x\n"
                                          "    input:\n      - series: {kind: reading}\n"
                                          "        values: '1 2x'\n    expect: []\n")
    assert main(["rules", "test", str(tmp_path / "r.test.yaml")]) == 1
    assert "r.test.yaml:6: values: bad series step '2x'" in capsys.readouterr().err


def test_detect_writes_one_score_per_row_and_flags_the_spike(tmp_path, capsys):
    series = tmp_path / "in.csv"
    rows = [f"2014-04-01 {h:02d}:{m:02d}:00,{10 + (m % 3) * 0.1 + (40 if (h, m) == (5, 0) else 0)}"
            for h in range(8) for m in range(0, 60, 5)]
    series.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out.csv"
    assert main(["detect", "--detector", "zscore", "--param", "warmup=10", str(series),
                 "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score" and len(lines) == len(rows) + 1
    scores = [float(line.rsplit(",", 1)[1]) for line in lines[1:]]
    spike = rows.index(next(r for r in rows if r.startswith("2014-04-01 05:00:00")))
    assert scores[spike] == max(scores) and scores[0] == 0.0
    assert "96 rows scored by ZScore(fading_factor=0.01, warmup=10)" in capsys.readouterr().err


def test_detect_refuses_a_file_without_the_header(tmp_path, capsys):
    series = tmp_path / "in.csv"
    series.write_text("2014-04-01 00:00:00,1\n")
    assert main(["detect", "--detector", "zscore", str(series), "--out",
                 str(tmp_path / "o.csv")]) == 1
    assert "the first line must be the header timestamp,value" in capsys.readouterr().err


def test_simulate_writes_incidents_with_time_place_and_devices(city):
    _, truth = city
    incidents = [orjson.loads(line) for line in truth.read_bytes().splitlines()]
    assert incidents and all(
        {"id", "type", "category", "start", "end", "key", "location", "devices"} <= set(i)
        for i in incidents)
    assert all(i["start"] < i["end"] for i in incidents)


def test_rules_check_validates_the_shipped_duty_list_beside_the_rules(capsys):
    assert main(["rules", "check", str(Path(__file__).parent.parent / "rules")]) == 0
    assert "duty list" in capsys.readouterr().out


def test_rules_check_refuses_a_broken_duty_list_with_file_and_line(tmp_path, capsys):
    broken = tmp_path / "duty.yaml"
    broken.write_text("duty:\n  - match: {labels.category: gas}\n    departmnt: x\n")
    assert main(["rules", "check", str(broken)]) == 1
    assert f"{broken}:3: route 1: unknown key 'departmnt'" in capsys.readouterr().err


def test_token_create_prints_a_token_the_ledger_knows(tmp_path, capsys):
    from center.auth import authenticate
    from center.store import open_store

    assert main(["token", "create", "--role", "viewer", "--data-dir", str(tmp_path)]) == 0
    token = capsys.readouterr().out.strip()
    store = open_store(f"sqlite://{tmp_path / 'center.db'}")
    try:
        assert authenticate(store, token, now=0).role == "viewer"
    finally:
        store.close()


def test_token_create_with_a_scope_makes_a_token_for_that_area(tmp_path, capsys):
    from center.auth import authenticate
    from center.store import open_store

    ledger = ["--data-dir", str(tmp_path)]
    assert main(["token", "create", "--role", "operator", "--scope", "district=渝中区",
                 *ledger]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["token", "list", *ledger]) == 0
    assert "district=渝中区" in capsys.readouterr().out
    store = open_store(f"sqlite://{tmp_path / 'center.db'}")
    try:
        assert authenticate(store, token, now=0).scope == ("district", "渝中区")
    finally:
        store.close()
    assert main(["token", "create", "--role", "admin", "--scope", "district=渝中区",
                 *ledger]) == 2
    assert "covers the whole city" in capsys.readouterr().err


def test_token_revoke_by_the_id_token_list_shows_makes_the_token_useless(tmp_path, capsys):
    from center.auth import TokenRefused, authenticate
    from center.store import open_store

    ledger = ["--data-dir", str(tmp_path)]
    main(["token", "create", "--role", "operator", "--name", "desk 3", *ledger])
    token = capsys.readouterr().out.strip()
    assert main(["token", "list", *ledger]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "operator" in line and "desk 3" in line and token not in line
    assert main(["token", "revoke", line.split()[0], *ledger]) == 0
    assert main(["token", "revoke", "tok-unknown", *ledger]) == 1
    store = open_store(f"sqlite://{tmp_path / 'center.db'}")
    try:
        with pytest.raises(TokenRefused, match="was revoked at"):
            authenticate(store, token, now=0)
    finally:
        store.close()


def test_center_archive_writes_finished_alerts_to_a_new_file_and_drops_them(tmp_path, capsys):
    from center_records import shipped_duty
    from test_center_ledger import closed_alert, publish_all

    from center.ledger import Ledger
    from center.store import open_store

    store = open_store(f"sqlite://{tmp_path / 'center.db'}")
    try:
        ledger = Ledger(store, shipped_duty(), clock=lambda: 1_782_864_000_000)
        finished = closed_alert(ledger, "wl-1")
        publish_all(ledger)
    finally:
        store.close()
    archive = tmp_path / "2026.jsonl"
    command = ["center", "archive", "--before", "2026-07-02T00:00:00Z", "--out", str(archive),
               "--data-dir", str(tmp_path)]
    assert main(command) == 0
    assert "archived 1 alerts" in capsys.readouterr().err
    [line] = archive.read_bytes().splitlines()
    assert orjson.loads(line)["id"] == finished
    assert main(command) == 2                  # an archive is never overwritten
    assert "File exists" in capsys.readouterr().err


def test_center_backup_copies_the_ledger_of_a_running_center(tmp_path, capsys):
    from center_records import alert_record, shipped_duty

    from center.ledger import AlertFilter, Ledger
    from center.store import open_store

    store = open_store(f"sqlite://{tmp_path / 'center.db'}")   # open, as `ewe run` holds it
    ledger = Ledger(store, shipped_duty(), clock=lambda: 1_782_864_000_000)
    ledger.ingest([alert_record(key="before")])
    assert main(["center", "backup", "--out", str(tmp_path / "copy.db"),
                 "--data-dir", str(tmp_path)]) == 0
    ledger.ingest([alert_record(key="after")])
    store.close()
    copy = open_store(f"sqlite://{tmp_path / 'copy.db'}")
    try:
        restored = Ledger(copy, shipped_duty(), clock=lambda: 0).alerts(AlertFilter())
    finally:
        copy.close()
    assert [item["key"] for item in restored.items] == ["before"]
    assert "copied to" in capsys.readouterr().err
    assert main(["center", "backup", "--out", str(tmp_path / "copy.db"),
                 "--data-dir", str(tmp_path)]) == 2      # never overwritten


def test_center_backup_of_a_postgresql_ledger_points_to_pg_dump(capsys):
    from conftest import POSTGRES_URL

    assert main(["center", "backup", "--out", "x.db", "--store", POSTGRES_URL]) == 2
    assert "pg_dump" in capsys.readouterr().err


def test_center_migrate_prints_the_schema_version(tmp_path, capsys):
    from center.migrations import MIGRATIONS
    from center.store import open_store

    open_store(f"sqlite://{tmp_path / 'center.db'}").close()
    assert main(["center", "migrate", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"ledger at schema version {MIGRATIONS[-1].version}\n"


def test_replay_goes_on_past_a_failing_model_and_names_it(tmp_path, monkeypatch, capsys):
    from engine import anomaly

    class FailsAbove100:
        def __init__(self, warmup: int = 0) -> None:
            self.warmup = warmup

        def score_one(self, x: dict) -> float:
            return 0.0

        def learn_one(self, x: dict) -> None:
            if x["value"] > 100:
                raise ArithmeticError("the detector's bug")

    monkeypatch.setitem(anomaly.DETECTORS, "fails_above_100", FailsAbove100)
    (tmp_path / "pack.yaml").write_text(
        "models:\n  - {id: broken, detector: fails_above_100, on: reading}\n"
        "rules:\n  - {id: high, on: reading, when: value > 150, severity: red}\n")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps({
        "kind": "reading", "id": f"r{n}", "ts": 1782864000000 + n * 60_000, "device_id": "d",
        "type": "level", "value": value}) + b"\n" for n, value in enumerate([1, 200, 300, 2])))
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(events), "--rules", str(tmp_path / "pack.yaml"),
                 "--out", str(out)]) == 0
    assert [orjson.loads(line)["change"] for line in out.read_bytes().splitlines()] == \
        ["fired", "resolved"]
    assert "quarantined: broken failed at event time" in capsys.readouterr().err


def test_token_list_away_from_the_ledger_says_where_it_looked_and_creates_nothing(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["token", "list"]) == 2
    assert f"no ledger at {tmp_path / 'ewe-data' / 'center.db'}" in capsys.readouterr().err
    assert not (tmp_path / "ewe-data").exists()


def test_token_create_into_a_missing_directory_is_refused(tmp_path, capsys):
    assert main(["token", "create", "--role", "viewer", "--data-dir",
                 str(tmp_path / "typo")]) == 2
    assert "no ledger at" in capsys.readouterr().err and not (tmp_path / "typo").exists()


def test_version_names_the_installed_release(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("ewe 0.")


def test_the_health_command_fails_when_nothing_answers(capsys):
    assert main(["health", "http://127.0.0.1:9/healthz"]) == 1
    assert "ewe health: http://127.0.0.1:9/healthz" in capsys.readouterr().err

