"""Incidents injected into the simulated city, each one written to the truth file.

An incident changes what some devices report (an override of their value, or silence), adds
readings of its own (a smoke detector alarms at once, not at its next heartbeat) and makes
residents report it. Its truth record says what happened, where and when, so a replay can be
scored: did an alert of the right category, at the right place, follow the incident's start?
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.simulation.city import Building, City, Device

__all__ = ["Incident", "plan_incidents", "SILENT", "INCIDENT_CATEGORIES"]

SILENT = None
MINUTE = 60_000
HOUR = 3_600_000

# incident type -> the alert category (`labels.category` of the rules) that catches it
INCIDENT_CATEGORIES = {
    "waterlogging": "waterlogging", "fire": "fire", "gas": "gas", "elevator_trap": "elevator",
    "elderly_no_water": "welfare", "leak_burst": "water_leak", "heartbeat_loss": "device_offline",
}


@dataclass
class Incident:
    type: str
    start: int
    end: int
    location: dict
    key: str
    devices: list[Device]
    # device index -> (from, until, value at t (None: silent), attrs or None)
    overrides: dict[int, tuple[int, int, Callable[[int], float | None], dict | None]] = \
        field(default_factory=dict)
    readings: list[tuple[int, Device, float, dict | None]] = field(default_factory=list)
    reports: list[tuple[int, str, dict, str]] = field(default_factory=list)  # t, category, loc, b

    def truth(self, number: int, format_time: Callable[[int], str]) -> dict:
        return {"id": f"inc-{number:04d}", "type": self.type,
                "category": INCIDENT_CATEGORIES[self.type], "start": format_time(self.start),
                "end": format_time(self.end), "key": self.key, "location": self.location,
                "devices": [device.device_id for device in self.devices]}


def plan_incidents(rng: random.Random, city: City, start: int, duration: int,
                   intensity: float = 1.0, quiet_ms: int = HOUR) -> list[Incident]:
    """A deterministic set of incidents scaled to the city's size, the simulated duration and
    `intensity` (how many times the usual rate: the demo's city is a busy one); none in the
    first `quiet_ms`, while the models learn the city."""
    days = duration / (24 * HOUR) * intensity
    scale = max(1.0, len(city.devices) / 500)
    used: set[int] = set()
    incidents: list[Incident] = []

    def count(per_day_per_500: float) -> int:
        expected = per_day_per_500 * days * scale
        return int(expected) + (1 if rng.random() < expected - int(expected) else 0)

    def when(tail: int) -> int | None:
        latest = start + duration - tail
        earliest = start + quiet_ms
        return rng.randint(earliest, latest) if latest > earliest else None

    def pick(devices: list[Device]) -> Device | None:
        free = [device for device in devices if device.index not in used]
        if not free:
            return None
        device = rng.choice(free)
        used.add(device.index)
        return device

    def of_type(kind: str) -> list[Device]:
        return [device for device in city.devices if device.type == kind]

    planners: list[tuple[str, float, int, Callable]] = [
        ("waterlogging", 3, 3 * HOUR, lambda t: _waterlogging(rng, t, pick(city.roads and [
            d for d in city.roads if d.type == "water_level"]))),
        ("fire", 2, HOUR, lambda t: _fire(rng, t, _building_with(rng, city, ("smoke",
                                                                           "temperature"), used))),
        ("gas", 2, 2 * HOUR, lambda t: _gas(rng, t, pick(of_type("gas")))),
        ("elevator_trap", 3, HOUR, lambda t: _elevator(rng, t, pick(of_type("elevator")))),
        ("elderly_no_water", 2, 25 * HOUR, lambda t: _no_water(rng, t, start + duration,
                                                                 pick(of_type("water_meter")))),
        ("leak_burst", 3, 2 * HOUR, lambda t: _leak_burst(rng, t, rng.choice(city.buildings))),
        ("heartbeat_loss", 3, 4 * HOUR, lambda t: _heartbeat_loss(rng, t, pick(
            [d for d in city.devices if d.interval_s <= 300 and d.type != "smoke"]))),
    ]
    for _, rate, tail, plan in planners:
        for _ in range(count(rate)):
            moment = when(tail)
            if moment is None:
                break
            incident = plan(moment)
            if incident is not None:
                incidents.append(incident)
    incidents.sort(key=lambda incident: (incident.start, incident.type))
    return incidents


def _building_with(rng: random.Random, city: City, kinds: tuple[str, ...],
                   used: set[int]) -> tuple[Building, list[Device]] | None:
    candidates = [b for b in city.buildings
                  if all(any(d.type == k and d.index not in used for d in b.devices)
                         for k in kinds)]
    if not candidates:
        return None
    building = rng.choice(candidates)
    devices = [next(d for d in building.devices if d.type == k and d.index not in used)
               for k in kinds]
    used.update(device.index for device in devices)
    return building, devices


def _ramp(t: int, start: int, rise: int, hold: int, fall: int, peak: float) -> float:
    """A trapezoid: 0 → peak over `rise`, `hold` at peak, back to 0 over `fall`."""
    elapsed = t - start
    if elapsed < 0:
        return 0.0
    if elapsed < rise:
        return peak * elapsed / rise
    if elapsed < rise + hold:
        return peak
    if elapsed < rise + hold + fall:
        return peak * (1 - (elapsed - rise - hold) / fall)
    return 0.0


def _waterlogging(rng: random.Random, start: int, device: Device | None) -> Incident | None:
    if device is None:
        return None
    peak = 0.2 + rng.random() * 0.45
    rise, hold, fall = 10 * MINUTE, rng.randint(20, 60) * MINUTE, 20 * MINUTE
    end = start + rise + hold + fall

    def level(t: int) -> float:
        return round(0.02 + _ramp(t, start, rise, hold, fall, peak) + rng.gauss(0, 0.005), 3)

    incident = Incident("waterlogging", start, end, device.location, device.device_id, [device])
    incident.overrides[device.index] = (start, end, level, None)
    for _ in range(rng.randint(1, 2)):
        incident.reports.append((start + rng.randint(12, 40) * MINUTE, "waterlogging",
                                 device.location, device.location["building"]))
    return incident


def _fire(rng: random.Random, start: int,
          found: tuple[Building, list[Device]] | None) -> Incident | None:
    if found is None:
        return None
    building, (smoke, thermometer) = found
    end = start + 40 * MINUTE
    base = 22.0
    heat_starts = start + rng.randint(20, 90) * 1000
    heat = 15 + rng.random() * 30

    def temperature(t: int) -> float:
        return round(base + _ramp(t, heat_starts, 3 * MINUTE, 30 * MINUTE, 5 * MINUTE, heat), 2)

    incident = Incident("fire", start, end, building.location, building.name, [smoke, thermometer])
    incident.overrides[smoke.index] = (start, end, lambda t: round(3 + rng.random() * 5, 2), None)
    incident.overrides[thermometer.index] = (start, end, temperature, None)
    incident.readings.append((start + rng.randint(0, 20) * 1000, smoke, 4.0, None))
    for second in range(30, 12 * 60, 30):   # alarm mode: the sensor reports every 30 s
        incident.readings.append((start + second * 1000, thermometer,
                                  temperature(start + second * 1000), None))
    for _ in range(rng.randint(1, 3)):
        incident.reports.append((start + rng.randint(2, 10) * MINUTE, "fire", building.location,
                                 building.name))
    return incident


def _gas(rng: random.Random, start: int, device: Device | None) -> Incident | None:
    if device is None:
        return None
    leak_starts = start + rng.randint(5, 15) * MINUTE
    peak = 30 + rng.random() * 40
    end = leak_starts + 50 * MINUTE

    def concentration(t: int) -> float:
        return round(0.5 + _ramp(t, leak_starts, 10 * MINUTE, 30 * MINUTE, 10 * MINUTE, peak), 2)

    incident = Incident("gas", start, end, device.location, device.location["grid"], [device])
    incident.overrides[device.index] = (start, end, concentration, None)
    for minute in range(0, 50):
        t = leak_starts + minute * MINUTE
        incident.readings.append((t, device, concentration(t), None))
    for _ in range(rng.randint(1, 3)):
        incident.reports.append((start + rng.randint(0, 10) * MINUTE, "gas_smell",
                                 device.location, device.location["building"]))
    return incident


def _elevator(rng: random.Random, start: int, device: Device | None) -> Incident | None:
    if device is None:
        return None
    end = start + rng.randint(20, 40) * MINUTE
    trapped = {"state": "fault", "fault": "trapped"}
    incident = Incident("elevator_trap", start, end, device.location, device.device_id, [device])
    incident.overrides[device.index] = (start, end, lambda t: 2.0, trapped)
    incident.readings.append((start + rng.randint(0, 30) * 1000, device, 2.0, trapped))
    incident.reports.append((start + rng.randint(1, 5) * MINUTE, "elevator", device.location,
                             device.location["building"]))
    return incident


def _no_water(rng: random.Random, start: int, until: int,
              device: Device | None) -> Incident | None:
    if device is None:
        return None
    incident = Incident("elderly_no_water", start, until, device.location, device.device_id,
                        [device])
    incident.overrides[device.index] = (start, until, lambda t: 0.0, None)
    return incident


def _leak_burst(rng: random.Random, start: int, building: Building) -> Incident:
    incident = Incident("leak_burst", start, start + HOUR, building.location, building.name, [])
    moments = sorted(rng.randint(0, 50) * MINUTE for _ in range(rng.randint(3, 5)))
    for offset in moments:
        incident.reports.append((start + offset, "water_leak", building.location, building.name))
    incident.end = start + moments[-1] + HOUR
    return incident


def _heartbeat_loss(rng: random.Random, start: int, device: Device | None) -> Incident | None:
    if device is None:
        return None
    end = start + rng.randint(60, 180) * MINUTE
    incident = Incident("heartbeat_loss", start, end, device.location, device.device_id, [device])
    incident.overrides[device.index] = (start, end, lambda t: SILENT, None)
    return incident
