"""The board in a real browser: Debian's chromium driven by Playwright, against a real `ewe run`.

`Service` starts `ewe run` on the embedded broker with the shipped rules and gives tokens of
each role; `Session` is one browser page with every console message it logged, signed in.
Screenshots go to `build/screenshots/`."""
from __future__ import annotations

import re
import shutil
import time
import urllib.request
import zlib
from pathlib import Path

import orjson
import pytest
from streaming import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-extensions",
                  "--no-first-run", "--disable-features=Translate"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("needs Debian's chromium and a Chinese font (apt-get install chromium "
                    "fonts-wqy-microhei; .ci/run installs both)")
    return found


# One reading is enough to fire (the shipped rules wait minutes of event time, and the tests'
# events all arrive now): red above 0.5 m, yellow above 0.15 m.
PACK = """
rules:
  - id: flood.depth
    title: {zh: 道路积水超限, en: Road waterlogging above limit}
    on: reading
    match: {type: water_level}
    key: device_id
    when: value >= 0.15
    severity:
      - {when: value >= 0.50, level: red}
      - {level: yellow}
    clear: value < 0.10
    labels: {category: waterlogging}
    summary:
      zh: "{location.building}积水{value:.2f}米"
      en: "{location.building}: water {value:.2f} m"
"""


class Service:
    """`ewe run` with the tests' rule pack, and a token of each role."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "pack.yaml").write_text(PACK, encoding="utf-8")
        self.worker = WorkerProcess(data_dir, broker=None, prefix="ewe.", command="run",
                                    rules=[str(data_dir / "pack.yaml")], lateness="0s",
                                    open_ingest="false")

    def start(self) -> Service:
        self.worker.start(timeout=60)
        log = self.worker.log.read_text()
        self.tokens = {"admin": re.search(r"admin token (ewe_\S+)", log).group(1),
                       "ingest": re.search(r"ingest token (ewe_\S+)", log).group(1)}
        for role in ("operator", "viewer", "rule_author"):
            self.tokens[role] = self.call("POST", "/v1/tokens", {"role": role,
                                                                 "name": f"{role} 1"})["token"]
        return self

    @property
    def url(self) -> str:
        return self.worker.url

    def call(self, method: str, path: str, body: object = None, role: str = "admin"):
        request = urllib.request.Request(
            f"{self.url}{path}", method=method,
            data=None if body is None else orjson.dumps(body),
            headers={"Authorization": f"Bearer {self.tokens[role]}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
        return orjson.loads(text) if text else None

    def post_events(self, events: list[dict]) -> None:
        self.call("POST", "/v1/events?wait=1", events, role="ingest")

    def stop(self) -> None:
        self.worker.stop()


def flood(grid: str, building: str, *, depth: float = 0.6) -> list[dict]:
    """A water-level reading of `depth` metres now: red above 0.5 m."""
    now = time.time_ns() // 1_000_000
    spot = zlib.crc32(building.encode())       # somewhere of its own on the area view's map
    location = {"district": "渝中区", "street": "解放碑街道", "community": "较场口社区",
                "grid": grid, "building": building, "lat": 29.5 + spot % 1000 / 10_000,
                "lon": 106.5 + spot // 1000 % 1000 / 10_000}
    return [{"kind": "reading", "id": f"wl-{building}-{now}", "ts": now,
             "device_id": f"wl-{building}", "type": "water_level", "value": depth,
             "location": location}]


class Session:
    """A browser page on the board with the console messages it logged."""

    def __init__(self, browser, service: Service) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 900},
                                           locale="zh-CN")
        self.page = self.context.new_page()
        self.service = service
        self.console: list[str] = []
        self.watch(self.page)

    def watch(self, page) -> None:
        page.on("console", lambda message: self.console.append(
            f"{message.type}: {message.text}") if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def sign_in(self, role: str, path: str = "/") -> Session:
        self.page.goto(f"{self.service.url}{path}")
        self.page.fill("#token", self.service.tokens[role])
        self.page.press("#token", "Enter")
        self.page.wait_for_selector("header.top:not([hidden])")
        return self

    def row(self, text: str):
        return self.page.locator("table.alerts tr.row", has_text=text)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
