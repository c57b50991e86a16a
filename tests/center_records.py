"""Alert records as the workers publish them on `ewe.alerts`, for the center's tests."""
from __future__ import annotations

from pathlib import Path

from center.contacts import keep
from engine.duty import DutyList, load_duty_file
from engine.events import format_timestamp
from engine.identity import alert_id
from engine.privacy import Contact

T0 = 1_782_864_000_000          # 2026-07-01T00:00:00Z, the fixed epoch of the center tests
MINUTE = 60_000
SHIPPED_DUTY = Path(__file__).resolve().parent.parent / "rules" / "duty.yaml"


def shipped_duty() -> DutyList:
    return load_duty_file(SHIPPED_DUTY)


def alert_record(rule: str = "waterlogging.level.high", key: str = "wl-1", *,
                 change: str = "fired", starts_at: int = T0, at: int | None = None,
                 severity: str = "yellow", category: str = "waterlogging",
                 building: str = "B1", district: str = "江北区",
                 report: bool = False, place: dict | None = None) -> dict:
    """With `report`, the evidence names report t1 too (see `keep_contact`); `place` changes
    or adds location fields."""
    evidence = [{"id": "r1", "ts": format_timestamp(starts_at), "device_id": key,
                 "type": "water_level", "value": 0.3}]
    if report:
        evidence.append({"id": "t1", "ts": format_timestamp(starts_at), "category": category,
                         "text": "小区门口积水，请回电138****5678"})
    return {
        "id": alert_id(rule, key, starts_at), "rule": rule, "key": key, "severity": severity,
        "status": "resolved" if change == "resolved" else "firing", "change": change,
        "at": format_timestamp(starts_at if at is None else at),
        "starts_at": format_timestamp(starts_at),
        "labels": {"category": category}, "title": {"en": rule, "zh": rule},
        "summary": {"en": f"{rule} at {key}"},
        "location": {"district": district, "street": "S1", "community": "C1", "grid": "G1",
                     "building": building, **(place or {})},
        "evidence": evidence, "occurrences": 1,
    }


def keep_contact(store, reporter: dict, *, report_id: str = "t1") -> None:
    """What the ingest keeps of report t1: its reporter and original text."""
    keep(store, [Contact(report_id, reporter, f"小区门口积水，请回电{reporter['phone']}")], now=T0)
