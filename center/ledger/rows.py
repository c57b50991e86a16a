"""The ledger's rows: the columns of its tables, the writes of a transaction held back and sent
as multi-row statements, and the views the API shows of a row."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from center.sla import due_step, steps
from center.store import Cursor
from engine.chain import State
from engine.events import AREA_LEVELS, format_timestamp
from engine.matchers import field_of, matches

__all__ = ["ALERT_COLUMNS", "LISTED_COLUMNS", "INCIDENT_COLUMNS", "NOTICE_COLUMNS",
           "ROWS_PER_STATEMENT", "COLUMN_OF_PATH", "Writes", "insert_rows", "update_alert",
           "row_matches", "view_of", "summary", "incident_view"]

ROWS_PER_STATEMENT = 1000    # SQLite takes at most 32,766 parameters in a statement

ALERT_COLUMNS = ("id", "rule", "alert_key", "severity", "condition", "chain", "category",
                 "district", "street", "community", "grid", "building", "starts_at",
                 "condition_at", "opened_at", "updated_at", "department", "escalate_to",
                 "handler", "incident_id", "inhibited", "notified", "escalated", "next_due",
                 "remind_at", "verdict", "satisfaction", "corrected_category", "view", "body")
# A list needs neither the evidence nor the rest of the record: `view` has what it shows.
LISTED_COLUMNS = ", ".join(column for column in ALERT_COLUMNS if column != "body")
INCIDENT_COLUMNS = ("id", "group_key", "category", "building", "severity", "opened_at",
                    "first_starts_at", "last_starts_at", "alert_count")
NOTICE_COLUMNS = ("target", "alert_id", "kind", "payload", "next_attempt_at", "created_at")


class Writes:
    """The writes of one transaction, held back and sent as multi-row statements by `flush`
    (anything that reads alerts back flushes first)."""

    def __init__(self, tx: Cursor) -> None:
        self.tx = tx
        self.new_alerts: dict[str, dict] = {}
        self.alert_changes: dict[str, dict] = {}
        self.incidents: dict[str, dict] = {}          # group key -> latest incident seen
        self.candidates: dict[str, list[dict]] = {}   # group key -> stored incidents
        self.new_incidents: dict[str, dict] = {}
        self.incident_growth: dict[str, tuple[int, str, int]] = {}  # added, severity, last
        self.notices: list[tuple] = []

    def firing_where(self, wanted: Mapping[str, Any]) -> list[dict]:
        """Firing alerts whose fields equal `wanted`, as they stand with the writes held back:
        the database's (narrowed by column where a path is one) and this batch's new ones."""
        clauses, params, rest = ["condition = 'firing'"], [], {}
        for path, value in wanted.items():
            column = COLUMN_OF_PATH.get(path)
            if column is None:
                rest[path] = value
            elif value is None:
                clauses.append(f"{column} IS NULL")
            else:
                clauses.append(f"{column} = ?")
                params.append(value)
        found = []
        for row in self.tx.execute(f"SELECT id, inhibited, body FROM alerts "
                                   f"WHERE {' AND '.join(clauses)}", params).fetchall():
            row = {**row, **self.alert_changes.get(row["id"], {})}
            if row.get("condition", "firing") == "firing":
                found.append({"id": row["id"], "inhibited": row["inhibited"],
                              "record": orjson.loads(row["body"])})
        found = [row for row in found if not rest or matches(row["record"], rest)]
        found += [{"id": row["id"], "inhibited": row["inhibited"],
                   "record": orjson.loads(row["body"])}
                  for row in self.new_alerts.values() if row["condition"] == "firing"
                  and row_matches(row, wanted)]
        return found

    def preload_incidents(self, keys: set[str], earliest: int, latest: int) -> None:
        """The incidents that new alerts of this batch may join, read in one query."""
        if not keys:
            return
        ordered = sorted(keys)
        rows = self.tx.execute(
            "SELECT id, group_key, severity, first_starts_at, last_starts_at FROM incidents "
            f"WHERE group_key IN ({', '.join('?' * len(ordered))}) AND last_starts_at >= ? "
            "AND first_starts_at <= ? ORDER BY last_starts_at DESC", [*ordered, earliest, latest]
        ).fetchall()
        for row in rows:
            self.candidates.setdefault(row["group_key"], []).append(row)

    def update_alert(self, alert_id: str, changes: Mapping[str, Any]) -> None:
        if alert_id in self.new_alerts:
            self.new_alerts[alert_id].update(changes)
        else:
            self.alert_changes.setdefault(alert_id, {}).update(changes)

    def flush(self) -> None:
        insert_rows(self.tx, "alerts", ALERT_COLUMNS, list(self.new_alerts.values()))
        insert_rows(self.tx, "incidents", INCIDENT_COLUMNS, list(self.new_incidents.values()))
        insert_rows(self.tx, "notifications", NOTICE_COLUMNS,
                [dict(zip(NOTICE_COLUMNS, notice, strict=True)) for notice in self.notices])
        for alert_id, changes in self.alert_changes.items():
            update_alert(self.tx, alert_id, changes)
        for incident_id, (added, severity, last) in self.incident_growth.items():
            self.tx.execute("UPDATE incidents SET alert_count = alert_count + ?, severity = ?, "
                            "last_starts_at = ? WHERE id = ?",
                            (added, severity, last, incident_id))
        self.new_alerts, self.alert_changes, self.notices = {}, {}, []
        self.new_incidents, self.incident_growth = {}, {}


def insert_rows(tx: Cursor, table: str, columns: tuple[str, ...], rows: list[dict]) -> None:
    if rows:
        tx.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                       f"VALUES ({', '.join('?' * len(columns))})",
                       [[row[column] for column in columns] for row in rows])


def update_alert(tx: Cursor, alert_id: str, changes: Mapping[str, Any]) -> None:
    names = list(changes)
    tx.execute(f"UPDATE alerts SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?",
               [*(changes[name] for name in names), alert_id])


# Matcher paths that are columns of `alerts`, so a matcher narrows a query instead of a scan.
COLUMN_OF_PATH = {"rule": "rule", "severity": "severity", "key": "alert_key",
                  "labels.category": "category",
                  **{f"location.{level}": level for level in AREA_LEVELS}}


def row_matches(row: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """`matches` on an alerts row: columns where the path is one, the body otherwise."""
    record = None
    for path, value in wanted.items():
        column = COLUMN_OF_PATH.get(path)
        if column is not None:
            if row[column] != value:
                return False
            continue
        record = record or orjson.loads(row["body"])
        if field_of(record, path) != value:
            return False
    return True


def view_of(record: Mapping[str, Any]) -> str:
    return orjson.dumps({name: record.get(name) for name in ("title", "summary", "location")}
                        ).decode()


def summary(row: Mapping[str, Any]) -> dict:
    record = orjson.loads(row["view"])
    return {
        "id": row["id"], "rule": row["rule"], "key": row["alert_key"],
        "severity": row["severity"], "condition": row["condition"], "state": row["chain"],
        "title": record.get("title"), "summary": record.get("summary"),
        "category": row["category"], "location": record.get("location") or {},
        "starts_at": format_timestamp(row["starts_at"]),
        "condition_changed_at": format_timestamp(row["condition_at"]),
        "opened_at": format_timestamp(row["opened_at"]),
        "updated_at": format_timestamp(row["updated_at"]),
        "department": row["department"], "handler": row["handler"],
        "incident_id": row["incident_id"], "inhibited": bool(row["inhibited"]),
        "notified": row["notified"], "escalated": list(steps(row["escalated"])),
        "next_due": None if row["next_due"] is None else {
            "step": due_step(State(row["chain"]), steps(row["escalated"])),
            "at": format_timestamp(row["next_due"])},
    }


def incident_view(row: Mapping[str, Any]) -> dict:
    return {"id": row["id"], "category": row["category"], "building": row["building"],
            "severity": row["severity"], "alert_count": row["alert_count"],
            "opened_at": format_timestamp(row["opened_at"]),
            "first_starts_at": format_timestamp(row["first_starts_at"]),
            "last_starts_at": format_timestamp(row["last_starts_at"])}
