"""Helpers of the streaming tests: real worker processes on the real embedded broker."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from engine.evaluator import Evaluator
from engine.events import decode
from engine.pack import Pack
from streams.broker import free_port
from streams.records import area_key, join, partition_of

ROOT = Path(__file__).resolve().parent.parent
RULES_KEY = "rules-key-of-the-tests"


class WorkerProcess:
    """`ewe worker` (or `ewe run`) in a subprocess with its own topics, group and data dir."""

    def __init__(self, data_dir: Path, *, broker: str | None, prefix: str,
                 rules: list[str] | None = None, command: str = "worker", **settings: str):
        self.port = free_port()
        self.data_dir = data_dir
        self.args = [sys.executable, "-m", "ewe", command, "--http", f"127.0.0.1:{self.port}",
                     "--data-dir", str(data_dir)]
        if broker:
            self.args += ["--broker", broker]
        if rules:
            self.args += ["--rules", *rules]
        # Tests post without tokens and push signed with RULES_KEY unless they say otherwise.
        self.env = {**os.environ, "EWE_TOPIC_PREFIX": prefix, "EWE_GROUP": f"{prefix}workers",
                    "EWE_CHECKPOINT_EVERY": "1s", "EWE_RULES_KEY": RULES_KEY,
                    "EWE_OPEN_INGEST": "true",
                    **{f"EWE_{name.upper()}": value for name, value in settings.items()}}
        self.process: subprocess.Popen | None = None
        self.log = data_dir / f"worker-{uuid.uuid4().hex[:6]}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._out = open(self.log, "wb")
        self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=self._out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        self.started_in = self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> float:
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}:\n"
                                     + self.log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return time.monotonic() - began
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("worker not healthy in time:\n"
                             + self.log.read_text(errors="replace")[-3000:])

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as answer:
            return answer.read()

    def post(self, path: str, body: bytes) -> tuple[int, dict]:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, orjson.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, orjson.loads(error.read())

    def stop(self, timeout: float = 15.0) -> float:
        """SIGTERM; returns how long the worker took to exit."""
        began = time.monotonic()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("worker did not stop on SIGTERM:\n"
                                     + self.log.read_text(errors="replace")[-3000:]) from None
        self._out.close()
        return time.monotonic() - began

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._out.close()


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


# -- Kafka ---------------------------------------------------------------------------------------
async def _produce(bootstrap: str,
                   records: Iterable[tuple[str, bytes | int | None, bytes]]) -> None:
    """Records as (topic, key or partition, value)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=16 * 1024 * 1024)
    await producer.start()
    try:
        sent = [await producer.send(topic, value, **(
            {"partition": where} if isinstance(where, int) else {"key": where}))
            for topic, where, value in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def produce(bootstrap: str, records: Iterable[tuple[str, bytes | int | None, bytes]]) -> None:
    asyncio.run(_produce(bootstrap, list(records)))


def batched_records(events: list[bytes], prefix: str, slice_ms: int = 30_000,
                    partitions: int = 4) -> list[tuple[str, int, bytes]]:
    """The records ewe's producers send: the events of each partition of the events topic within a
    time slice in one record, the slices in arrival order."""
    records: list[tuple[str, int, bytes]] = []
    groups: dict[tuple[str, int], list[bytes]] = {}
    current_slice = None

    def flush() -> None:
        records.extend((topic, partition, join(queued))
                       for (topic, partition), queued in groups.items())
        groups.clear()

    for raw in events:
        t, event = decode(raw)
        if t // slice_ms != current_slice:
            flush()
            current_slice = t // slice_ms
        partition = partition_of(area_key(event), partitions)
        groups.setdefault((f"{prefix}events", partition), []).append(raw)
    flush()
    return records


async def _consume(bootstrap: str, topic: str, done: Callable[[list[bytes]], bool],
                   timeout: float, settle: float) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p)
                          for p in sorted(consumer.partitions_for_topic(topic) or [0])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=100)
            for messages in batches.values():
                values += [message.value for message in messages]
                quiet_since = time.monotonic()
            if done(values) and time.monotonic() - quiet_since >= settle:
                break
        return values
    finally:
        await consumer.stop()


def consume(bootstrap: str, topic: str, done: Callable[[list[bytes]], bool] = lambda _: False,
            timeout: float = 20.0, settle: float = 1.0) -> list[bytes]:
    """Everything on a topic, read until `done` holds and nothing new came for `settle` s."""
    return asyncio.run(_consume(bootstrap, topic, done, timeout, settle))


# -- expectations --------------------------------------------------------------------------------
def replayed(events: list[bytes], pack: Pack, lateness_ms: int) -> list[dict]:
    """What `ewe replay` gives for these events (without the end-of-file flush: a live stream
    has no end)."""
    evaluator = Evaluator(pack, lateness_ms=lateness_ms)
    return evaluator.process([decode(raw) for raw in events]).alerts


def changes(records: Iterable[dict]) -> set[tuple]:
    """Alert records as comparable facts; a re-sent record is the same fact."""
    return {(r["id"], r["change"], r["severity"], r["status"], r["at"], r["occurrences"])
            for r in records}
