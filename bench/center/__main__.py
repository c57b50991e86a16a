"""The operations center on the real PostgreSQL (and SQLite for comparison).

    python bench/center [--alerts 20000] [--clients 20] [--seconds 20] [--store postgres]
                        [--writes 5]

Ingest: alert records as the workers publish them (a city's mix of rules, severities, districts
and buildings; every fourth alert later resolved), recorded in batches of 500 as the center's
consumer hands them over — routing, grouping into incidents, SLA deadlines, the inhibition
check, the notification outbox for one webhook and the history rows included. Prints alert
changes recorded per second.

API: the center's app served by uvicorn (in a process of its own) on loopback over the ledger
just filled; `--clients` concurrent clients (one keep-alive HTTP/1.1 connection each) list alerts
as an operations board does (`GET /v1/alerts?limit=50`: a third the first page, a third with a
filter, a third the page after the one before), each with a bearer token, while the ledger
records `--writes` new alerts a second (a city in a storm; in the server's process, as the
center's consumer would), so the answers the center keeps between changes are given up again
and again. Prints requests per second and latency percentiles over `--seconds`.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import orjson
import uvicorn

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from city import DISTRICTS, SEVERITIES, T0, open_bench_store, records  # noqa: E402

from center.api.deps import Center  # noqa: E402
from center.app import create_app  # noqa: E402
from center.auth import create_token  # noqa: E402
from center.ledger import Ledger  # noqa: E402
from center.store import PostgresStore  # noqa: E402
from engine.duty import load_duty_file  # noqa: E402
from engine.tuning import tune_gc  # noqa: E402
from streams.broker import free_port  # noqa: E402

FILTERS = {"district": DISTRICTS, "severity": SEVERITIES, "condition": ["firing", "resolved"]}


def bench_ingest(ledger: Ledger, batch: list[dict]) -> float:
    began = time.perf_counter()
    for start in range(0, len(batch), 500):
        ledger.ingest(batch[start:start + 500])
    return time.perf_counter() - began


def serve(ledger: Ledger, port: int, writes: float) -> None:
    if isinstance(ledger.store, PostgresStore):
        # Connections do not survive a fork: the server opens its own pool.
        ledger.store = PostgresStore(ledger.store.url, schema=ledger.store.schema, max_size=30)
    center = Center(ledger)
    tune_gc()                    # as `ewe run` does
    if writes:
        threading.Thread(target=write, args=(ledger, writes), daemon=True).start()
    uvicorn.run(create_app(center), host="127.0.0.1", port=port, log_level="warning",
                access_log=False)


def write(ledger: Ledger, per_second: float) -> None:
    """New alerts at a steady rate, one at a time, as the center's consumer records them."""
    fresh = records(100_000, seed=11)
    began = time.monotonic()
    for n, record in enumerate(record for record in fresh if record["change"] == "fired"):
        record = {**record, "id": f"live-{n}-{record['id']}", "key": f"live-{n}"}
        ledger.ingest([record])
        time.sleep(max(0.0, began + (n + 1) / per_second - time.monotonic()))


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the API server did not start")


async def clients(port: int, token: str, count: int, seconds: float) -> list[float]:
    """`count` keep-alive connections asking for alert pages as fast as answers come.

    A bare HTTP/1.1 client on asyncio streams: a general-purpose client costs as much CPU per
    request as the server does, and on two cores it would measure itself."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def one(number: int) -> None:
        rng = random.Random(number)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        cursor = None
        try:
            while time.perf_counter() < deadline:
                params: dict = {"limit": 50}
                choice = rng.randrange(3)
                if choice == 1:
                    name, values = rng.choice(list(FILTERS.items()))
                    params[name] = rng.choice(values)
                elif choice == 2 and cursor:
                    params["cursor"] = cursor
                target = "/v1/alerts?" + urllib.parse.urlencode(params)
                began = time.perf_counter()
                writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n"
                             f"Authorization: Bearer {token}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - began)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"{target}: {head.splitlines()[0].decode()} {body[:200]}")
                cursor = orjson.loads(body)["next_cursor"] if choice == 0 else cursor
        finally:
            writer.close()

    await asyncio.gather(*(one(n) for n in range(count)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--writes", type=float, default=5.0,
                        help="new alerts a second while the clients list (0: none)")
    args = parser.parse_args()

    store, drop = open_bench_store(args.store)
    try:
        now = [T0]
        ledger = Ledger(store, load_duty_file(ROOT / "rules" / "duty.yaml"),
                        clock=lambda: now[0], targets=["ops"])
        batch = records(args.alerts)
        elapsed = bench_ingest(ledger, batch)
        print(f"store           {args.store}")
        print(f"ingest          {len(batch):,} alert changes ({args.alerts:,} alerts) in "
              f"{elapsed:.2f} s: {len(batch) / elapsed:,.0f} changes/s, "
              f"{args.alerts / elapsed:,.0f} new alerts/s")
        again = bench_ingest(ledger, batch)
        print(f"re-delivery     the same changes again: {len(batch) / again:,.0f} changes/s "
              "(all skipped as duplicates)")

        token = create_token(store, role="viewer", name="bench", now=T0)
        port = free_port()
        # The server gets a process of its own, as in production: clients in the same
        # interpreter would share its lock and measure themselves.
        server = multiprocessing.get_context("fork").Process(
            target=serve, args=(ledger, port, args.writes), daemon=True)
        server.start()
        wait_listening(port)
        latencies = asyncio.run(clients(port, token, args.clients, args.seconds))
        server.terminate()
        server.join(10)
        latencies.sort()
        ms = [value * 1000 for value in latencies]
        print(f"alert list      {args.clients} client{'s' if args.clients != 1 else ''}, "
              f"{args.writes:g} new alerts/s, {len(ms):,} requests in "
              f"{args.seconds:.0f} s: {len(ms) / args.seconds:,.0f} requests/s")
        print(f"latency         p50 {statistics.median(ms):.1f} ms, "
              f"p90 {ms[int(len(ms) * 0.90)]:.1f} ms, p99 {ms[int(len(ms) * 0.99)]:.1f} ms, "
              f"max {ms[-1]:.1f} ms")
    finally:
        store.close()
        drop()


if __name__ == "__main__":
    main()
