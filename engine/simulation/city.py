"""A deterministic city: districts, streets, communities, grids, buildings and their devices."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Device", "Building", "City", "build_city", "DEVICE_TYPES"]

_DISTRICTS = [("渝中区", "YZ"), ("江北区", "JB"), ("南岸区", "NA"), ("九龙坡区", "JL"),
              ("沙坪坝区", "SP"), ("渝北区", "YB")]
_STREET_NAMES = ["解放碑", "朝天门", "大溪沟", "上清寺", "化龙桥", "石油路", "观音桥", "五里店",
                 "南坪", "铜元局", "杨家坪", "谢家湾", "小龙坎", "天星桥", "龙溪", "回兴"]
_COMMUNITY_NAMES = ["较场口", "七星岗", "枇杷山", "和平路", "民生路", "新华路", "望龙门", "白象街",
                    "储奇门", "人和街", "中华路", "大井巷", "嘉陵桥", "建新", "滨江", "花园"]

# type: (unit, seconds between readings, share of devices where it applies)
DEVICE_TYPES = {
    "water_level": ("m", 60), "smoke": ("obs%/m", 300), "temperature": ("°C", 300),
    "gas": ("%LEL", 300), "elevator": ("code", 300), "manhole_tilt": ("°", 900),
    "structure_tilt": ("mm/m", 900), "water_meter": ("L", 3600), "power_meter": ("kWh", 3600),
    "noise": ("dB", 300), "air_quality": ("µg/m³", 300),
}
_EPOCH_MS_SHARE = 0.3   # part of the gateways that send epoch milliseconds instead of ISO 8601


@dataclass
class Device:
    index: int
    device_id: str
    type: str
    unit: str
    interval_s: int
    location: dict
    attrs: dict
    epoch_ms: bool
    phase: float           # where in its daily rhythm this device sits, and its jitter seed
    base: float


@dataclass
class Building:
    name: str
    location: dict
    devices: list[Device] = field(default_factory=list)


@dataclass
class City:
    devices: list[Device]
    buildings: list[Building]
    grids: list[dict]
    roads: list[Device]


def build_city(rng: random.Random, device_count: int) -> City:
    """About four devices a building, ten buildings a grid, plus road and grid-level sensors."""
    building_count = max(4, device_count // 5)
    grid_count = max(2, building_count // 10)
    grids = []
    for number in range(grid_count):
        district, code = _DISTRICTS[number % len(_DISTRICTS)]
        street_no = (number // len(_DISTRICTS)) % 8 + 1
        street = _STREET_NAMES[(number * 7 + street_no) % len(_STREET_NAMES)] + "街道"
        community = _COMMUNITY_NAMES[(number * 5 + 3) % len(_COMMUNITY_NAMES)] + "社区"
        grids.append({"district": district, "street": street, "community": community,
                      "grid": f"{code}-{street_no:02d}-{number // 48 + 1:02d}{number % 48:02d}"})
    buildings = []
    for number in range(building_count):
        grid = grids[number % grid_count]
        lat = 29.55 + rng.random() * 0.1
        lon = 106.45 + rng.random() * 0.15
        location = dict(grid, building=f"B{number + 1:04d}", lat=round(lat, 5), lon=round(lon, 5))
        buildings.append(Building(f"B{number + 1:04d}", location))
    devices: list[Device] = []
    roads: list[Device] = []

    def add(kind: str, location: dict, attrs: dict | None = None) -> Device:
        unit, interval = DEVICE_TYPES[kind]
        device = Device(len(devices), f"{kind[:2]}-{len(devices) + 1:06d}", kind, unit, interval,
                        location, attrs or {}, rng.random() < _EPOCH_MS_SHARE, rng.random(),
                        rng.random())
        devices.append(device)
        return device

    # Every building has a smoke detector and a temperature sensor; the rest by share.
    for building in buildings:
        for kind in ("smoke", "temperature"):
            building.devices.append(add(kind, building.location))
    extras = [("gas", 0.5), ("elevator", 0.6), ("structure_tilt", 0.15), ("water_meter", 0.2)]
    for building in buildings:
        if len(devices) >= device_count:
            break
        for kind, share in extras:
            if rng.random() < share:
                attrs = {}
                if kind == "gas":
                    attrs = {"alarm_limit": 25}
                elif kind == "water_meter":
                    attrs = {"profile": "elderly_alone", "resident": f"R{building.name}"}
                device = add(kind, building.location, attrs)
                building.devices.append(device)
                if kind == "water_meter":
                    building.devices.append(add("power_meter", building.location, dict(attrs)))
    # Road and grid-level sensors fill the rest of the budget.
    road_kinds = ["water_level", "water_level", "manhole_tilt", "noise", "air_quality"]
    number = 0
    while len(devices) < device_count:
        grid = grids[number % grid_count]
        kind = road_kinds[number % len(road_kinds)]
        location = dict(grid, building=f"ROAD-{number + 1:04d}")
        device = add(kind, location, {"site": "underpass" if number % 3 == 0 else "road"}
                     if kind == "water_level" else {})
        if kind in ("water_level", "manhole_tilt"):
            roads.append(device)
        number += 1
    return City(devices, buildings, grids, roads)
