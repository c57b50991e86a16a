"""Normal behaviour of each device type: daily rhythms, noise and rare harmless glitches."""
from __future__ import annotations

import math
import random

from engine.simulation.city import Device

__all__ = ["normal_reading"]


def normal_reading(device: Device, hour: float, rng: random.Random) -> tuple[float, dict | None]:
    """(value, attrs override or None) of a healthy device at a local hour of day in [0, 24)."""
    kind = device.type
    daylight = math.sin(math.pi * (hour - 6) / 12) if 6 <= hour <= 18 else 0.0
    if kind == "water_level":
        if rng.random() < 0.0005:       # splash or passing truck: one high reading, not a flood
            return round(0.15 + rng.random() * 0.2, 3), None
        return round(max(0.0, 0.02 + device.base * 0.02 + rng.gauss(0, 0.006)), 3), None
    if kind == "smoke":
        if rng.random() < 0.0002:       # cooking steam: a short false smoke signal
            return round(1.0 + rng.random(), 2), None
        return 0.0, None
    if kind == "temperature":
        swing = 3 * math.sin(2 * math.pi * (hour - 9) / 24)
        return round(21 + device.base * 4 + swing + rng.gauss(0, 0.3), 2), None
    if kind == "gas":
        return round(max(0.0, 0.5 + rng.gauss(0, 0.3)), 2), None
    if kind == "elevator":
        if rng.random() < 0.0005:
            return 1.0, {"state": "fault", "fault": "door"}
        return 0.0, {"state": "ok"}
    if kind == "manhole_tilt":
        return round(0.5 + device.base + rng.gauss(0, 0.1), 2), None
    if kind == "structure_tilt":
        return round(1.0 + device.base + rng.gauss(0, 0.05), 3), None
    if kind == "water_meter":
        return round(_household_use(hour, rng, night=0.0, peak=60.0), 1), None
    if kind == "power_meter":
        return round(0.05 + _household_use(hour, rng, night=0.0, peak=0.8), 3), None
    if kind == "noise":
        return round(44 + 18 * daylight + rng.gauss(0, 3), 1), None
    if kind == "air_quality":
        return round(max(3.0, 35 + 15 * math.sin(2 * math.pi * (hour - 8) / 24)
                         + rng.gauss(0, 5)), 1), None
    raise ValueError(f"unknown device type {kind!r}")


def _household_use(hour: float, rng: random.Random, *, night: float, peak: float) -> float:
    """Use in the past hour by a person living alone: mornings and evenings, little at night."""
    if hour < 6 or hour >= 23:
        return night if rng.random() < 0.9 else peak * 0.05
    if 6 <= hour < 9 or 18 <= hour < 21:
        return peak * (0.4 + 0.6 * rng.random())
    return peak * (0.05 + 0.25 * rng.random())
