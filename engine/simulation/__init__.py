"""A deterministic simulated city for tests, demos and benchmarks.

`simulate(seed=..., duration_ms=..., devices=...)` gives the events a city's devices and residents
would send, in the order they would arrive (a few gateways deliver late), and the truth: the
incidents injected into them. The same arguments always give the same events, byte for byte.

>>> run = simulate(seed=7, duration_ms=6 * 3_600_000, devices=200)
>>> len(list(run.events)), sorted({incident["type"] for incident in run.truth})
(18694, ['elevator_trap', 'heartbeat_loss', 'leak_burst', 'waterlogging'])
"""
from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from engine.simulation.city import City, Device, build_city
from engine.simulation.incidents import SILENT, Incident, plan_incidents
from engine.simulation.signals import normal_reading
from engine.simulation.texts import BACKGROUND_CATEGORIES, report_text

__all__ = ["simulate", "Simulation", "DEFAULT_START_MS"]

DEFAULT_START_MS = 1_782_835_200_000          # 2026-07-01T00:00:00+08:00
_LOCAL = timezone(timedelta(hours=8))
_HOUR = 3_600_000
_REPORTS_PER_GRID_HOUR = 0.4
_DELAYED_SHARE = 0.005        # delivered up to 90 s late: within the default lateness
_VERY_LATE_SHARE = 0.0002     # delivered 5 to 15 minutes late: beyond it


@dataclass
class Simulation:
    events: Iterator[dict]
    truth: list[dict]
    city: City


def simulate(*, seed: int = 1, duration_ms: int = 6 * _HOUR, devices: int = 500,
             start_ms: int = DEFAULT_START_MS, intensity: float = 1.0,
             quiet_ms: int = _HOUR) -> Simulation:
    rng = random.Random(seed)
    city = build_city(rng, devices)
    incidents = plan_incidents(rng, city, start_ms, duration_ms, intensity, quiet_ms)
    truth = [incident.truth(number, _iso) for number, incident in enumerate(incidents, 1)]
    stream = _Stream(random.Random(seed + 1), city, incidents, start_ms, start_ms + duration_ms)
    return Simulation(stream.events(), truth, city)


_iso_cache: dict[int, str] = {}


def _iso(ms: int) -> str:
    second, millis = divmod(ms, 1000)
    text = _iso_cache.get(second)
    if text is None:
        if len(_iso_cache) > 100_000:
            _iso_cache.clear()
        text = _iso_cache[second] = datetime.fromtimestamp(second, _LOCAL).isoformat()
    if millis:
        return f"{text[:-6]}.{millis:03d}{text[-6:]}"
    return text


class _Stream:
    def __init__(self, rng: random.Random, city: City, incidents: list[Incident], start: int,
                 end: int) -> None:
        self.rng, self.city, self.start, self.end = rng, city, start, end
        self.overrides: dict[int, list] = {}
        for incident in incidents:
            for index, override in incident.overrides.items():
                self.overrides.setdefault(index, []).append(override)
        self.incidents = incidents
        self.count = 0

    def events(self) -> Iterator[dict]:
        rng = self.rng
        queue: list[tuple[int, int, object]] = []
        order = 0
        for device in self.city.devices:
            order += 1
            first = self.start + int(device.phase * device.interval_s) * 1000
            queue.append((first, order, device))
        for incident in self.incidents:
            for t, device, value, attrs in incident.readings:
                order += 1
                queue.append((t, order, ("reading", device, value, attrs)))
            for t, category, location, building in incident.reports:
                order += 1
                queue.append((t, order, ("report", category, location, building)))
        for t, category, location, building in self._background_reports():
            order += 1
            queue.append((t, order, ("report", category, location, building)))
        heapq.heapify(queue)
        delayed: list[tuple[int, int, dict]] = []
        while queue:
            t, _, item = heapq.heappop(queue)
            if t >= self.end:
                break
            while delayed and delayed[0][0] <= t:
                yield heapq.heappop(delayed)[2]
            if isinstance(item, Device):
                order += 1
                jitter = rng.randint(-2, 2) * 1000   # gateways stamp whole seconds
                heapq.heappush(queue, (t + item.interval_s * 1000 + jitter, order, item))
                event = self._reading(item, t)
            elif item[0] == "reading":
                event = self._make_reading(item[1], t, item[2], item[3])
            else:
                event = self._report(t, item[1], item[2], item[3])
            if event is None:
                continue
            draw = rng.random()
            if draw < _VERY_LATE_SHARE:
                order += 1
                heapq.heappush(delayed, (t + rng.randint(300, 900) * 1000, order, event))
            elif draw < _DELAYED_SHARE:
                order += 1
                heapq.heappush(delayed, (t + rng.randint(5, 90) * 1000, order, event))
            else:
                yield event
        while delayed:
            yield heapq.heappop(delayed)[2]

    def _reading(self, device: Device, t: int) -> dict | None:
        for since, until, value_at, attrs in self.overrides.get(device.index, ()):
            if since <= t < until:
                value = value_at(t)
                if value is SILENT:
                    return None
                return self._make_reading(device, t, value, attrs)
        hour = ((t - self.start) / _HOUR) % 24
        value, attrs = normal_reading(device, hour, self.rng)
        return self._make_reading(device, t, value, attrs)

    def _make_reading(self, device: Device, t: int, value: float, attrs: dict | None) -> dict:
        self.count += 1
        return {"kind": "reading", "id": f"e{self.count:09d}",
                "ts": t if device.epoch_ms else _iso(t),
                "source": f"gw-{device.location['grid'][:2].lower()}",
                "device_id": device.device_id, "type": device.type, "value": value,
                "unit": device.unit, "location": device.location,
                "attrs": dict(device.attrs, **attrs) if attrs else device.attrs}

    def _report(self, t: int, category: str, location: dict, building: str) -> dict:
        self.count += 1
        rng = self.rng
        return {"kind": "report", "id": f"e{self.count:09d}", "ts": _iso(t),
                "source": "hotline-12345",
                "channel": rng.choice(["hotline", "hotline", "app", "grid_worker"]),
                "text": report_text(category, building, rng), "category": category,
                "location": location,
                "reporter": {"phone": f"1{rng.randint(3, 9)}{rng.randint(0, 999_999_999):09d}"}}

    def _background_reports(self) -> Iterator[tuple[int, str, dict, str]]:
        rng = random.Random(self.rng.random())
        categories = [name for name, weight in BACKGROUND_CATEGORIES for _ in range(weight)]
        per_ms = _REPORTS_PER_GRID_HOUR / _HOUR
        by_grid: dict[str, list] = {}
        for building in self.city.buildings:
            by_grid.setdefault(building.location["grid"], []).append(building)
        for _, buildings in sorted(by_grid.items()):
            t = self.start
            while True:
                t += int(rng.expovariate(per_ms))
                if t >= self.end:
                    break
                building = rng.choice(buildings)
                yield t, rng.choice(categories), building.location, building.name
