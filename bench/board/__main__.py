"""The operations board in Debian's chromium over a ledger of many open alerts.

    python bench/board [--alerts 5000] [--store sqlite|postgres] [--loads 5] [--updates 10]

Fills a ledger with `--alerts` open alerts (bench/center's city), serves the center's app with
uvicorn, and opens the board in chromium (Playwright) signed in as an operator:

- **first render**: from the start of the navigation to the board's rows and counters drawn
  (the page's own `performance.now()`), for `--loads` fresh loads;
- **live update**: from the moment the ledger records a new red alert to its row on the open
  board (the page's `Date.now()` against the recording's wall time, one machine), for
  `--updates` alerts.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent / "center"))

from city import T0, open_bench_store, records  # noqa: E402

from center.api.deps import Center  # noqa: E402
from center.app import create_app  # noqa: E402
from center.auth import create_token  # noqa: E402
from center.ledger import Ledger  # noqa: E402
from engine.duty import load_duty_file  # noqa: E402
from engine.events import format_timestamp  # noqa: E402
from engine.identity import alert_id  # noqa: E402
from streams.broker import free_port  # noqa: E402

# Run in the page before its own scripts: when the board has drawn rows and counters, and when
# each row first appears.
WATCH = """
window.__seen = {};
new MutationObserver(() => {
  const rows = document.querySelectorAll("table.alerts tr.row");
  if (rows.length && document.querySelector(".counter") && window.__rendered === undefined) {
    window.__rendered = performance.now();
  }
  for (const row of rows) {
    if (!(row.dataset.id in window.__seen)) window.__seen[row.dataset.id] = Date.now();
  }
}).observe(document, { childList: true, subtree: true });
"""


def red_alert(n: int, now_ms: int) -> dict:
    key = f"live-{n}"
    at = format_timestamp(now_ms)
    return {"id": alert_id("waterlogging.level.high", key, now_ms),
            "rule": "waterlogging.level.high", "key": key, "severity": "red",
            "status": "firing", "change": "fired", "at": at, "starts_at": at,
            "labels": {"category": "waterlogging"}, "title": {"zh": "道路积水超限"},
            "summary": {"zh": f"实时 {n}"},
            "location": {"district": "渝中区", "grid": "LIVE", "building": f"L{n}"},
            "evidence": [], "occurrences": 1}


def serve(center: Center, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(create_app(center), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def figures(values: list[float]) -> str:
    return (f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms "
            f"({', '.join(f'{value:.0f}' for value in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/board", description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=5_000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--updates", type=int, default=10)
    args = parser.parse_args()
    store, drop = open_bench_store(args.store)
    now = [T0]
    try:
        ledger = Ledger(store, load_duty_file(HERE.parent.parent / "rules" / "duty.yaml"),
                        clock=lambda: now[0])
        batch = [record for record in records(args.alerts) if record["change"] == "fired"]
        for start in range(0, len(batch), 500):
            ledger.ingest(batch[start:start + 500])
        token = create_token(store, role="operator", name="bench", now=T0)
        port = free_port()
        server = serve(Center(ledger), port)
        url = f"http://127.0.0.1:{port}"
        print(f"store           {args.store}, {args.alerts:,} open alerts")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies([{"name": "ewe_token", "value": token, "url": url}])
            context.add_init_script(WATCH)
            renders = []
            for _ in range(args.loads + 1):             # the first load warms the caches
                page = context.new_page()
                page.goto(f"{url}/#/board")
                page.wait_for_function("() => window.__rendered !== undefined", timeout=30_000)
                renders.append(page.evaluate("window.__rendered"))
                rows = page.locator("table.alerts tr.row").count()
                page.close()
            print(f"first render    {figures(renders[1:])}; {rows} rows drawn")
            page = context.new_page()
            page.goto(f"{url}/#/board")
            page.wait_for_function("() => window.__rendered !== undefined", timeout=30_000)
            page.wait_for_timeout(1_000)               # the live feed connected
            updates = []
            for n in range(args.updates):
                now[0] = int(time.time() * 1000)
                record = red_alert(n, now[0])
                recorded_at = time.time() * 1000
                ledger.ingest([record])
                page.wait_for_function(f"() => window.__seen[{record['id']!r}] !== undefined",
                                       timeout=30_000)
                updates.append(page.evaluate(f"window.__seen[{record['id']!r}]") - recorded_at)
                page.wait_for_timeout(300)
            print(f"live update     {figures(updates)}")
            browser.close()
        server.should_exit = True
    finally:
        store.close()
        drop()


if __name__ == "__main__":
    main()
