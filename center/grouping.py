"""Incidents: alerts of one group (the duty list's `grouping.by` fields) whose episodes start
within `window` of each other are one incident, worked as one.

>>> first = opened({"id": "a1", "severity": "yellow", "labels": {"category": "water_leak"},
...                 "location": {"building": "B7"}}, "water_leak\\x1fB7", starts_at=0, now=5)
>>> joinable(first, 600_000, window=1_800_000), joinable(first, 3_600_000, window=1_800_000)
(True, False)
>>> grown = joined(first, {"severity": "red"}, starts_at=600_000)
>>> grown["alert_count"], grown["severity"], grown["last_starts_at"]
(2, 'red', 600000)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.lifecycle import Level

__all__ = ["joinable", "opened", "joined"]


def joinable(incident: Mapping[str, Any], starts_at: int, *, window: int) -> bool:
    """Whether an alert starting at `starts_at` joins the incident."""
    return (incident["last_starts_at"] >= starts_at - window
            and incident["first_starts_at"] <= starts_at + window)


def opened(record: Mapping[str, Any], key: str, *, starts_at: int, now: int) -> dict[str, Any]:
    """The incident a record opens when it joins none."""
    return {"id": f"inc-{record['id']}", "group_key": key,
            "category": (record.get("labels") or {}).get("category"),
            "building": (record.get("location") or {}).get("building"),
            "severity": record["severity"], "opened_at": now,
            "first_starts_at": starts_at, "last_starts_at": starts_at, "alert_count": 1}


def joined(incident: Mapping[str, Any], record: Mapping[str, Any], *,
           starts_at: int) -> dict[str, Any]:
    """The incident with one more alert: the worst severity, the latest start."""
    return {**incident, "alert_count": incident.get("alert_count", 0) + 1,
            "severity": max(incident["severity"], record["severity"], key=Level.__getitem__),
            "last_starts_at": max(incident["last_starts_at"], starts_at)}
