"""A city's alerts as the workers publish them, and a ledger store to put them in, for the
center's benchmarks (bench/center, bench/board)."""
from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from center.store import open_store  # noqa: E402
from engine.events import format_timestamp  # noqa: E402
from engine.identity import alert_id  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
T0 = 1_782_864_000_000
RULES = [("waterlogging.level.high", "waterlogging"), ("fire.smoke.alarm", "fire"),
         ("gas.concentration.high", "gas"), ("gas.smell.report", "gas"),
         ("elevator.trapped", "elevator"), ("welfare.no-water", "welfare"),
         ("infrastructure.manhole.tilt", "manhole"), ("environment.noise.night", "noise")]
DISTRICTS = ["渝中区", "江北区", "南岸区", "沙坪坝区", "九龙坡区"]
SEVERITIES = ["blue", "yellow", "yellow", "orange", "red"]


def records(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        rule, category = rng.choice(RULES)
        starts_at = T0 + n * 1_000
        key = f"dev-{n}"
        district = rng.choice(DISTRICTS)
        building = f"{district}-B{rng.randrange(400)}"
        base = {
            "id": alert_id(rule, key, starts_at), "rule": rule, "key": key,
            "severity": rng.choice(SEVERITIES), "status": "firing", "change": "fired",
            "at": format_timestamp(starts_at), "starts_at": format_timestamp(starts_at),
            "labels": {"category": category}, "title": {"zh": rule, "en": rule},
            "summary": {"zh": f"{building} {rule}"},
            "location": {"district": district, "street": f"{district}-S{rng.randrange(20)}",
                         "community": f"C{rng.randrange(100)}", "grid": f"G{rng.randrange(900)}",
                         "building": building},
            "evidence": [{"id": f"e{n}", "ts": format_timestamp(starts_at), "device_id": key,
                          "type": "water_level", "value": 0.3}],
            "occurrences": 1}
        out.append(base)
        if n % 4 == 0:
            at = starts_at + 600_000
            out.append({**base, "status": "resolved", "change": "resolved",
                        "at": format_timestamp(at)})
    return out


def open_bench_store(kind: str):
    if kind == "sqlite":
        path = ROOT / "bench" / ".cache" / f"center-{uuid.uuid4().hex[:6]}.db"
        return open_store(f"sqlite://{path}"), lambda: [path.unlink(missing_ok=True)
                                                        for path in path.parent.glob(
                                                            path.name + "*")]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    store = open_store(POSTGRES, schema=schema, max_size=30)

    def drop() -> None:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return store, drop
