"""`ewe run` and `ewe worker`: the embedded broker (or a given one), the topics, one Faust worker
with its partition runners, the ingest (HTTP, MQTT, the demo city) and the HTTP server.

Faust's `Worker` owns the event loop and the process's signals: SIGTERM or Ctrl-C stops the
services, writes a last checkpoint of every partition, and then the broker is stopped.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import faust
import mode
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from engine.events import parse_timestamp
from engine.messages import PackStatus
from engine.pack import Pack
from engine.privacy import Contact
from engine.timestamps import format_local
from engine.tuning import tune_gc
from streams.broker import EmbeddedBroker
from streams.control import rules_key_file
from streams.http import HttpServer, IngestGuard, health_route, http_app, ingest_route
from streams.ingest import Ingest
from streams.journal import Journal
from streams.metrics import PipelineMetrics
from streams.settings import Settings
from streams.worker import Worker

__all__ = ["serve", "prepare_cluster", "Attachment"]

log = logging.getLogger("ewe")

STOP_DEADLINE_S = 10
EXIT_UNAVAILABLE = 69    # sysexits.h: a service it needs is unavailable


class Attachment(NamedTuple):
    """A part served beside the worker (the center): its start and stop, an ASGI app built
    around the ingest route, the worker's metrics, health, rule pack and ingest, lines for the
    banner,
    and whether it has recorded the alerts up to given offsets of each alerts partition."""

    start: Callable[[], Awaitable]
    stop: Callable[[], Awaitable]
    app: Callable[[list, list, Callable[[], PackStatus], Callable[..., Awaitable]], Any]
    banner: list[str]
    recorded: Callable[[dict[int, int]], Awaitable[bool]]
    health: Callable[[], str | None]


class _Hooked(mode.Service):
    """A service made of a start and a stop coroutine."""

    def __init__(self, name: str, start: Callable[[], Awaitable], stop: Callable[[], Awaitable],
                 **kwargs) -> None:
        self._name, self._start, self._stop = name, start, stop
        super().__init__(**kwargs)

    @property
    def label(self) -> str:
        return self._name

    async def on_start(self) -> None:
        await self._start()

    async def on_stop(self) -> None:
        await self._stop()


def replication(brokers: int) -> tuple[int, dict[str, str]]:
    """The replication factor and configs of the topics ewe creates: three copies where the
    cluster has them, so that a record acknowledged (`acks=all`) is on two brokers at least.

    >>> replication(1), replication(5)
    ((1, {}), (3, {'min.insync.replicas': '2'}))
    """
    factor = min(3, brokers)
    return factor, {"min.insync.replicas": str(factor - 1)} if factor > 1 else {}


async def prepare_cluster(bootstrap: str, settings: Settings) -> str:
    """Create the topics that do not exist yet; returns the cluster's id, which checkpoints
    record with their offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        factor, durability = replication(len(cluster["brokers"]))
        existing = set(await admin.list_topics())
        wanted = [NewTopic(settings.topic(name), partitions, factor,
                           topic_configs=config | durability)
                  for name, partitions, config in (
                      ("events", settings.partitions, {}),
                      ("readings", settings.partitions, {}),
                      ("reports", settings.partitions, {}),
                      ("alerts", settings.partitions, {}),
                      ("alert-events", settings.partitions, {}),
                      ("dead-letter", 1, {}),
                      ("rules", 1, {"cleanup.policy": "compact"}))
                  if settings.topic(name) not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass   # another worker was quicker
        return cluster["cluster_id"]
    finally:
        await admin.close()


class _Worker(faust.Worker):
    """Faust's worker, with a deadline on shutdown: a stop that hangs (a broker that went away,
    a stuck send) must not keep the process alive; the last periodic checkpoint stands."""

    def _flag_as_shutdown_by_signal(self) -> None:
        deadline = threading.Timer(STOP_DEADLINE_S, self._give_up)
        deadline.daemon = True
        deadline.start()
        super()._flag_as_shutdown_by_signal()

    @staticmethod
    def _give_up() -> None:
        log.error("ewe: shutdown took more than %d s; exiting now", STOP_DEADLINE_S)
        os._exit(1)   # the embedded broker follows (it stops with its parent)


class _BrokerWatch(mode.Service):
    """The embedded broker keeps every topic in memory, and lets go of nothing (Tansu's memory
    store honours neither retention nor DeleteRecords). Once it is gone there is nothing to go
    on with: ewe stops at once, saying why. Once it holds more than `limit_mb`, ewe restarts
    in place (`restart` is set and the process stops as on SIGTERM): the checkpoints and the
    journal carry everything over to a new, empty broker. Either way what was acknowledged is
    in the journal and is evaluated after the restart."""

    def __init__(self, broker: EmbeddedBroker, limit_mb: int, **kwargs) -> None:
        self.broker = broker
        self.limit_mb = limit_mb
        self.restart = False
        super().__init__(**kwargs)

    @mode.Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            status = self.broker.exit_status()
            if status is not None:
                log.critical("ewe stops: the embedded broker exited with status %d (%s); what "
                             "was acknowledged is in the journal and is evaluated after a "
                             "restart", status, self.broker.last_errors() or "no message")
                logging.shutdown()
                os._exit(EXIT_UNAVAILABLE)
            held = self.broker.resident_mb()
            if held > self.limit_mb and not self.restart:
                log.warning("the embedded broker holds %d MiB (limit %d): ewe restarts in place "
                            "to let it go; the ingest answers again within seconds", held,
                            self.limit_mb)
                self.restart = True
                os.kill(os.getpid(), signal.SIGTERM)
            await self.sleep(1.0)


def health_of(worker: Worker, ingest: Ingest,
              attached: Attachment | None) -> Callable[[], dict]:
    """The service's health: the worker's, unavailable (503) with the reasons whenever the
    ingest cannot take events or the center cannot record them."""
    def health() -> dict:
        status = worker.health()
        reasons = [reason for reason in (ingest.health(), attached.health() if attached
                                         else None) if reason]
        if reasons:
            status = {**status, "status": "unavailable", "reasons": reasons}
        return status
    return health


def alert_printer(zone: str) -> Callable[[dict], None]:
    """One line per alert change on standard output, its time in the city's zone: what
    `ewe run --demo` shows."""
    def print_alert(alert: dict) -> None:
        location = alert.get("location") or {}
        place = " ".join(location[level] for level in ("community", "grid", "building")
                         if location.get(level))
        summary = alert["summary"].get("zh") or alert["summary"].get("en") or alert["title"]
        at = format_local(parse_timestamp(alert["at"]), zone)
        print(f"{at}  {alert['change']:<9} {alert['severity']:<6} {alert['rule']:<32} "
              f"{place}  {summary}", flush=True)
    return print_alert


def _log_to_stderr(level: str) -> None:
    """Everything logged at `level` or above, Faust's own included, on standard error: a
    worker that stops must always say why."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SystemExit(f"ewe: cannot listen on {host}:{port}: {error.strerror}; "
                             "choose another with --http HOST:PORT") from None


def serve(settings: Settings, pack: Pack, *, clock: Callable[[], int], out=sys.stderr,
          attach: Callable[[str], Attachment] | None = None,
          keep_contacts: Callable[[list[Contact]], Awaitable[None]] | None = None,
          guard: IngestGuard | None = None) -> int:
    """Run until SIGTERM/SIGINT. Without `settings.broker`, start the embedded broker first.
    `attach(bootstrap)` adds a part served under the same base URL (the center);
    `keep_contacts` is where the ingest puts reporters' contact details (the ledger); `guard`
    admits the callers of the HTTP ingest (None: anyone)."""
    _log_to_stderr(settings.log_level)
    _check_port_free(settings.http_host, settings.http_port)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    Path(settings.data_dir).chmod(0o700)   # made by an older release with the default mode
    broker = watch = journal = None
    if settings.broker:
        bootstrap = settings.broker.removeprefix("kafka://")
    else:
        broker = EmbeddedBroker().start()
        bootstrap = broker.bootstrap
    try:
        cluster_id = asyncio.run(prepare_cluster(bootstrap, settings))
        metrics = PipelineMetrics()
        rules_key = (settings.rules_key.encode() if settings.rules_key
                     else rules_key_file(settings.data_dir, create=broker is not None))
        journal = Journal(settings.data_dir, f"journal-{settings.http_port}")
        attached = attach(bootstrap) if attach is not None else None
        embedded = broker is not None
        worker = Worker(settings, pack, bootstrap=bootstrap, cluster_id=cluster_id,
                        metrics=metrics, rules_key=rules_key, clock=clock,
                        journal=journal if embedded else None,
                        alerts_recorded=attached.recorded if attached and embedded else None,
                        on_alert=alert_printer(settings.timezone) if settings.print_alerts
                        else None)
        ingest = Ingest(settings, bootstrap, metrics, journal=journal, clock=clock,
                        durable_broker=not embedded, keep_contacts=keep_contacts)
        health = health_of(worker, ingest, attached)
        if attached is None:
            app = http_app(ingest, guard, metrics, health)
        else:
            app = attached.app([ingest_route(ingest, guard), health_route(health)],
                               [metrics.exposition], worker.pack_status, ingest.submit)
        http = HttpServer(app, settings.http_host, settings.http_port)
        watch = _BrokerWatch(broker, settings.broker_limit_mb) if broker is not None else None
        services: list[mode.Service] = [
            *([watch] if watch is not None else []),
            *worker.services(),
            _Hooked("ingest", ingest.start, ingest.stop),
            *([_Hooked("center", attached.start, attached.stop)] if attached else []),
            _Hooked("http", http.start, http.stop),
        ]
        if settings.mqtt:
            from streams.mqtt import MqttBridge
            services.append(MqttBridge(settings, ingest))
        if settings.demo:
            from streams.demo import DemoCity
            services.append(DemoCity(settings, ingest, clock))
        base = f"http://{settings.http}"
        print(f"ewe: broker {'embedded ' if broker else ''}kafka://{bootstrap}\n"
              f"ewe: ingest POST {base}/v1/events\n"
              f"ewe: metrics {base}/metrics, health {base}/healthz\n"
              f"ewe: {len(pack)} rules; data in {Path(settings.data_dir).resolve()}"
              + (f"\newe: MQTT {settings.mqtt} topics {', '.join(settings.mqtt_topics)}"
                 if settings.mqtt else "")
              + "".join(f"\newe: {line}" for line in (attached.banner if attached else [])),
              file=out, flush=True)
        tune_gc()   # per-key state is acyclic; a full collection would pause the stream
        faust_worker = _Worker(worker.app, *services, loglevel=settings.log_level.upper(),
                                    redirect_stdouts=False, quiet=True,
                                    override_logging=False)
        faust_worker.spinner = None   # it writes terminal escapes to stdout, redirected or not
        try:
            faust_worker.execute_from_commandline()
        except SystemExit as stop:
            code = int(stop.code or 0)
        else:
            code = 0
    finally:
        if broker is not None:
            broker.stop()
    if watch is not None and watch.restart and code == 0:
        journal.close()
        log.warning("ewe restarts in place")
        os.execv(sys.executable, [sys.executable, "-m", "ewe", *sys.argv[1:]])
    return code
