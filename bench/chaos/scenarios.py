"""Faults in the middle of a simulated day, and what the ledger holds afterwards.

Each scenario starts ewe as an operator would (`ewe run`, or workers on a broker of their own),
feeds a simulated city over HTTP in POSTs of 200 events, as a gateway would (sending a POST
again until it is acknowledged: on a refused connection, a timeout, 429 or 503), injects one
fault half-way, lets ewe recover (restarting what died, as a supervisor would), feeds the rest,
and then compares the alert changes in the ledger with those `ewe replay` gives for the same
events. The worker runs with `idle_after: 0s`, so that its watermark, like the replay's, moves
with event time only.

A row counts the events acknowledged (202), the alert changes expected, and of those: lost
(expected, not in the ledger), duplicated (an episode recorded twice, under two ids), extra (in
the ledger, not expected), stuck (firing in the ledger, resolved in the replay), and the seconds
from the fault until the ingest acknowledged a POST again.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from engine.evaluator import Evaluator  # noqa: E402
from engine.events import decode  # noqa: E402
from engine.pack import Pack  # noqa: E402
from engine.simulation import simulate  # noqa: E402
from streams.broker import EmbeddedBroker, free_port  # noqa: E402

__all__ = ["Row", "city", "run", "SCENARIOS", "PrivatePostgres"]

LATENESS_MS = 120_000
HOUR_MS = 3_600_000
SETTINGS = {"EWE_LATENESS": "2m", "EWE_IDLE_AFTER": "0s", "EWE_OPEN_INGEST": "true",
            "EWE_CHECKPOINT_EVERY": "5s", "EWE_LOG_LEVEL": "warning"}


@dataclass
class Row:
    fault: str
    acknowledged: int = 0
    expected: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: int = 0
    stuck: int = 0
    recovered_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.lost == self.duplicated == self.extra == self.stuck == 0 and \
            self.acknowledged > 0


def city(hours: int, devices: int, seed: int = 7) -> list[bytes]:
    """A simulated city of the last hours (event times in the recent past)."""
    start = (time.time_ns() // 1_000_000 - (hours + 2) * HOUR_MS) // 60_000 * 60_000
    return [orjson.dumps(event) for event in
            simulate(seed=seed, duration_ms=hours * HOUR_MS, devices=devices,
                     start_ms=start).events]


def expected_changes(events: list[bytes]) -> set[tuple[str, str, str]]:
    evaluator = Evaluator(Pack.load([ROOT / "rules"]), lateness_ms=LATENESS_MS)
    return {(record["id"], record["change"], record["at"])
            for record in evaluator.process([decode(raw) for raw in events]).alerts}


# -- processes -----------------------------------------------------------------------------------
class Process:
    """`ewe run` or `ewe worker`, restarted with the same arguments when it must be."""

    def __init__(self, data_dir: Path, command: str, *flags: str, **settings: str) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.args = [sys.executable, "-m", "ewe", command, "--http", f"127.0.0.1:{self.port}",
                     "--data-dir", str(data_dir), *flags]
        self.env = {**os.environ, **SETTINGS, **settings}
        self.process: subprocess.Popen | None = None
        self.log = data_dir / f"{command}-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Process:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.args[3]} exited {self.process.returncode}: "
                                   + self.log.read_text(errors="replace")[-2000:])
            if self.health().get("status") == "ok":
                return
            time.sleep(0.2)
        raise RuntimeError("not healthy in time: " + self.log.read_text(errors="replace")[-2000:])

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                return orjson.loads(answer.read())
        except urllib.error.HTTPError as error:
            return orjson.loads(error.read())
        except OSError:
            return {}

    def signal(self, number: int) -> None:
        os.killpg(self.process.pid, number)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class Feeder(threading.Thread):
    """Posts the events in order, each POST again until it is acknowledged."""

    def __init__(self, events: list[bytes], urls: Callable[[], list[str]], size: int = 200):
        super().__init__(daemon=True)
        self.posts = [b"[" + b",".join(events[i:i + size]) + b"]"
                      for i in range(0, len(events), size)]
        self.sizes = [len(events[i:i + size]) for i in range(0, len(events), size)]
        self.urls = urls
        self.acknowledged = 0
        self.posted = 0              # POSTs acknowledged
        self.last_ack = time.monotonic()

    def run(self) -> None:
        for body, size in zip(self.posts, self.sizes, strict=True):
            while not self._post(body):
                time.sleep(0.2)
            self.acknowledged += size
            self.posted += 1
            self.last_ack = time.monotonic()

    def _post(self, body: bytes) -> bool:
        for url in self.urls():
            request = urllib.request.Request(f"{url}/v1/events", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    if answer.status == 202:
                        return True
            except (OSError, urllib.error.HTTPError):
                continue
        return False

    def wait_for(self, share: float, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.posted < share * len(self.posts):
            if time.monotonic() > deadline:
                raise RuntimeError("the feed stalled")
            time.sleep(0.05)


def acknowledged_again_after(feeder: Feeder, since: float, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while feeder.last_ack <= since:
        if time.monotonic() > deadline or not feeder.is_alive():
            break
        time.sleep(0.05)
    return max(0.0, feeder.last_ack - since)


# -- the ledger ----------------------------------------------------------------------------------
def ledger(store: str) -> tuple[set[tuple[str, str, str]], set[str], dict[str, tuple]]:
    """The alert changes recorded, the alerts still firing, and each alert's (rule, key)."""
    history = "SELECT alert_id, kind, data FROM alert_events WHERE actor = 'engine'"
    alerts = "SELECT id, condition, rule, alert_key FROM alerts"
    if store.startswith("sqlite://"):
        with sqlite3.connect(store.removeprefix("sqlite://")) as db:
            rows, known = db.execute(history).fetchall(), db.execute(alerts).fetchall()
    else:
        import psycopg
        with psycopg.connect(store) as db:
            rows, known = db.execute(history).fetchall(), db.execute(alerts).fetchall()
    return ({(alert, kind, json.loads(data)["at"]) for alert, kind, data in rows},
            {alert for alert, condition, _, _ in known if condition == "firing"},
            {alert: (rule, key) for alert, _, rule, key in known})


def settle(store: str, expected: int, timeout: float = 120) -> tuple[set, set, dict]:
    """The ledger once it has at least `expected` changes and nothing new came for 3 s."""
    deadline, seen, quiet_since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        found, _, _ = ledger(store)
        if len(found) != seen:
            seen, quiet_since = len(found), time.monotonic()
        elif len(found) >= expected and time.monotonic() - quiet_since > 3:
            break
        time.sleep(0.5)
    return ledger(store)


def judged(row: Row, expected: set, found: set, firing: set, keys: dict[str, tuple]) -> Row:
    row.expected = len(expected)
    row.lost = len(expected - found)
    row.extra = len(found - expected)
    episodes: dict[tuple, set[str]] = {}      # one rule's change for one key at one instant
    for alert, change, at in found:
        episodes.setdefault((*keys.get(alert, (alert,)), change, at), set()).add(alert)
    row.duplicated = sum(len(ids) - 1 for ids in episodes.values() if len(ids) > 1)
    resolved = {alert for alert, change, _ in expected if change == "resolved"}
    row.stuck = len(firing & resolved)
    return row


# -- the scenarios -------------------------------------------------------------------------------
def _single(work: Path, events: list[bytes], fault: Callable[[Process, Feeder], None],
            name: str, flags: tuple[str, ...] = (), store: str | None = None,
            **settings: str) -> Row:
    expected = expected_changes(events)
    run_ = Process(work, "run", *flags, **settings).start()
    feeder = Feeder(events, lambda: [run_.url])
    row = Row(name)
    try:
        feeder.start()
        feeder.wait_for(0.5)
        began = time.monotonic()
        fault(run_, feeder)
        row.recovered_s = acknowledged_again_after(feeder, began)
        feeder.join()
        row.acknowledged = feeder.acknowledged
        found, firing, keys = settle(store or f"sqlite://{work / 'center.db'}", len(expected))
    finally:
        run_.stop()
    return judged(row, expected, found, firing, keys)


def _restart_after(kill: Callable[[Process], None]) -> Callable[[Process, Feeder], None]:
    def fault(process: Process, feeder: Feeder) -> None:
        kill(process)
        process.process.wait(30)
        process.start()
    return fault


def _kill_near_checkpoint(after: bool) -> Callable[[Process], None]:
    """kill -9 just after a checkpoint was put in place, or just before the next one."""
    def kill(process: Process) -> None:
        checkpoint = process.data_dir / "checkpoints" / "partition-0.ckpt"
        first = checkpoint.stat().st_mtime if checkpoint.exists() else 0
        while (checkpoint.stat().st_mtime if checkpoint.exists() else 0) == first:
            time.sleep(0.005)
        if not after:
            time.sleep(5 - 0.3)     # checkpoint_every is 5 s
        process.kill()
    return kill


def _kill_broker(process: Process) -> None:
    children = Path(f"/proc/{process.process.pid}/task/{process.process.pid}/children")
    for pid in map(int, children.read_text().split()):
        if "tansu" in Path(f"/proc/{pid}/cmdline").read_text():
            os.kill(pid, signal.SIGKILL)


def _pause(seconds: float) -> Callable[[Process, Feeder], None]:
    def fault(process: Process, feeder: Feeder) -> None:
        process.signal(signal.SIGSTOP)
        time.sleep(seconds)
        process.signal(signal.SIGCONT)
    return fault


class PrivatePostgres:
    """A PostgreSQL cluster of the scenario's own (initdb in a fresh directory, a free port),
    so that restarting it under ewe disturbs nothing else that uses the machine's server."""

    def __init__(self) -> None:
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb and the server refuse to run as root: as the postgres user, then
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _ctl(self, *args: str) -> None:
        # the server writes to its log, never to our pipes (it outlives the call)
        subprocess.run([*self.as_owner, str(self.bin / "pg_ctl"), "-D", self.dir, "-w",
                        "-l", f"{self.dir}/server.log", *args], check=True, timeout=60,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def __enter__(self) -> PrivatePostgres:
        self.dir = tempfile.mkdtemp(prefix="ewe-chaos-pg-")
        if self.as_owner:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run([*self.as_owner, str(self.bin / "initdb"), "-D", self.dir, "-A", "trust",
                        "-U", "postgres", "--no-sync"], check=True, capture_output=True,
                       timeout=120)
        self._ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off", "start")
        return self

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def __exit__(self, *exc: object) -> None:
        try:
            self._ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _two_workers(work: Path, events: list[bytes], name: str) -> Row:
    """Two workers on a broker of their own, sharing the checkpoint directory; the first one
    runs the center and takes the feed; the second is killed and not restarted."""
    expected = expected_changes(events)
    row = Row(name)
    with EmbeddedBroker() as broker:
        prefix = f"c{uuid.uuid4().hex[:6]}."
        common = {"EWE_TOPIC_PREFIX": prefix, "EWE_GROUP": f"{prefix}workers"}
        first = Process(work, "worker", "--broker", broker.url, "--center", **common).start()
        second = Process(work, "worker", "--broker", broker.url, **common).start()
        deadline = time.monotonic() + 60
        while len(first.health().get("partitions", [])) != 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        feeder = Feeder(events, lambda: [first.url])
        try:
            feeder.start()
            feeder.wait_for(0.5)
            began = time.monotonic()
            second.kill()
            while len(first.health().get("partitions", [])) != 4:
                time.sleep(0.1)
            row.recovered_s = time.monotonic() - began
            row.notes.append("recovered: the survivor holds all four partitions")
            feeder.join()
            row.acknowledged = feeder.acknowledged
            found, firing, keys = settle(f"sqlite://{work / 'center.db'}", len(expected))
        finally:
            first.stop()
            second.stop()
    return judged(row, expected, found, firing, keys)


def _postgres_store(work: Path, events: list[bytes], name: str) -> Row:
    with PrivatePostgres() as server:
        return _single(work, events, lambda process, feeder: server.restart(), name,
                       ("--store", server.url), store=server.url)


SCENARIOS: dict[str, Callable[[Path, list[bytes], float], Row]] = {
    "kill -9 of ewe run, mid-feed":
        lambda work, events, _: _single(work, events, _restart_after(Process.kill),
                                        "kill -9 of ewe run, mid-feed"),
    "kill -9 of ewe run, just before a checkpoint":
        lambda work, events, _: _single(work, events, _restart_after(
            _kill_near_checkpoint(after=False)), "kill -9 of ewe run, just before a checkpoint"),
    "kill -9 of ewe run, just after a checkpoint":
        lambda work, events, _: _single(work, events, _restart_after(
            _kill_near_checkpoint(after=True)), "kill -9 of ewe run, just after a checkpoint"),
    "kill -9 of one of two workers":
        lambda work, events, _: _two_workers(work, events, "kill -9 of one of two workers"),
    "kill -9 of the embedded broker":
        lambda work, events, _: _single(work, events, _restart_after(_kill_broker),
                                        "kill -9 of the embedded broker"),
    "PostgreSQL restarted under --store":
        lambda work, events, _: _postgres_store(work, events,
                                                "PostgreSQL restarted under --store"),
    "SIGSTOP of ewe run, then SIGCONT":
        lambda work, events, pause: _single(work, events, _pause(pause),
                                            f"SIGSTOP of ewe run for {pause:.0f} s, then SIGCONT"),
}


def run(name: str, work: Path, events: list[bytes], pause_s: float = 30) -> Row:
    return SCENARIOS[name](work, events, pause_s)
