"""Reports out of the ledger that leave it intact: alerts with their chain as rows of a
spreadsheet, and a summary per department and category for the monthly report.

An alert's history is the ledger's `alert_events`; a row takes from it when each chain step was
first taken and the reply sent to residents. Residents' contacts are in no row.

>>> opened = 1_782_864_000_000
>>> alert = {"id": "a1", "rule": "waterlogging.level.high", "severity": "red", "chain": "closed",
...          "condition": "resolved", "category": "waterlogging", "district": "渝中区",
...          "street": None, "community": None, "grid": "G1", "building": "B1",
...          "department": "市排水管理处", "handler": "李工", "incident_id": None,
...          "starts_at": opened, "opened_at": opened, "escalated": "acknowledge",
...          "verdict": "true_positive", "satisfaction": 4, "corrected_category": None,
...          "view": '{"title": {"zh": "道路积水超限"}, "summary": {"zh": "B1积水0.52米"}}'}
>>> steps = [("acknowledge", opened + 6 * 60_000, {}), ("close", opened + 90 * 60_000, {}),
...          ("reply", opened + 80 * 60_000, {"message": "已疏通"})]
>>> row = export_row(alert, steps, "Asia/Shanghai")
>>> row["acknowledged_at"], row["minutes_to_acknowledge"], row["sla_missed"], row["reply"]
('2026-07-01T08:06:00+08:00', 6.0, 'acknowledge', '已疏通')
>>> [(group["department"], group["alerts"], group["median_minutes_to_close"])
...  for group in summarise([row])["groups"]]
[('市排水管理处', 1, 90.0)]
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from statistics import mean, median
from typing import Any

import orjson

from center.sla import steps as missed_steps
from engine.events import AREA_LEVELS
from engine.timestamps import format_local

__all__ = ["EXPORT_COLUMNS", "STEP_COLUMNS", "export_row", "csv_chunks", "summarise"]

# Chain step -> the column of the instant it was first taken.
STEP_COLUMNS = {"acknowledge": "acknowledged_at", "dispatch": "dispatched_at",
                "resolve": "resolved_at", "reply": "replied_at", "close": "closed_at",
                "false_positive": "false_positive_at"}
EXPORT_COLUMNS = (
    "id", "rule", "title", "summary", "severity", "category", "state", "condition",
    "district", "street", "community", "grid", "building", "department", "handler",
    "incident_id", "starts_at", "opened_at", *STEP_COLUMNS.values(), "minutes_to_acknowledge",
    "minutes_to_close", "sla_missed", "verdict", "satisfaction", "corrected_category", "reply")
_MINUTE = 60_000


def export_row(alert: Mapping[str, Any], history: Iterable[tuple[str, int, Mapping[str, Any]]],
               timezone: str) -> dict[str, Any]:
    """One alert as a row of `EXPORT_COLUMNS`, from its ledger row and its history of
    (kind, instant in ms, data); times in the city's zone, texts in Chinese where given."""
    view = orjson.loads(alert["view"])
    first: dict[str, int] = {}
    reply = None
    for kind, at, data in sorted(history, key=lambda step: step[1]):
        if kind in STEP_COLUMNS:
            first.setdefault(kind, at)
        if kind == "reply":
            reply = data.get("message")
    ended = first.get("close", first.get("false_positive"))
    opened = alert["opened_at"]
    return {
        "id": alert["id"], "rule": alert["rule"], "title": _text(view.get("title")),
        "summary": _text(view.get("summary")), "severity": alert["severity"],
        "category": alert["category"], "state": alert["chain"], "condition": alert["condition"],
        **{level: alert[level] for level in AREA_LEVELS},
        "department": alert["department"], "handler": alert["handler"],
        "incident_id": alert["incident_id"],
        "starts_at": format_local(alert["starts_at"], timezone),
        "opened_at": format_local(opened, timezone),
        **{column: format_local(first[kind], timezone) if kind in first else None
           for kind, column in STEP_COLUMNS.items()},
        "minutes_to_acknowledge": _minutes(first.get("acknowledge"), opened),
        "minutes_to_close": _minutes(ended, opened),
        "sla_missed": ";".join(missed_steps(alert["escalated"])),
        "verdict": alert["verdict"], "satisfaction": alert["satisfaction"],
        "corrected_category": alert["corrected_category"], "reply": reply,
    }


def csv_chunks(batches: Iterable[Sequence[Mapping[str, Any]]]) -> Iterator[bytes]:
    """CSV of export rows, UTF-8 with a byte-order mark (spreadsheet programs then read the
    Chinese texts as such), the header first; one chunk per batch."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    yield b"\xef\xbb\xbf" + _drain(buffer)
    for batch in batches:
        writer.writerows(batch)
        yield _drain(buffer)


def summarise(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per department and category (largest groups first) and over all rows: how many alerts,
    how fast they were acknowledged and closed (medians, minutes), how many missed a deadline
    or were false positives, and what residents said (mean satisfaction of those who
    answered)."""
    rows = list(rows)
    groups: dict[tuple[str | None, str | None], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["department"], row["category"]), []).append(row)
    summary = [{"department": department, "category": category, **_figures(members)}
               for (department, category), members in groups.items()]
    summary.sort(key=lambda group: (-group["alerts"], group["department"] or "",
                                    group["category"] or ""))
    return {"groups": summary, "total": _figures(rows)}


def _figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    acknowledge = [row["minutes_to_acknowledge"] for row in rows
                   if row["minutes_to_acknowledge"] is not None]
    close = [row["minutes_to_close"] for row in rows if row["minutes_to_close"] is not None]
    scores = [row["satisfaction"] for row in rows if row["satisfaction"] is not None]
    return {
        "alerts": len(rows), "acknowledged": len(acknowledge),
        "median_minutes_to_acknowledge": median(acknowledge) if acknowledge else None,
        "closed": len(close), "median_minutes_to_close": median(close) if close else None,
        "sla_missed": sum(1 for row in rows if row["sla_missed"]),
        "false_positives": sum(1 for row in rows if row["state"] == "false_positive"),
        "satisfaction_answers": len(scores),
        "mean_satisfaction": round(mean(scores), 2) if scores else None,
    }


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("zh") or value.get("en")
    return value


def _minutes(at: int | None, since: int) -> float | None:
    return None if at is None else round((at - since) / _MINUTE, 1)


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()
